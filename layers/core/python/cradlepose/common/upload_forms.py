"""The presigned POST form every upload gets: images of a batch, and dataset-import archives."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class UploadForm(BaseModel):
    """A presigned POST: send `fields` plus the file (last, as `file`) to `url` as multipart/form-data."""

    filename: str
    key: str
    url: str
    fields: dict[str, str]
    expires_at: dt.datetime
    max_bytes: int
