"""A structural check of JPEG files, because decoders forgive too much.

libjpeg, inside OpenCV (and so inside Ultralytics), decodes a JPEG whose compressed data is
damaged with no more than a warning on stderr and returns an image with grey or garbage blocks.
An annotation platform must not pre-annotate such a picture as if it were fine. The check walks
the marker segments up to the first scan, then the compressed data: there a 0xFF byte may only
be followed by 0x00 (stuffing), a restart marker, 0xFF fill, or a real segment marker (between
the scans of a progressive JPEG); the first end-of-image marker ends the image, and anything
after it (camera trailers) is ignored. It reads bytes only (numpy), well under a millisecond
for a 1080p frame.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_MARKER = 0xFF
_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_RST_FIRST, _RST_LAST = 0xD0, 0xD7
_FIRST_SEGMENT_MARKER = 0xC0  # markers below this (other than stuffing) never occur in a JPEG


def jpeg_damage(data: bytes) -> str | None:
    """Why this JPEG's structure is broken, or None when it is intact."""
    array = np.frombuffer(data, dtype=np.uint8)
    if len(array) < 4 or array[0] != _MARKER or array[1] != _SOI:
        return "no JPEG start-of-image marker"
    scan_data = _first_scan_data(array)
    if isinstance(scan_data, str):
        return scan_data
    return _scan_damage(array, scan_data)


def _first_scan_data(array: npt.NDArray[np.uint8]) -> int | str:
    """Offset of the first compressed data (after the first SOS header), or what is wrong."""
    position = 2
    while True:
        if position + 4 > len(array):
            return "truncated before the image data"
        if array[position] != _MARKER:
            return f"no marker where one must be (byte {position})"
        marker = int(array[position + 1])
        if marker == _MARKER:  # fill byte before a marker
            position += 1
            continue
        if marker < _FIRST_SEGMENT_MARKER or _RST_FIRST <= marker <= _EOI:
            return f"unexpected marker 0x{marker:02X} in the header (byte {position})"
        length = _segment_length(array, position)
        if length < 2:
            return f"impossible segment length {length} (byte {position})"
        position += 2 + length
        if marker == _SOS:
            return position


def _scan_damage(array: npt.NDArray[np.uint8], position: int) -> str | None:
    while position < len(array):
        region = array[position:]
        escapes = np.flatnonzero(region[:-1] == _MARKER)
        following = region[escapes + 1]
        ordinary = (
            (following == 0) | (following == _MARKER) | ((following >= _RST_FIRST) & (following <= _RST_LAST))
        )
        special = np.flatnonzero(~ordinary)
        if special.size == 0:
            break
        at = position + int(escapes[special[0]])
        marker = int(following[special[0]])
        if marker == _EOI:
            return None
        if marker < _FIRST_SEGMENT_MARKER or marker == _SOI:
            return f"corrupt compressed data (byte {at})"
        # A segment between scans (tables, the next scan's header): skip it by its length.
        if at + 4 > len(array):
            break
        position = at + 2 + _segment_length(array, at)
    return "truncated: no end-of-image marker"


def _segment_length(array: npt.NDArray[np.uint8], marker_position: int) -> int:
    return int(array[marker_position + 2]) << 8 | int(array[marker_position + 3])
