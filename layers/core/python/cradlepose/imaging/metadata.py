"""Rebuilding JPEG and PNG files from what their pixels need, and nothing else.

Infant images are health data. A file carries far more than pixels: EXIF (camera serials,
timestamps, GPS), XMP, IPTC, comments, MPF secondary images with their own EXIF and GPS, a
motion photo's MP4 appended after the image, or any payload appended to it (a ZIP). None of it
may survive registration.

So a file is not filtered, it is rebuilt, at the byte level, so the pixel data is bit-for-bit
the same (nothing is decoded or re-encoded):

- JPEG: SOI, then the coding segments of the *primary* image only (DQT, SOFn, DHT, DAC, DRI,
  SOS with its entropy-coded data, DNL, RSTn) up to its EOI; everything after that EOI is gone
  (MPF secondary images, motion-photo video, appended archives). Every APPn and COM segment is
  dropped. Three are written afresh from a few numbers, never copied: a minimal JFIF APP0 (when
  the original had one: version, density units and pixel density, no thumbnail), a minimal
  Adobe APP14 (when the original had one: its colour-transform byte decides how the decoder
  turns the components into RGB), and an EXIF APP1 holding one tag, Orientation, when the
  original asked for a turn (2..8). That tag is kept rather than applied because applying it
  means decoding and re-encoding, which a medical-grade dataset must not do silently; every
  reader of a stored image in Cradle (the browser, the inference container's OpenCV, Pillow's
  exif_transpose in overlays and thumbnails) shows it upright, and the image row records the
  upright width and height, so keypoints mean the same thing everywhere.
- ICC colour profiles are dropped: a profile holds free text (description, copyright, device
  maker and model) that cannot be told harmless in general. Decoded pixel values do not change;
  a wide-gamut photo is shown as if it were sRGB.
- PNG: IHDR, PLTE, IDAT, IEND, and the fixed-size numeric colour chunks (tRNS transparency,
  gAMA, cHRM, sRGB, sBIT, pHYs), each checked for its fixed length so none can carry a payload.
  Text (tEXt, iTXt, zTXt), eXIf, tIME, iCCP and every other chunk are dropped, and so is
  anything after IEND.

`residue` lists what a file holds beyond that; a cleaned file must have none (cradlepose.imaging
.anonymize checks it, and that the pixels are unchanged, before an image counts as anonymized).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_APP0, _APP1, _APP14, _COM = 0xE0, 0xE1, 0xEE, 0xFE
_RST = frozenset(range(0xD0, 0xD8))
_TEM = 0x01
# The segments a decoder needs for the pixels: SOFn (C0-CF but C4 DHT, C8 JPG, CC DAC, listed
# apart), DHT, DAC, DQT, DNL, DRI. SOS is handled with its scan.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_CODING = _SOF | {0xC4, 0xCC, 0xDB, 0xDC, 0xDD}

_JFIF = b"JFIF\x00"
_ADOBE = b"Adobe"
_EXIF = b"Exif\x00\x00"
_ORIENTATION_TAG = 0x0112
UPRIGHT = 1

# PNG: critical chunks, and ancillary ones that are numbers of a fixed size (length checked).
_PNG_CRITICAL = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
_PNG_NUMERIC: dict[bytes, range] = {
    b"tRNS": range(1, 257),  # one alpha per palette entry, or one grey / RGB sample value
    b"gAMA": range(4, 5),
    b"cHRM": range(32, 33),
    b"sRGB": range(1, 2),
    b"sBIT": range(1, 5),
    b"pHYs": range(9, 10),
}


class MalformedImage(ValueError):
    """The bytes do not follow the file format closely enough to be cleaned safely."""


@dataclass(frozen=True)
class Cleaned:
    data: bytes
    orientation: int  # the EXIF orientation kept in the file (1: shown as stored)

    @property
    def turned(self) -> bool:
        """Whether the image is shown with width and height swapped (orientations 5 to 8)."""
        return self.orientation >= 5


@dataclass(frozen=True)
class _Segment:
    marker: int
    start: int  # of the marker's 0xFF
    end: int  # one past the segment (for SOS: past its entropy-coded data)

    def payload(self, data: bytes) -> bytes:
        return data[self.start + 4 : self.end] if self.end - self.start >= 4 else b""


# ------------------------------------------------------------------ JPEG


def _jpeg_segments(data: bytes) -> Iterator[_Segment]:
    """The primary image's segments from SOI to its EOI (the last one yielded)."""
    if data[:2] != b"\xff\xd8":
        raise MalformedImage("not a JPEG stream")
    size, pos = len(data), 2
    while True:
        if pos >= size or data[pos] != 0xFF:
            raise MalformedImage(f"expected a marker at byte {pos}")
        start = pos
        while pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= size:
            raise MalformedImage("truncated after a marker")
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            yield _Segment(marker, start, pos)
            return
        if marker in _RST or marker == _TEM:
            yield _Segment(marker, start, pos)
            continue
        if marker in {_SOI, 0x00}:
            raise MalformedImage(f"unexpected marker 0x{marker:02X} at byte {start}")
        if pos + 2 > size:
            raise MalformedImage("truncated segment length")
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2 or pos + length > size:
            raise MalformedImage(f"segment 0x{marker:02X} runs past the end")
        end = pos + length
        if marker == _SOS:
            end = _scan_end(data, end)
        yield _Segment(marker, start, end)
        pos = end


def _scan_end(data: bytes, pos: int) -> int:
    """Where a scan's entropy-coded data ends: at the first marker that is not RSTn or stuffing."""
    size = len(data)
    while True:
        at = data.find(b"\xff", pos)
        if at < 0 or at + 1 >= size:
            raise MalformedImage("the image data runs past the end (no EOI)")
        following = data[at + 1]
        if following == 0x00 or following in _RST:
            pos = at + 2
        elif following == 0xFF:
            pos = at + 1
        else:
            return at


def _exif_orientation(payload: bytes) -> int:
    """The Orientation tag of an APP1 EXIF payload, 1 when absent or unreadable."""
    tiff = payload[len(_EXIF) :]
    if not payload.startswith(_EXIF) or len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return UPRIGHT
    order = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", tiff[4:8])
    if ifd + 2 > len(tiff):
        return UPRIGHT
    (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
    for n in range(count):
        entry = tiff[ifd + 2 + 12 * n : ifd + 14 + 12 * n]
        if len(entry) < 12:
            return UPRIGHT
        tag, kind, values = struct.unpack(order + "HHI", entry[:8])
        if tag == _ORIENTATION_TAG and kind == 3 and values == 1:  # one SHORT
            (value,) = struct.unpack(order + "H", entry[8:10])
            return value if 1 <= value <= 8 else UPRIGHT
    return UPRIGHT


def minimal_jfif(units: int = 0, x_density: int = 1, y_density: int = 1) -> bytes:
    body = _JFIF + bytes((1, 1, units)) + struct.pack(">HHBB", x_density, y_density, 0, 0)
    return b"\xff\xe0" + struct.pack(">H", len(body) + 2) + body


def minimal_adobe(transform: int) -> bytes:
    body = _ADOBE + struct.pack(">HHHB", 100, 0, 0, transform)
    return b"\xff\xee" + struct.pack(">H", len(body) + 2) + body


def orientation_exif(orientation: int) -> bytes:
    """An APP1 EXIF segment holding exactly one tag: Orientation (a number from 2 to 8)."""
    tiff = b"MM\x00\x2a" + struct.pack(">IH", 8, 1)
    tiff += struct.pack(">HHIHH", _ORIENTATION_TAG, 3, 1, orientation, 0) + struct.pack(">I", 0)
    body = _EXIF + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def strip_jpeg(data: bytes) -> Cleaned:
    head: list[bytes] = []
    coding: list[bytes] = []
    orientation = UPRIGHT
    jfif = adobe = exif_seen = False
    for segment in _jpeg_segments(data):
        marker, payload = segment.marker, segment.payload(data)
        if marker == _APP0 and payload.startswith(_JFIF) and len(payload) >= 12 and not jfif:
            jfif = True
            units = payload[7]
            x_density, y_density = struct.unpack(">HH", payload[8:12])
            head.insert(0, minimal_jfif(units if units <= 2 else 0, x_density or 1, y_density or 1))
        elif marker == _APP14 and payload.startswith(_ADOBE) and len(payload) >= 12 and not adobe:
            adobe = True
            head.append(minimal_adobe(payload[11] if payload[11] <= 2 else 0))
        elif marker == _APP1 and payload.startswith(_EXIF) and not exif_seen:
            exif_seen = True  # the primary image's EXIF is the first; any later one is ignored
            orientation = _exif_orientation(payload)
        elif marker in _CODING or marker in _RST or marker in {_SOS, _EOI}:
            coding.append(data[segment.start : segment.end])
        # Everything else (APPn, COM, TEM, JPG extensions) is dropped.
    if not any(c[1] == _SOS for c in coding):
        raise MalformedImage("no image data (SOS) found")
    if orientation != UPRIGHT:
        head.append(orientation_exif(orientation))
    return Cleaned(b"\xff\xd8" + b"".join(head) + b"".join(coding), orientation)


def jpeg_residue(data: bytes) -> list[str]:
    """What a JPEG holds beyond its pixels and the three minimal segments Cradle writes."""
    found: list[str] = []
    end = 0
    for segment in _jpeg_segments(data):
        marker, raw = segment.marker, data[segment.start : segment.end]
        end = segment.end
        if marker in _CODING or marker in _RST or marker in {_SOS, _EOI}:
            continue
        if (
            marker == _APP0
            and len(raw) == 18
            and raw.startswith(b"\xff\xe0\x00\x10" + _JFIF)
            and raw[-2:] == b"\0\0"
        ):
            continue
        if marker == _APP14 and raw == minimal_adobe(raw[-1]) and raw[-1] <= 2:
            continue
        if marker == _APP1 and any(raw == orientation_exif(o) for o in range(2, 9)):
            continue
        found.append("COM" if marker == _COM else f"marker 0x{marker:02X} at byte {segment.start}")
    if end != len(data):
        found.append(f"{len(data) - end} bytes after the image's EOI")
    return found


# ------------------------------------------------------------------ PNG


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of each chunk up to and including IEND."""
    if not data.startswith(PNG_SIGNATURE):
        raise MalformedImage("not a PNG stream")
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise MalformedImage(f"chunk {kind!r} runs past the end")
        yield kind, pos, end
        if kind == b"IEND":
            return
        pos = end
    raise MalformedImage("no IEND chunk")


def _png_chunk_kept(kind: bytes, length: int) -> bool:
    return kind in _PNG_CRITICAL or (kind in _PNG_NUMERIC and length in _PNG_NUMERIC[kind])


def strip_png(data: bytes) -> Cleaned:
    out = bytearray(PNG_SIGNATURE)
    for kind, start, end in _png_chunks(data):
        if _png_chunk_kept(kind, end - start - 12):
            out += data[start:end]
    return Cleaned(bytes(out), UPRIGHT)


def png_residue(data: bytes) -> list[str]:
    found: list[str] = []
    end = 0
    for kind, start, end in _png_chunks(data):
        if not _png_chunk_kept(kind, end - start - 12):
            found.append(f"chunk {kind.decode('latin-1')!r} at byte {start}")
    if end != len(data):
        found.append(f"{len(data) - end} bytes after IEND")
    return found


# ------------------------------------------------------------------ either


def header_size(data: bytes, image_format: str) -> tuple[int, int]:
    """Width and height as the header declares them, read before anything is decoded."""
    if image_format == "PNG":
        if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 24:
            raise MalformedImage("a PNG must start with its IHDR chunk")
        width, height = struct.unpack(">II", data[16:24])
    else:
        frame = next((s for s in _jpeg_segments(data) if s.marker in _SOF or s.marker == _SOS), None)
        if frame is None or frame.marker not in _SOF or frame.end - frame.start < 9:
            raise MalformedImage("no frame header (SOFn) before the image data")
        height, width = struct.unpack(">HH", data[frame.start + 5 : frame.start + 9])
    if width == 0 or height == 0:
        raise MalformedImage(f"the header declares {width}×{height} pixels")
    return width, height


def clean(data: bytes, image_format: str) -> Cleaned:
    """The same image rebuilt from what its pixels need (see the module's docstring)."""
    return strip_jpeg(data) if image_format == "JPEG" else strip_png(data)


def residue(data: bytes, image_format: str) -> list[str]:
    """What the file holds beyond pixels; empty for a clean file."""
    return jpeg_residue(data) if image_format == "JPEG" else png_residue(data)
