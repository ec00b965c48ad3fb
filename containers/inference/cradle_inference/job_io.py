"""What a training or inference job reads and writes by URI, and how it reports (cradlepose.domain.jobs).

A URI is `s3://bucket/key` or a local path. The reporter overwrites the job's status object
with a JobReport (throttled, except for the final one), keeps the last lines of the job's log,
and looks for the cancel marker now and then.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cradle_inference.logs import JsonLog
from cradle_inference.store import split_s3_url
from cradlepose.domain.enums import JobStatus
from cradlepose.domain.jobs import LOG_TAIL_LINES, InferenceOutcome, JobReport, TrainingOutcome

REPORT_EVERY_S = 5.0
CANCEL_CHECK_EVERY_S = 5.0


class JobCancelled(Exception):
    """The job found its cancel marker and stopped."""


def _default_s3() -> Any:
    import boto3  # noqa: PLC0415 - local URIs need no AWS library; boto3 reads AWS_ENDPOINT_URL_S3 itself

    return boto3.client("s3")


class UriStore:
    def __init__(self, s3_factory: Callable[[], Any] | None = None) -> None:
        self._s3_factory = s3_factory or _default_s3
        self._s3: Any = None

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = self._s3_factory()
        return self._s3

    def get(self, uri: str) -> bytes:
        if uri.startswith("s3://"):
            bucket, key = split_s3_url(uri)
            body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            return body
        return Path(uri).read_bytes()

    def put(self, uri: str, data: bytes, content_type: str) -> None:
        if uri.startswith("s3://"):
            bucket, key = split_s3_url(uri)
            self.s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
            return
        path = Path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.part")
        partial.write_bytes(data)
        partial.replace(path)  # a reader never sees half a report

    def exists(self, uri: str) -> bool:
        if uri.startswith("s3://"):
            bucket, key = split_s3_url(uri)
            try:
                self.s3.head_object(Bucket=bucket, Key=key)
            except self.s3.exceptions.ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
            return True
        return Path(uri).exists()

    def download(self, uri: str, target: Path) -> None:
        if uri.startswith("s3://"):
            bucket, key = split_s3_url(uri)
            self.s3.download_file(bucket, key, str(target))  # multipart, streamed to disk
        else:
            shutil.copyfile(uri, target)

    def upload(self, source: Path, uri: str) -> None:
        if uri.startswith("s3://"):
            bucket, key = split_s3_url(uri)
            self.s3.upload_file(str(source), bucket, key)
        else:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, uri)


class Reporter:
    def __init__(
        self,
        store: UriStore,
        *,
        job_id: int,
        kind: str,
        status_uri: str,
        cancel_uri: str,
        log: JsonLog | None = None,
    ) -> None:
        self._store = store
        self._job_id, self._kind = job_id, kind
        self._status_uri, self._cancel_uri = status_uri, cancel_uri
        self._log = log or JsonLog(job_id=job_id, kind=kind)
        self._lines: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self._progress = 0.0
        self._last_report = 0.0
        self._last_cancel_check = 0.0
        self._started = time.monotonic()  # the job's work starts once its spec is read

    def line(self, text: str) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
        self._lines.append(f"{stamp} {text}")
        self._log.info("job_log", message=text)

    def progress(self, percent: float, message: str | None = None, *, force: bool = False) -> None:
        self._progress = max(0.0, min(100.0, percent))
        if message:
            self.line(message)
        if force or time.monotonic() - self._last_report >= REPORT_EVERY_S:
            self._write(JobStatus.RUNNING, message=message)

    def cancelled(self) -> bool:
        """Whether Cradle asked the job to stop (looked up at most every few seconds)."""
        if time.monotonic() - self._last_cancel_check < CANCEL_CHECK_EVERY_S:
            return False
        self._last_cancel_check = time.monotonic()
        return self._store.exists(self._cancel_uri)

    def finish(
        self,
        state: JobStatus,
        *,
        error: str | None = None,
        training: TrainingOutcome | None = None,
        inference: InferenceOutcome | None = None,
    ) -> None:
        if state is JobStatus.COMPLETED:
            self._progress = 100.0
        elapsed_ms = int((time.monotonic() - self._started) * 1000)
        self._write(state, error=error, training=training, inference=inference, processing_time_ms=elapsed_ms)

    def _write(
        self,
        state: JobStatus,
        *,
        message: str | None = None,
        error: str | None = None,
        training: TrainingOutcome | None = None,
        inference: InferenceOutcome | None = None,
        processing_time_ms: int | None = None,
    ) -> None:
        report = JobReport(
            job_id=self._job_id,
            kind="training" if self._kind == "training" else "inference",
            state=state,
            progress=round(self._progress, 2),
            message=message,
            log_tail="\n".join(self._lines),
            error=error,
            training=training,
            inference=inference,
            processing_time_ms=processing_time_ms,
            updated_at=dt.datetime.now(dt.UTC),
        )
        self._store.put(self._status_uri, report.model_dump_json().encode(), "application/json")
        self._last_report = time.monotonic()
