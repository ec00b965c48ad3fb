"""The skeleton drawn over an image: what a reader of a report (or the demo) looks at first.

Left side blue, right side orange, the midline green. A visible keypoint is a filled dot, an
occluded one a ring; absent keypoints and the bones that need them are not drawn. Coordinates are
the original image's pixels; the picture is scaled down to `max_side` and drawn at that scale.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from cradlepose.domain.enums import Visibility
from cradlepose.domain.keypoints import Keypoint

LEFT = (52, 120, 246)
RIGHT = (255, 140, 26)
MIDDLE = (46, 204, 113)
OUTLINE = (255, 255, 255)


def _colour(name: str | None) -> tuple[int, int, int]:
    if name and name.startswith("left_"):
        return LEFT
    if name and name.startswith("right_"):
        return RIGHT
    return MIDDLE


def draw_skeleton(
    image_bytes: bytes,
    keypoints: Sequence[Keypoint],
    connections: Sequence[tuple[int, int]],
    *,
    max_side: int = 1024,
) -> bytes:
    """A PNG of the image with the skeleton over it."""
    from PIL import Image, ImageDraw, ImageOps  # noqa: PLC0415 - Pillow loads on first use, not with the API

    with Image.open(io.BytesIO(image_bytes)) as source:
        picture = ImageOps.exif_transpose(source).convert("RGB")
    width = picture.width
    picture.thumbnail((max_side, max_side))
    scale = picture.width / width if width else 1.0
    draw = ImageDraw.Draw(picture)
    side = max(picture.width, picture.height)
    line_width = max(2, round(side / 200))
    radius = max(3, round(side / 120))
    points = {k.id: k for k in keypoints if k.is_labelled}

    def at(k: Keypoint) -> tuple[float, float]:
        return k.x * scale, k.y * scale

    for a, b in connections:
        if a in points and b in points:
            start, end = points[a], points[b]
            colour = _colour(start.name) if _colour(start.name) == _colour(end.name) else MIDDLE
            draw.line([at(start), at(end)], fill=colour, width=line_width)
    for k in points.values():
        x, y = at(k)
        box = [x - radius, y - radius, x + radius, y + radius]
        if k.visible == Visibility.VISIBLE:
            draw.ellipse(box, fill=_colour(k.name), outline=OUTLINE, width=1)
        else:
            draw.ellipse(box, outline=_colour(k.name), width=max(2, line_width // 2 + 1))
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()


def side_by_side(left_png: bytes, right_png: bytes, gap: int = 8) -> bytes:
    """Two pictures next to each other on white, the same height (e.g. YOLO's and the verified skeleton)."""
    from PIL import Image  # noqa: PLC0415 - Pillow loads on first use, not with the API

    with Image.open(io.BytesIO(left_png)) as a, Image.open(io.BytesIO(right_png)) as b:
        height = min(a.height, b.height)
        a_scaled = a.convert("RGB").resize((round(a.width * height / a.height), height))
        b_scaled = b.convert("RGB").resize((round(b.width * height / b.height), height))
    canvas = Image.new("RGB", (a_scaled.width + gap + b_scaled.width, height), (255, 255, 255))
    canvas.paste(a_scaled, (0, 0))
    canvas.paste(b_scaled, (a_scaled.width + gap, 0))
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()
