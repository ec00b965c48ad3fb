"""S3 objects as files: a seekable reader (ranged GETs) and a streaming writer (multipart upload).

They let zipfile work on archives of any size with bounded memory and no local disk, which a
Lambda has little of:
- `S3ObjectReader` is what zipfile needs to read an archive: it reads the central directory at
  the end, then each member on demand, each read a ranged GET of at least READ_BLOCK bytes;
- `S3MultipartWriter` is a non-seekable stream zipfile writes to (it then writes data descriptors
  after each member): bytes collect up to PART_SIZE and go up as one part of a multipart upload,
  so at most one part is held in memory. `finish()` (or leaving its `with` block normally)
  completes the upload; anything else (an error, or closing without finishing) aborts it, so a
  failed archive leaves no object and no stray parts behind.
"""

from __future__ import annotations

import io
from types import TracebackType
from typing import Any, Self

READ_BLOCK = 1024 * 1024
PART_SIZE = 8 * 1024 * 1024  # S3's minimum is 5 MiB for every part but the last


class S3ObjectReader(io.RawIOBase):
    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        super().__init__()
        self._s3, self._bucket, self._key = s3, bucket, key
        self.size = int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
        self._position = 0
        self._block_start = 0
        self._block = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self.size - self._position)
        if wanted <= 0:
            return 0
        offset = self._position - self._block_start
        if not 0 <= offset < len(self._block) or offset + wanted > len(self._block):
            self._fetch(self._position, max(wanted, READ_BLOCK))
            offset = 0
        chunk = self._block[offset : offset + wanted]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)

    def _fetch(self, start: int, length: int) -> None:
        end = min(self.size, start + length) - 1
        response = self._s3.get_object(Bucket=self._bucket, Key=self._key, Range=f"bytes={start}-{end}")
        self._block = response["Body"].read()
        self._block_start = start


class S3MultipartWriter(io.RawIOBase):
    def __init__(self, s3: Any, bucket: str, key: str, content_type: str) -> None:
        super().__init__()
        self._s3, self._bucket, self._key = s3, bucket, key
        self._upload_id: str = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)[
            "UploadId"
        ]
        self._parts: list[dict[str, Any]] = []
        self._buffer = bytearray()
        self._written = 0
        self._finished = False

    @property
    def bytes_written(self) -> int:
        return self._written

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._written

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        raise io.UnsupportedOperation("an S3 multipart upload only appends")

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._buffer += view
        self._written += len(view)
        while len(self._buffer) >= PART_SIZE:
            self._upload_part(bytes(self._buffer[:PART_SIZE]))
            del self._buffer[:PART_SIZE]
        return len(view)

    def finish(self) -> None:
        """Upload what is left and complete the object."""
        if self._finished:
            return
        if self._buffer or not self._parts:  # S3 needs at least one part; the last may be small
            self._upload_part(bytes(self._buffer))
            self._buffer.clear()
        self._s3.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        self._finished = True
        super().close()

    def close(self) -> None:
        """Closing without finishing abandons the upload (io calls this on garbage collection too)."""
        if not self._finished and not self.closed:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            self._finished = True
        super().close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.close()

    def _upload_part(self, data: bytes) -> None:
        number = len(self._parts) + 1
        response = self._s3.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=data
        )
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})
