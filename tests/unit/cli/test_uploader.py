"""The uploader's bookkeeping: what it sends, what it skips, how it resumes, what it reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest

from cradle_workstation.cli import uploader
from cradle_workstation.cli.client import ApiError
from cradlepose.api_limits import MAX_FORMS_PER_REQUEST, MAX_REQUEST_BODY_BYTES
from tests.upload_requests import largest_upload

pytestmark = pytest.mark.unit

API = "http://api.test/api"


def _later(minutes: int) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).isoformat()


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff" + b"a" * 1000)
    (tmp_path / "b.PNG").write_bytes(b"\x89PNG" + b"b" * 500)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.jpeg").write_bytes(b"\xff\xd8\xff" + b"c" * 200)
    return tmp_path


class FakeApi:
    """Enough of the Cradle API for the uploader, recording what it was asked."""

    def __init__(self, refuse_name: str | None = None) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.refuse_name = refuse_name
        self.report: list[dict[str, Any]] = []
        self.slot = 0

    def _forms(self, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        forms = []
        for f in files:
            self.slot += 1
            slot = f"{self.slot:032x}"
            forms.append({"key": f"incoming/7/{slot}/{f['filename']}", "url": "http://s3.test/cradle-uploads",
                          "fields": {"key": f"incoming/7/{slot}/{f['filename']}", "Content-Type": "image/jpeg"},
                          "expires_at": _later(15)})  # fmt: skip
        return forms

    def post(self, path: str, body: Any = None, **_: Any) -> Any:
        self.calls.append(("POST", path, body))
        files = body["uploads"]["files"] if path == "/batches" else body["files"]
        if self.refuse_name is not None:
            names = [f["filename"] for f in files]
            if self.refuse_name in names:
                index = names.index(self.refuse_name)
                raise ApiError(
                    413, {"detail": f"files[{index}] ({self.refuse_name}) is 2000 bytes; the limit is 10"}
                )
        if path == "/batches":
            return {"batch": {"id": 7}, "uploads": self._forms(files)}
        return self._forms(files)

    def get(self, path: str, **_: Any) -> Any:
        self.calls.append(("GET", path, None))
        if path.endswith("/uploads"):
            return {"files": self.report}
        return {"status": "UPLOADED"}


def test_scan_takes_images_and_says_why_it_skips_the_rest(tmp_path: Path) -> None:
    state = uploader.scan(_folder(tmp_path), None, API, "session")
    assert {p: f.state for p, f in state.files.items()} == {
        "a.jpg": "pending", "b.PNG": "pending", "notes.txt": "skipped", "sub/c.jpeg": "pending",
    }  # fmt: skip
    assert state.files["notes.txt"].message == "not a .jpg, .jpeg or .png file"


def test_a_first_run_creates_the_batch_and_a_resumed_one_only_asks_for_what_is_missing(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)
    api = FakeApi()
    state = uploader.scan(folder, None, API, "session")
    uploader.ensure_batch(api, state, folder, {})  # type: ignore[arg-type]
    assert state.batch_id == 7
    assert api.calls[0][1] == "/batches"
    state.files["a.jpg"].state = "sent"
    state.files["b.PNG"].form_expires_at = _later(-1)  # its form expired
    state.save(folder)

    resumed = uploader.scan(folder, uploader.UploadState.load(folder), API, "session")
    uploader.ensure_batch(api, resumed, folder, {})  # type: ignore[arg-type]

    assert resumed.batch_id == 7
    assert api.calls[-1] == ("POST", "/batches/7/uploads", {"files": [{"filename": "b.PNG", "size": 504}]})
    assert resumed.files["a.jpg"].state == "sent"


def test_a_changed_file_is_sent_again(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    state = uploader.scan(folder, None, API, "session")
    state.files["a.jpg"].state = "sent"
    state.save(folder)
    (folder / "a.jpg").write_bytes(b"\xff\xd8\xff" + b"new" * 10)
    resumed = uploader.scan(folder, uploader.UploadState.load(folder), API, "session")
    assert resumed.files["a.jpg"].state == "pending"


def test_a_file_over_the_limit_is_refused_by_name_and_the_others_go_on(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    api = FakeApi(refuse_name="b.PNG")
    state = uploader.scan(folder, None, API, "session")
    uploader.ensure_batch(api, state, folder, {})  # type: ignore[arg-type]
    assert state.files["b.PNG"].state == "rejected"
    assert "limit" in (state.files["b.PNG"].message or "")
    assert state.files["a.jpg"].form is not None
    assert state.files["sub/c.jpeg"].form is not None


def test_sending_counts_bytes_and_records_what_s3_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    api = FakeApi()
    state = uploader.scan(folder, None, API, "session")
    uploader.ensure_batch(api, state, folder, {})  # type: ignore[arg-type]
    received: dict[str, int] = {}

    def s3(request: httpx.Request) -> httpx.Response:
        body = request.read()
        received[request.url.path] = received.get(request.url.path, 0) + 1
        if b"c.jpeg" in body:
            return httpx.Response(403, text="<Error><Message>Policy expired</Message></Error>")
        return httpx.Response(204)

    sent_bytes: list[int] = []
    failures: list[str] = []
    events = uploader.Events(bytes_sent=sent_bytes.append, failed=lambda f: failures.append(f.path))
    uploader.send_all(folder, state, events, workers=2, s3=httpx.Client(transport=httpx.MockTransport(s3)))

    assert state.files["a.jpg"].state == "sent"
    assert state.files["b.PNG"].state == "sent"
    assert state.files["sub/c.jpeg"].state == "failed"
    assert "Policy expired" in (state.files["sub/c.jpeg"].message or "")
    assert failures == ["sub/c.jpeg"]
    assert sum(sent_bytes) >= 1003 + 504
    assert uploader.UploadState.load(folder).files["a.jpg"].state == "sent"  # type: ignore[union-attr]


def test_verdicts_are_matched_by_slot(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    api = FakeApi()
    state = uploader.scan(folder, None, API, "session")
    uploader.ensure_batch(api, state, folder, {})  # type: ignore[arg-type]
    for file in state.files.values():
        if file.state == "pending":
            file.state = "sent"
    a, b = state.files["a.jpg"], state.files["b.PNG"]
    api.report = [
        {"filename": "a.jpg", "slot": a.slot, "state": "registered", "image_id": 11},
        {"filename": "b.PNG", "slot": b.slot, "state": "rejected", "reason": "the file is a PDF document"},
    ]

    answered = uploader.await_verdicts(api, state, timeout_s=0.2, poll_s=0.05)  # type: ignore[arg-type]

    assert answered is False  # c.jpeg never got a verdict
    assert uploader.describe(a) == "registered as image 11"
    assert uploader.describe(b) == "rejected: the file is a PDF document"
    assert state.files["sub/c.jpeg"].state == "sent"


def test_every_post_to_s3_says_its_length_since_s3_refuses_chunked_posts(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    state = uploader.scan(folder, None, API, "session")
    uploader.ensure_batch(FakeApi(), state, folder, {})  # type: ignore[arg-type]
    seen: list[tuple[str | None, str | None, int]] = []

    def s3(request: httpx.Request) -> httpx.Response:
        body = request.read()
        seen.append(
            (request.headers.get("content-length"), request.headers.get("transfer-encoding"), len(body))
        )
        return httpx.Response(204)

    uploader.send_all(
        folder, state, uploader.Events(), workers=1, s3=httpx.Client(transport=httpx.MockTransport(s3))
    )

    assert len(seen) == 3
    for length, encoding, size in seen:
        assert encoding is None
        assert length == str(size)


def test_forms_are_asked_for_in_requests_within_the_apis_limits(tmp_path: Path) -> None:
    # Given 2500 images with the longest names a file system allows, for the longest batch name
    api = largest_upload(tmp_path)

    # Then the batch is created once, the rest asked for in further requests, none over a limit
    paths = [path for path, _, _ in api.requests]
    assert paths[0] == "/batches"
    assert set(paths[1:]) == {"/batches/7/uploads"}
    assert sum(files for _, _, files in api.requests) == 2500
    for _, body, files in api.requests:
        assert len(body) <= MAX_REQUEST_BODY_BYTES
        assert files <= MAX_FORMS_PER_REQUEST
    # and each request is as full as the body limit lets it be (a few requests, not thousands)
    assert len(api.requests) <= 2500 * 300 // MAX_REQUEST_BODY_BYTES + 2


def test_small_folders_still_take_one_request(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    api = FakeApi()
    state = uploader.scan(folder, None, API, "session")
    uploader.ensure_batch(api, state, folder, {})  # type: ignore[arg-type]
    assert [call[1] for call in api.calls] == ["/batches"]
    assert len(api.calls[0][2]["uploads"]["files"]) == 3


def test_the_uploader_measures_bodies_as_the_client_encodes_them() -> None:
    body = {"files": [{"filename": 'é\u2028"\\x.jpg', "size": 1}], "n": None}
    assert uploader.request_body_bytes(body) == len(httpx.Request("POST", API, json=body).content)
