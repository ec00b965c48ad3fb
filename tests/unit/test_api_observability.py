"""The API handler is traced where tracing is on, and spared the tracer's dummy segments where
it is off (issue 21)."""

from __future__ import annotations

from typing import Any

import pytest

from api import observability

pytestmark = pytest.mark.unit


def _handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": event["body"]}


def test_a_disabled_tracer_leaves_the_handler_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observability.tracer, "disabled", True)
    assert observability.traced(_handler) is _handler


def test_an_enabled_tracer_captures_the_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observability.tracer, "disabled", False)
    captured: list[str] = []

    def capture_lambda_handler(**options: Any) -> Any:
        captured.append(f"capture_response={options['capture_response']}")
        return lambda handler: lambda event, context: {**handler(event, context), "traced": True}

    monkeypatch.setattr(observability.tracer, "capture_lambda_handler", capture_lambda_handler)
    traced = observability.traced(_handler)
    assert traced({"body": "x"}, None) == {"statusCode": 200, "body": "x", "traced": True}
    assert captured == ["capture_response=False"]  # responses hold PHI: never in a trace
