"""A perceptual hash: which images look the same after resizing or re-compression (issue 19).

`dhash` is the 64-bit difference hash: the image as shown (its EXIF orientation applied), in
grey, shrunk to 9×8, one bit per horizontally adjacent pair (is the left pixel brighter?).
Resizing and JPEG re-compression move few bits; different photographs differ in about half.
Two images are near-duplicates when their hashes differ in at most `NEAR_DUPLICATE_BITS` bits:
resized to 50–90 % and re-compressed at JPEG quality 60–95 they stay within it in the tests
(tests/unit/imaging/test_fingerprint.py), while distinct photographs stay far above it.
"""

from __future__ import annotations

import io

import numpy as np

NEAR_DUPLICATE_BITS = 10
_WIDTH, _HEIGHT = 9, 8
_TRANSPOSE_FOR_ORIENTATION = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}  # PIL Image.Transpose values


def dhash(data: bytes, orientation: int = 1) -> int:
    """The 64-bit dHash of an encoded image, as an unsigned integer."""
    from PIL import Image  # noqa: PLC0415 - Pillow loads on first use, not with the API

    with Image.open(io.BytesIO(data)) as image:
        image.draft("L", (_WIDTH * 8, _HEIGHT * 8))  # JPEG: decode at a reduced scale, far faster
        grey = image.convert("L")
    if orientation in _TRANSPOSE_FOR_ORIENTATION:
        grey = grey.transpose(Image.Transpose(_TRANSPOSE_FOR_ORIENTATION[orientation]))
    small = np.asarray(grey.resize((_WIDTH, _HEIGHT), Image.Resampling.LANCZOS), dtype=np.int16)
    brighter = (small[:, :-1] > small[:, 1:]).ravel()  # row by row, left to right: 64 bits
    return int.from_bytes(np.packbits(brighter).tobytes(), "big")


def distance(a: int, b: int) -> int:
    """Hamming distance of two 64-bit hashes (signed or unsigned alike)."""
    return ((a ^ b) & 0xFFFF_FFFF_FFFF_FFFF).bit_count()


def to_signed(value: int) -> int:
    """A 64-bit hash as Postgres bigint holds it."""
    return value - (1 << 64) if value >= 1 << 63 else value
