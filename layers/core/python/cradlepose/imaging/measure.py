"""Measurements for the quality score (see cradlepose.domain.quality) and the thumbnail."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from cradlepose.domain.quality import ImageMeasurements

if TYPE_CHECKING:
    import numpy as np

ANALYSIS_SIDE = 1024


def _grayscale(data: bytes, side: int) -> tuple[np.ndarray, int, int]:
    # Pillow and numpy load on first use: the API imports this module (uploads) but never measures.
    import numpy as np  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        image.draft("L", (side, side))  # JPEG: decode at a reduced scale, much faster on big images
        gray = image.convert("L")
        gray.thumbnail((side, side))
        return np.asarray(gray, dtype=np.float32), width, height


def measure(data: bytes) -> ImageMeasurements:
    pixels, width, height = _grayscale(data, ANALYSIS_SIDE)
    laplacian = (
        -4.0 * pixels[1:-1, 1:-1]
        + pixels[:-2, 1:-1]
        + pixels[2:, 1:-1]
        + pixels[1:-1, :-2]
        + pixels[1:-1, 2:]
    )
    total = float(pixels.size)
    return ImageMeasurements(
        width=width,
        height=height,
        sharpness=float(laplacian.var()) if laplacian.size else 0.0,
        brightness=float(pixels.mean()),
        dark_fraction=float((pixels <= 10).sum()) / total,
        bright_fraction=float((pixels >= 245).sum()) / total,
    )


def thumbnail(data: bytes, max_side: int) -> bytes:
    """A small JPEG, upright: the EXIF orientation a stored image keeps is applied here."""
    from PIL import Image, ImageOps  # noqa: PLC0415 - Pillow loads on first use, not with the API

    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (max_side, max_side))
        small = ImageOps.exif_transpose(image).convert("RGB")
        small.thumbnail((max_side, max_side))
        buffer = io.BytesIO()
        small.save(buffer, "JPEG", quality=85, optimize=True)
        return buffer.getvalue()
