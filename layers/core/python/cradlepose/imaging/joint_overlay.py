"""The overlay of an anomaly analysis: the skeleton with each joint coloured by its share of the score.

Drawn over the image's thumbnail when there is one (it is already stripped of metadata and
stored in the derived bucket), else over a plain canvas of the image's shape. Joints with a larger
share are larger and redder; a caption names the joints and says it is a research aid.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

OUTPUT_SIDE = 512
CANVAS = (32, 36, 44)
BONE = (200, 200, 200)
CAPTION_HEIGHT = 34


def share_colour(share: float, largest: float) -> tuple[int, int, int]:
    """Blue for no share, through yellow, to red for the largest share."""
    t = 0.0 if largest <= 0 else max(0.0, min(1.0, share / largest))
    if t < 0.5:
        u = t / 0.5
        return (int(40 + 215 * u), int(120 + 135 * u), int(255 * (1 - u)))
    u = (t - 0.5) / 0.5
    return (255, int(255 * (1 - u)), 0)


def render(
    points: Mapping[str, tuple[float, float]],
    shares: Mapping[str, float],
    bones: Sequence[tuple[str, str]],
    image_size: tuple[int, int],
    caption: str,
    background: bytes | None = None,
) -> bytes:
    """A PNG: `points` (pixels of the original image) drawn on the thumbnail or a canvas."""
    from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415 - Pillow loads on first use, not with the API

    width, height = image_size
    scale = OUTPUT_SIDE / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    base = _background(background, size)
    canvas = Image.new("RGB", (size[0], size[1] + CAPTION_HEIGHT), CANVAS)
    canvas.paste(base, (0, 0))
    draw = ImageDraw.Draw(canvas)

    def at(name: str) -> tuple[float, float]:
        x, y = points[name]
        return x * scale, y * scale

    for a, b in bones:
        if a in points and b in points:
            draw.line([at(a), at(b)], fill=BONE, width=2)
    largest = max(shares.values(), default=0.0)
    for name in sorted(points, key=lambda n: shares.get(n, 0.0)):  # the largest drawn last, on top
        share = shares.get(name, 0.0)
        radius = 3 + 12 * (share / largest if largest > 0 else 0.0)
        x, y = at(name)
        draw.ellipse(
            [x - radius, y - radius, x + radius, y + radius],
            fill=share_colour(share, largest),
            outline=(0, 0, 0),
        )
    font = ImageFont.load_default()
    draw.text((6, size[1] + 4), caption[:90], fill=(255, 255, 255), font=font)
    draw.text((6, size[1] + 18), "Research aid, not a diagnosis.", fill=(255, 210, 120), font=font)
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _background(data: bytes | None, size: tuple[int, int]) -> Image.Image:
    from PIL import Image  # noqa: PLC0415 - Pillow loads on first use, not with the API

    if data:
        try:
            with Image.open(io.BytesIO(data)) as thumb:
                # Dimmed, so the coloured joints stand out.
                return Image.blend(thumb.convert("RGB").resize(size), Image.new("RGB", size, CANVAS), 0.45)
        except (OSError, ValueError):
            pass  # an unreadable thumbnail: the plain canvas will do
    return Image.new("RGB", size, CANVAS)
