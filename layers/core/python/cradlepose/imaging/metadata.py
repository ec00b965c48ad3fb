"""Removing metadata from JPEG and PNG files without touching a single pixel.

Infant images are health data: EXIF (camera serials, timestamps, GPS), XMP, IPTC and comments
must not survive registration. JPEG segments and PNG chunks are dropped at the byte level, so
the image data is bit-for-bit the same. Only what affects how pixels look is kept: JFIF (APP0),
ICC colour profiles (APP2 ICC_PROFILE), Adobe's colour-transform marker (APP14); for PNG the
critical chunks and the colour/transparency ones.

One case needs pixels: an EXIF orientation other than "normal". Dropping the tag would turn the
image on its side, so such an image is rotated upright and re-encoded (quality 95) instead.
"""

from __future__ import annotations

import io
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

_KEEP_JPEG_APP = {0xE0, 0xEE}  # APP0 JFIF, APP14 Adobe
_ICC = b"ICC_PROFILE\x00"
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RSTn: no length field
_SOS, _EOI = 0xDA, 0xD9
_KEEP_PNG = {
    b"IHDR",
    b"PLTE",
    b"IDAT",
    b"IEND",
    b"tRNS",
    b"gAMA",
    b"cHRM",
    b"sRGB",
    b"iCCP",
    b"sBIT",
    b"pHYs",
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class MalformedImage(ValueError):
    """The bytes do not follow the file format closely enough to be cleaned safely."""


def strip_jpeg(data: bytes) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise MalformedImage("not a JPEG stream")
    out = bytearray(b"\xff\xd8")
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise MalformedImage(f"expected a marker at byte {pos}")
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= len(data):
            raise MalformedImage("truncated after a marker")
        marker = data[pos]
        pos += 1
        if marker in _STANDALONE:
            out += bytes((0xFF, marker))
            continue
        if marker == _EOI:
            out += b"\xff\xd9"
            return bytes(out)
        if pos + 2 > len(data):
            raise MalformedImage("truncated segment length")
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        segment = data[pos - 2 : pos + length]
        if length < 2 or pos + length > len(data):
            raise MalformedImage(f"segment 0x{marker:02X} runs past the end")
        if marker == _SOS:
            # Scan header plus entropy-coded data up to the end: copied as is.
            out += data[pos - 2 :]
            return bytes(out)
        payload = data[pos + 2 : pos + length]
        is_app = 0xE0 <= marker <= 0xEF
        keep = (
            (not is_app and marker != 0xFE)
            or marker in _KEEP_JPEG_APP
            or (marker == 0xE2 and payload.startswith(_ICC))
        )
        if keep:
            out += segment
        pos += length
    raise MalformedImage("no image data (SOS) found")


def strip_png(data: bytes) -> bytes:
    if not data.startswith(PNG_SIGNATURE):
        raise MalformedImage("not a PNG stream")
    out = bytearray(PNG_SIGNATURE)
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise MalformedImage(f"chunk {kind!r} runs past the end")
        if kind in _KEEP_PNG:
            out += data[pos:end]
        pos = end
        if kind == b"IEND":
            return bytes(out)
    raise MalformedImage("no IEND chunk")


def exif_orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except (ValueError, TypeError, SyntaxError):
        return 1


def clean(data: bytes, image_format: str) -> tuple[bytes, bool]:
    """Metadata-free bytes of the same image, and whether pixels had to be re-encoded."""
    from PIL import Image, ImageOps  # noqa: PLC0415 - Pillow loads on first use, not with the API

    with Image.open(io.BytesIO(data)) as image:
        orientation = exif_orientation(image)
        if image_format == "JPEG" and orientation not in (0, 1):
            upright = ImageOps.exif_transpose(image)
            buffer = io.BytesIO()
            upright.convert("RGB").save(buffer, "JPEG", quality=95, optimize=True)
            return strip_jpeg(buffer.getvalue()), True
    if image_format == "JPEG":
        return strip_jpeg(data), False
    return strip_png(data), False
