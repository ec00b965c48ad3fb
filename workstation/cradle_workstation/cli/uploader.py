"""`cradle upload DIR --batch NAME`: send a folder of images straight to S3, resumably.

1. Create the batch with one presigned form per JPEG/PNG (other files are skipped and said so; a
   file over the upload limit is refused up front, by name, and the rest go on). Each file's entry
   carries what the `--metadata` CSV says about its image (cli.metadata_csv), which the upload
   trigger writes onto the image when it registers it. The forms are
   asked for in as many requests as it takes to keep each within the API's limits (at most
   `MAX_FORMS_PER_REQUEST` files and `MAX_REQUEST_BODY_BYTES` of JSON, what the cloud's WAF allows).
2. POST each file to S3 with its form, several at a time, with a progress bar for bytes and files.
   Every finished file is written to `.cradle-upload.json` in the folder, so an interrupted upload
   run again resumes: the same batch, only the files not sent yet, new forms where old ones expired.
3. Wait for the upload trigger's verdict on every file (registered, or rejected with the reason),
   print one line per file, and start pre-annotation with what arrived (`complete`) when files
   were rejected (when all arrive, the last one starts it by itself).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import httpx

from cradle_workstation.cli.client import ApiError, CradleClient
from cradlepose.api_limits import MAX_FORMS_PER_REQUEST, MAX_REQUEST_BODY_BYTES

STATE_FILE = ".cradle-upload.json"
ACCEPTED = {".jpg", ".jpeg", ".png"}
_TOO_LARGE = re.compile(r"files\[(\d+)\]")


@dataclass
class FileState:
    path: str  # relative to the folder
    size: int
    mtime: float
    state: str = "pending"  # pending | sent | registered | rejected | skipped | failed
    key: str | None = None
    form: dict[str, Any] | None = None
    form_expires_at: str | None = None
    image_id: int | None = None
    message: str | None = None
    # What the uploader said about the image (--metadata CSV): sent with the request for its form.
    described: dict[str, Any] | None = None

    @property
    def slot(self) -> str | None:
        return self.key.split("/")[2] if self.key else None

    def form_usable(self) -> bool:
        if self.form is None or self.form_expires_at is None:
            return False
        expires = dt.datetime.fromisoformat(self.form_expires_at)
        return expires - dt.timedelta(seconds=60) > dt.datetime.now(dt.UTC)


@dataclass
class UploadState:
    api_url: str
    batch_name: str
    batch_id: int | None = None
    files: dict[str, FileState] = field(default_factory=dict)

    def save(self, folder: Path) -> None:
        tmp = folder / (STATE_FILE + ".tmp")
        data = {**asdict(self), "files": {k: asdict(v) for k, v in self.files.items()}}
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(folder / STATE_FILE)

    @classmethod
    def load(cls, folder: Path) -> UploadState | None:
        path = folder / STATE_FILE
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        files = {k: FileState(**v) for k, v in raw.pop("files").items()}
        return cls(**raw, files=files)

    def counts(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for file in self.files.values():
            result[file.state] = result.get(file.state, 0) + 1
        return result


@dataclass
class Events:
    """What the uploader reports as it goes (the command draws progress bars from these)."""

    total: Callable[[int, int], None] = lambda files, size: None
    sent: Callable[[FileState], None] = lambda file: None
    bytes_sent: Callable[[int], None] = lambda n: None
    failed: Callable[[FileState], None] = lambda file: None


def scan(folder: Path, previous: UploadState | None, api_url: str, batch_name: str) -> UploadState:
    """The folder's files, merged with what an earlier run already did."""
    state = (
        previous if previous and previous.batch_name == batch_name and previous.api_url == api_url else None
    )
    state = state or UploadState(api_url=api_url, batch_name=batch_name)
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(STATE_FILE)):
        relative = path.relative_to(folder).as_posix()
        stat = path.stat()
        known = state.files.get(relative)
        if known is not None and known.size == stat.st_size and known.mtime == stat.st_mtime:
            continue
        file = FileState(relative, stat.st_size, stat.st_mtime)
        if path.suffix.lower() not in ACCEPTED:
            file.state, file.message = "skipped", "not a .jpg, .jpeg or .png file"
        state.files[relative] = file
    return state


def describe_files(state: UploadState, described: dict[str, dict[str, Any]]) -> None:
    """Attach each file's metadata (from the --metadata CSV) to the files still to ask forms for."""
    for relative, file in state.files.items():
        if file.state in ("pending", "failed") and relative in described:
            file.described = described[relative]


def ensure_batch(client: CradleClient, state: UploadState, folder: Path, metadata: dict[str, Any]) -> None:
    """Create the batch (first run) and get forms for every file still to send."""
    if state.batch_id is not None:
        batch = client.get(f"/batches/{state.batch_id}")
        if batch["status"] != "UPLOADED":
            raise ApiError(
                409,
                {
                    "title": "Batch closed",
                    "detail": f"batch {state.batch_id} is {batch['status']}: "
                    "its uploads are closed; use a new --batch name",
                },
            )
    needing = [f for f in state.files.values() if f.state in ("pending", "failed") and not f.form_usable()]
    while needing:
        path, body = upload_request(state, metadata, _fitting(state, metadata, needing))
        asked = needing[: len(_files_of(body))]
        try:
            answer = client.post(path, body)
        except ApiError as error:
            refused = _refused_file(error, asked)
            if refused is None:
                raise
            refused.state, refused.message = "rejected", error.problem.get("detail")
            needing.remove(refused)
            continue
        if state.batch_id is None:
            state.batch_id, forms = answer["batch"]["id"], answer["uploads"]
        else:
            forms = answer
        for file, form in zip(asked, forms, strict=True):
            file.key, file.form, file.form_expires_at = form["key"], form, form["expires_at"]
            file.state, file.message = "pending", None
        needing = needing[len(asked) :]
        state.save(folder)  # a run stopped between requests resumes with the batch it created
    state.save(folder)


def upload_request(
    state: UploadState, metadata: dict[str, Any], files: list[FileState]
) -> tuple[str, dict[str, Any]]:
    """The path and JSON body that ask for `files`' forms: the batch's creation, or more uploads."""
    listed = [{"filename": Path(f.path).name, "size": f.size, **(f.described or {})} for f in files]
    if state.batch_id is None:
        return "/batches", {
            "batch_name": state.batch_name,
            "uploads": {"files": listed},
            "upload_metadata": metadata,
        }
    return f"/batches/{state.batch_id}/uploads", {"files": listed}


def request_body_bytes(body: Any) -> int:
    """The size of `body` as the client sends it (httpx's JSON encoding)."""
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode())


def _files_of(body: dict[str, Any]) -> list[Any]:
    files: list[Any] = body["uploads"]["files"] if "uploads" in body else body["files"]
    return files


def _fitting(state: UploadState, metadata: dict[str, Any], needing: list[FileState]) -> list[FileState]:
    """The longest head of `needing` one request may ask for (files and body bytes within limits)."""
    low, high = 0, min(len(needing), MAX_FORMS_PER_REQUEST)
    while low < high:  # the largest count whose body fits
        middle = (low + high + 1) // 2
        if request_body_bytes(upload_request(state, metadata, needing[:middle])[1]) <= MAX_REQUEST_BODY_BYTES:
            low = middle
        else:
            high = middle - 1
    if low == 0:
        raise ApiError(
            413,
            {
                "title": "Request too large",
                "detail": f"asking for {needing[0].path}'s upload form takes more than "
                f"{MAX_REQUEST_BODY_BYTES} bytes (the API's limit): shorten the batch name or metadata",
            },
        )
    return needing[:low]


def send_all(
    folder: Path, state: UploadState, events: Events, workers: int = 4, s3: httpx.Client | None = None
) -> None:
    """POST every pending file to S3 through its form; each finished file is saved to the state file."""
    todo = [f for f in state.files.values() if f.state in ("pending", "failed") and f.form is not None]
    events.total(len(todo), sum(f.size for f in todo))
    lock = threading.Lock()
    http = s3 or httpx.Client(timeout=httpx.Timeout(60.0, write=600.0))
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(_send, http, folder, f, events): f for f in todo}
            for future in as_completed(futures):
                file = futures[future]
                error = future.exception()
                with lock:
                    if error is None:
                        file.state, file.message = "sent", None
                        events.sent(file)
                    else:
                        file.state, file.message = "failed", str(error)
                        events.failed(file)
                    state.save(folder)
    finally:
        if s3 is None:
            http.close()


def await_verdicts(
    client: CradleClient, state: UploadState, timeout_s: float = 120.0, poll_s: float = 1.0
) -> bool:
    """Wait for the trigger's answer about every sent file; True when all were answered."""
    deadline = time.monotonic() + timeout_s
    while True:
        report = client.get(f"/batches/{state.batch_id}/uploads")
        by_slot = {entry["slot"]: entry for entry in report["files"]}
        waiting = 0
        for file in state.files.values():
            entry = by_slot.get(file.slot or "")
            if entry is not None and file.state in ("sent", "pending", "failed"):
                file.state = entry["state"]
                file.image_id = entry.get("image_id")
                file.message = entry.get("reason")
            elif file.state == "sent":
                waiting += 1
        if waiting == 0 or time.monotonic() > deadline:
            return waiting == 0
        time.sleep(poll_s)


def _send(http: httpx.Client, folder: Path, file: FileState, events: Events) -> None:
    assert file.form is not None
    with (folder / file.path).open("rb") as handle:
        counted = _Counting(handle, events.bytes_sent)
        response = http.post(
            file.form["url"],
            data=file.form["fields"],
            files={
                "file": (
                    Path(file.path).name,
                    cast(BinaryIO, counted),
                    file.form["fields"].get("Content-Type"),
                )
            },
        )
    if response.status_code >= 300:
        reason = re.search(r"<Message>(.*?)</Message>", response.text)
        raise RuntimeError(
            f"S3 refused it ({response.status_code}): {reason.group(1) if reason else response.text[:200]}"
        )


class _Counting:
    """A file object that reports how many bytes were read from it."""

    def __init__(self, handle: BinaryIO, report: Callable[[int], None]) -> None:
        self._handle = handle
        self._report = report

    def fileno(self) -> int:
        # httpx sizes the multipart body from the file (S3 refuses a chunked POST: 411).
        return self._handle.fileno()

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._report(len(chunk))
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(64 * 1024):
            yield chunk


def _refused_file(error: ApiError, needing: list[FileState]) -> FileState | None:
    """The file a 413 names (`files[3] (x.jpg) is … bytes`), so the others can still go."""
    if error.status != 413:
        return None
    match = _TOO_LARGE.search(str(error.problem.get("detail", "")))
    if match is None or int(match.group(1)) >= len(needing):
        return None
    return needing[int(match.group(1))]


def describe(file: FileState) -> str:
    if file.state == "registered":
        return f"registered as image {file.image_id}"
    return f"{file.state}: {file.message}" if file.message else file.state


def default_workers() -> int:
    return min(8, (os.cpu_count() or 2) * 2)
