"""Issue 18: refused attempts to change something leave an audit row, with who and from where,
including those answered before the body is parsed or a route matched (400, 404, 405, 413, 415)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration

IP = "198.51.100.23"
JSON = {"Content-Type": "application/json", "User-Agent": "refusal-probe/1"}

REFUSALS: list[tuple[str, str, dict[str, Any], int]] = [
    ("POST", "/batches", {"raw_body": "{not json", "headers": JSON}, 400),
    ("POST", "/batches", {"raw_body": b"\xff\xfe\x00", "headers": JSON}, 400),
    ("POST", "/no-such-thing/7", {"body": {}, "headers": JSON}, 404),
    ("DELETE", "/batches", {"headers": JSON}, 405),
    ("POST", "/batches", {"raw_body": "x" * (1024 * 1024 + 1), "headers": JSON}, 413),
    ("POST", "/batches", {"raw_body": "a=1", "headers": {**JSON, "Content-Type": "text/plain"}}, 415),
]


def _rows(engine: sa.Engine) -> list[sa.Row[Any]]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT user_id, status, http_status, host(ip_address) AS ip, user_agent, request_method,"
                    " api_endpoint FROM audit_logs ORDER BY id"
                )
            )
        )


@pytest.mark.parametrize(("method", "path", "sent", "status"), REFUSALS, ids=lambda v: str(v)[:24])
def test_a_refused_change_is_audited_even_when_refused_before_parsing(
    method: str,
    path: str,
    sent: dict[str, Any],
    status: int,
    api: ApiClient,
    admin: Persona,
    engine: sa.Engine,
) -> None:
    before = len(_rows(engine))
    response = api.call(method, path, admin, source_ip=IP, **sent)
    assert response.status == status, response.body
    rows = _rows(engine)[before:]
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row.user_id, row.status, row.http_status, row.ip, row.user_agent, row.request_method) == (
        admin.user_id, "FAILED", status, IP, "refusal-probe/1", method,
    )  # fmt: skip
    assert row.api_endpoint == path
