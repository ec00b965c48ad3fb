"""Decoding image bytes on the CPU, and naming what a file really is when it does not decode.

OpenCV decodes exactly as Ultralytics' own `imread` does (`cv2.imdecode`, `IMREAD_COLOR`: BGR,
EXIF orientation applied, grey and 16-bit images converted), so both see the same pixels.
`cv2.imdecode` releases the GIL, so a thread pool decodes on every core. JPEGs are first checked
for damaged structure (`jpeg_structure`), which OpenCV would decode with a mere warning.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from cradle_inference.jpeg_structure import jpeg_damage

BgrImage = npt.NDArray[np.uint8]  # (height, width, 3), BGR

# Leading bytes of the formats an upload is likely to be, images or not. The names only make
# errors say what a file really is; OpenCV alone decides what it can decode.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"<?xml", "XML document"),
    (b"<svg", "SVG drawing"),
)
NOT_IMAGES = frozenset({"PDF document", "ZIP archive", "gzip archive", "XML document", "SVG drawing"})


class ImageDecodeError(Exception):
    """The bytes are not an image this engine can read; the message says why."""


def sniff_format(data: bytes) -> str | None:
    """The format the bytes announce, or None when they match no known signature."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return "HEIF" if brand in {b"heic", b"heix", b"mif1", b"msf1", b"avif"} else "ISO media (video)"
    return None


def is_jpeg(data: bytes) -> bool:
    return data.startswith(b"\xff\xd8\xff")


def decode_bgr(data: bytes) -> BgrImage:
    """Decode one encoded image to a BGR array, or raise `ImageDecodeError` saying why not."""
    if not data:
        raise ImageDecodeError("empty file (0 bytes)")
    found = sniff_format(data)
    if found in NOT_IMAGES:
        raise ImageDecodeError(f"not an image: the content is a {found}, whatever the file name says")
    if found == "JPEG" and (damage := jpeg_damage(data)) is not None:
        raise ImageDecodeError(f"corrupt JPEG: {damage}")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as error:  # e.g. dimensions over OpenCV's limits
        raise ImageDecodeError(f"could not decode {found or 'the file'}: {error.err}") from error
    if image is None:
        what = f"{found} data" if found else "unrecognised data (no known image signature)"
        raise ImageDecodeError(
            f"could not decode {what} ({len(data)} bytes): corrupt, truncated or unsupported"
        )
    return np.ascontiguousarray(image, dtype=np.uint8)
