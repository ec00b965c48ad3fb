"""What a file really is, from its first bytes (a renamed PDF is still a PDF)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    name: str
    mime_type: str
    image_format: str | None  # "JPEG" / "PNG" when Cradle accepts it


JPEG = FileType("JPEG image", "image/jpeg", "JPEG")
PNG = FileType("PNG image", "image/png", "PNG")

_SIGNATURES: list[tuple[bytes, int, FileType]] = [
    (b"\xff\xd8\xff", 0, JPEG),
    (b"\x89PNG\r\n\x1a\n", 0, PNG),
    (b"%PDF-", 0, FileType("PDF document", "application/pdf", None)),
    (b"GIF87a", 0, FileType("GIF image", "image/gif", None)),
    (b"GIF89a", 0, FileType("GIF image", "image/gif", None)),
    (b"II*\x00", 0, FileType("TIFF image", "image/tiff", None)),
    (b"MM\x00*", 0, FileType("TIFF image", "image/tiff", None)),
    (b"BM", 0, FileType("BMP image", "image/bmp", None)),
    (b"PK\x03\x04", 0, FileType("ZIP archive", "application/zip", None)),
    (b"\x00\x00\x00\x0cjP  ", 0, FileType("JPEG 2000 image", "image/jp2", None)),
]


def sniff(head: bytes) -> FileType:
    for signature, offset, file_type in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return file_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileType("WebP image", "image/webp", None)
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("ascii", "replace")
        if brand in {"heic", "heix", "mif1", "msf1", "avif"}:
            return FileType("HEIF/AVIF image", "image/heif", None)
        return FileType("MP4/QuickTime media", "video/mp4", None)
    return FileType("unrecognised data", "application/octet-stream", None)
