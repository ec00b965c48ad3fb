"""The largest requests `cradle upload` sends the API, as the client encodes them.

A folder of `count` images whose names are as long as a file system allows (255 bytes, some of
them two-byte UTF-8), of huge sizes, for a batch whose name is as long as the API allows: the
uploader asks for their forms, and every request it makes is recorded with its encoded body.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx

from cradle_workstation.cli import uploader

API = "http://api.test/api"


class RecordingApi:
    """Answers the uploader's form requests; keeps each request's path and encoded body."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes, int]] = []  # path, body as sent, files asked for

    def post(self, path: str, body: Any = None, **_: Any) -> Any:
        encoded = httpx.Request("POST", API + path, json=body).content
        files = body["uploads"]["files"] if path == "/batches" else body["files"]
        self.requests.append((path, encoded, len(files)))
        expires = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)).isoformat()
        forms = [{"key": f"incoming/7/{i:032x}/x.jpg", "expires_at": expires} for i in range(len(files))]
        return {"batch": {"id": 7}, "uploads": forms} if path == "/batches" else forms

    def get(self, path: str, **_: Any) -> Any:
        return {"status": "UPLOADED"}


def largest_upload(folder: Path, count: int = 2500) -> RecordingApi:
    state = uploader.UploadState(api_url=API, batch_name="b" * 255)
    for index in range(count):
        stem = f"{index:05d}-" + ("é" * 122 if index % 2 else "n" * 244)  # 250 bytes either way
        path = f"sub/{stem}.jpeg"
        state.files[path] = uploader.FileState(path, 10**12, 0.0)
    api = RecordingApi()
    uploader.ensure_batch(api, state, folder, {"specialty": "s" * 200})  # type: ignore[arg-type]
    assert all(f.form is not None for f in state.files.values())
    return api
