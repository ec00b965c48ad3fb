"""A job's last report carries the runner's own measure of the work (processing_time_ms)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from cradle_inference.job_io import Reporter
from cradle_inference.logs import JsonLog
from cradlepose.domain.enums import JobStatus
from cradlepose.domain.jobs import JobReport

pytestmark = pytest.mark.unit


class _Store:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, uri: str, data: bytes, content_type: str) -> None:
        self.objects[uri] = data

    def exists(self, uri: str) -> bool:
        return uri in self.objects


@pytest.mark.parametrize("state", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_the_final_report_says_how_long_the_work_took(
    monkeypatch: pytest.MonkeyPatch, state: JobStatus
) -> None:
    readings = [100.0]  # when the reporter is made (the spec was read); every later reading is 12.5 s on
    monkeypatch.setattr(
        "cradle_inference.job_io.time.monotonic", lambda: readings.pop() if readings else 112.5
    )
    store: Any = _Store()
    reporter = Reporter(store, job_id=7, kind="inference", status_uri="s3://r/status.json", cancel_uri="s3://r/c",
                        log=JsonLog(io.StringIO()))  # fmt: skip

    reporter.finish(state, error=None if state is not JobStatus.FAILED else "boom")

    report = JobReport.model_validate_json(store.objects["s3://r/status.json"])
    assert report.state is state
    assert report.processing_time_ms == 12_500
