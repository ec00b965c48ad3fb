"""Where uploaded bytes go, and how their names are read back.

A presigned form writes `incoming/<batch_id>/<slot>/<filename>` in the uploads bucket. The
upload trigger turns it into the cleaned image `images/<batch_id>/<slot>` (same bucket), the
thumbnail `thumbnails/<batch_id>/<slot>.jpg` (derived bucket), or, for a rejected file, a copy
under `quarantine/<batch_id>/<slot>/<filename>` (derived bucket). The slot is a random hex id,
so keys are unguessable and each upload has exactly one possible destination: registering the
same upload twice finds the image already there.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from cradlepose.domain.errors import ValidationFailed

INCOMING_PREFIX = "incoming/"
_INCOMING = re.compile(r"^incoming/(?P<batch>\d+)/(?P<slot>[0-9a-f]{32})/(?P<name>[^/]{1,255})$")

CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


@dataclass(frozen=True)
class UploadKey:
    batch_id: int
    slot: str
    filename: str

    @property
    def incoming(self) -> str:
        return f"{INCOMING_PREFIX}{self.batch_id}/{self.slot}/{self.filename}"

    @property
    def image(self) -> str:
        return f"images/{self.batch_id}/{self.slot}"

    @property
    def thumbnail(self) -> str:
        return f"thumbnails/{self.batch_id}/{self.slot}.jpg"

    @property
    def quarantine(self) -> str:
        return f"quarantine/{self.batch_id}/{self.slot}/{self.filename}"

    @property
    def loggable(self) -> str:
        """The incoming key without its file name: what logs may say (the slot names the upload)."""
        return f"{INCOMING_PREFIX}{self.batch_id}/{self.slot}"

    @classmethod
    def new(cls, batch_id: int, filename: str) -> UploadKey:
        return cls(batch_id, secrets.token_hex(16), safe_filename(filename))

    @classmethod
    def any_name(cls, batch_id: int) -> str:
        """The key of a form that accepts whatever name the uploaded file has (S3 fills it in)."""
        return f"{INCOMING_PREFIX}{batch_id}/{secrets.token_hex(16)}/${{filename}}"

    @classmethod
    def parse(cls, key: str) -> UploadKey | None:
        match = _INCOMING.match(key)
        if match is None:
            return None
        return cls(int(match["batch"]), match["slot"], match["name"])


def loggable_key(key: str) -> str:
    """What a log may say about an object key of the uploads bucket: never the file name an
    uploader gave (it may name a patient). An upload key loses its name; any other key is
    reduced to a SHA-256 prefix, enough to match it with S3's own records."""
    upload = UploadKey.parse(key)
    if upload is not None:
        return upload.loggable
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:16]


def safe_filename(name: str) -> str:
    """A file name that is safe as the last part of an S3 key and in a Content-Disposition header."""
    base = PurePosixPath(name.replace("\\", "/")).name
    base = unicodedata.normalize("NFKC", base)
    base = re.sub(r"[^\w.\- ]", "_", base).strip(" .")
    return (base or "image")[:200]


def content_type_for(filename: str, index: int) -> str:
    """The content type a form will require, from the file's extension; only JPEG and PNG."""
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix not in CONTENT_TYPES:
        raise ValidationFailed.single(
            f"files[{index}].filename", f"{filename!r} is not a .jpg, .jpeg or .png file"
        )
    return CONTENT_TYPES[suffix]
