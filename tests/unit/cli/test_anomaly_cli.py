"""`cradle anomaly`: what it asks the API and what it shows, against a fake API over httpx."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from cradle_workstation.cli import anomaly, remote
from cradle_workstation.cli.client import CradleClient
from cradle_workstation.cli.main import app
from cradle_workstation.cli.profiles import Profile

pytestmark = pytest.mark.unit

BAND = {"label": "0–3 months", "status": "trained", "training_samples": 120, "threshold": 1.8,
        "validation_false_positive_rate": 0.04, "roc_auc": 0.96, "refusal": None}  # fmt: skip
SMALL = {"label": "6–12 months", "status": "refused", "training_samples": 8, "threshold": None,
         "validation_false_positive_rate": None, "roc_auc": None,
         "refusal": "the age band 6–12 months has only 8 verified typical poses"}  # fmt: skip


class FakeApi:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.polls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, body))
        path = request.url.path
        if request.method == "POST" and path == "/anomaly/training-jobs":
            return httpx.Response(201, json={"id": 7, "status": "QUEUED", "progress": 0})
        if path == "/anomaly/training-jobs/7":
            self.polls += 1
            if self.polls < 3:
                return httpx.Response(200, json={"id": 7, "status": "RUNNING", "progress": 0.3 * self.polls,
                                                 "progress_message": f"band {self.polls} of 2"})  # fmt: skip
            report = {"bands": [BAND, SMALL], "roc_auc": 0.96, "validation_false_positive_rate": 0.04}
            return httpx.Response(
                200, json={"id": 7, "status": "COMPLETED", "progress": 1.0, "report": report}
            )
        if path == "/anomaly/batch-analyses":
            return httpx.Response(200, json={"analysed": 5, "unchanged": 0, "anomalies": 1, "refused": [
                {"annotation_id": 9, "image_id": 9, "reason": SMALL["refusal"]}]})  # fmt: skip
        if path == "/anomaly/analyses":
            return httpx.Response(
                409, json={"title": "Conflict with the current state", "detail": SMALL["refusal"]}
            )
        return httpx.Response(404, json={"title": "Not found", "detail": path})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    """The real `remote.api` (its error reporting included), with a profile and a transport of our own."""
    server = FakeApi()
    # Wide consoles of our own: what another test did to the shared ones does not wrap these lines.
    monkeypatch.setattr(anomaly, "console", Console(width=200))
    monkeypatch.setattr(remote, "err_console", Console(stderr=True, width=200))
    profile = Profile("local", "http://api.test", None, "client", "us-east-1")
    monkeypatch.setattr(remote, "_store", lambda config_dir: SimpleNamespace(load=lambda name: profile))
    monkeypatch.setattr(
        remote,
        "CradleClient",
        lambda url, token: CradleClient(url, None, transport=httpx.MockTransport(server)),
    )
    return server


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_train_queues_a_job_follows_its_progress_and_shows_the_report(fake: FakeApi) -> None:
    result = invoke(
        "anomaly", "train", "--band", "0-3", "--band", "6-12", "--min-samples", "30", "--interval", "0"
    )
    assert result.exit_code == 0, result.output
    assert fake.requests[0] == (
        "POST",
        "/anomaly/training-jobs",
        {
            "config": {
                "bands": [{"age_min": 0, "age_max": 3}, {"age_min": 6, "age_max": 12}],
                "min_samples": 30,
            }
        },
    )
    assert fake.polls == 3
    assert "0–3 months" in result.output
    assert "refused" in result.output
    assert "not a diagnosis" in result.output


def test_analyse_a_batch_lists_refusals_and_a_refused_annotation_exits_1(fake: FakeApi) -> None:
    batch = invoke("anomaly", "analyse", "--batch", "3")
    assert batch.exit_code == 0, batch.output
    assert "5 analysed" in batch.output
    assert "annotation 9" in batch.output
    one = invoke("anomaly", "analyse", "--annotation", "9")
    assert one.exit_code == 1
    assert "only 8 verified typical poses" in one.output
