"""Synthetic pictures of an infant lying on a blanket, with YOLO-like keypoints for them.

No photograph of a real infant belongs in a repository: the browser tests and the screenshots
draw a stylised one (head, onesie, limbs) whose joints are exactly where the "true" keypoints
are, and YOLO's guess is that truth plus noise, with a few joints clearly off, so there is
something to correct.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from cradlepose.domain.keypoint_schema import COCO17_NAMES

WIDTH, HEIGHT = 960, 720

# A supine infant facing the camera, head up, in a 960×720 frame (COCO 17 order). Their left is
# the picture's right.
_BASE: tuple[tuple[float, float], ...] = (
    (480, 150), (498, 132), (462, 132), (554, 146), (406, 146),
    (540, 240), (420, 240), (600, 320), (360, 320), (630, 400), (330, 400),
    (520, 420), (440, 420), (560, 520), (400, 520), (580, 610), (380, 610),
)  # fmt: skip

_BLANKETS = ((232, 222, 240), (214, 232, 226), (240, 228, 212), (220, 228, 242))
_ONESIES = ((120, 170, 220), (236, 168, 180), (150, 196, 150), (246, 206, 120))
_SKIN = (236, 196, 170)
_SKIN_SHADE = (214, 170, 146)


@dataclass(frozen=True)
class Scene:
    jpeg: bytes
    truth: list[tuple[float, float]]
    yolo: dict[str, Any]


def pose(seed: int) -> list[tuple[float, float]]:
    """The true joint positions of picture `seed`: the base pose, limbs swung a little."""
    rng = random.Random(seed)
    points = [(x + rng.uniform(-6, 6), y + rng.uniform(-6, 6)) for x, y in _BASE]
    for shoulder, elbow, wrist in ((5, 7, 9), (6, 8, 10)):
        angle = rng.uniform(-0.35, 0.35)
        points[elbow] = _rotate(points[elbow], points[shoulder], angle)
        points[wrist] = _rotate(points[wrist], points[shoulder], angle * 1.3)
    for hip, knee, ankle in ((11, 13, 15), (12, 14, 16)):
        angle = rng.uniform(-0.25, 0.25)
        points[knee] = _rotate(points[knee], points[hip], angle)
        points[ankle] = _rotate(points[ankle], points[hip], angle * 1.2)
    return [(round(x, 1), round(y, 1)) for x, y in points]


def yolo_guess(truth: list[tuple[float, float]], seed: int) -> dict[str, Any]:
    """YOLO's keypoints: the truth with a few pixels of noise, and two joints clearly off."""
    rng = random.Random(1000 + seed)
    off = set(rng.sample([7, 8, 9, 10, 13, 14, 15, 16], 2))
    keypoints = []
    for i, (x, y) in enumerate(truth):
        if i in off:
            dx, dy = rng.choice((-1, 1)) * rng.uniform(22, 34), rng.choice((-1, 1)) * rng.uniform(18, 30)
            confidence = round(rng.uniform(0.35, 0.6), 2)
        else:
            dx, dy = rng.gauss(0, 2.0), rng.gauss(0, 2.0)
            confidence = round(rng.uniform(0.82, 0.97), 2)
        keypoints.append(
            {
                "id": i,
                "name": COCO17_NAMES[i],
                "x": round(min(max(x + dx, 1), WIDTH - 1), 1),
                "y": round(min(max(y + dy, 1), HEIGHT - 1), 1),
                "confidence": confidence,
                "visible": 2,
            }
        )
    return {"keypoints": keypoints}


def scene(seed: int) -> Scene:
    truth = pose(seed)
    return Scene(jpeg=draw(truth, seed), truth=truth, yolo=yolo_guess(truth, seed))


def thumbnail(jpeg: bytes, side: int = 320) -> bytes:
    image = Image.open(io.BytesIO(jpeg))
    image.thumbnail((side, side))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


# ------------------------------------------------------------------ drawing

_SS = 2  # supersampling, for smooth edges


def draw(points: list[tuple[float, float]], seed: int) -> bytes:
    rng = random.Random(seed)
    blanket = _BLANKETS[seed % len(_BLANKETS)]
    onesie = _ONESIES[seed % len(_ONESIES)]
    image = Image.new("RGB", (WIDTH * _SS, HEIGHT * _SS), blanket)
    pen = ImageDraw.Draw(image)
    _blanket_pattern(pen, blanket, rng)
    p = [(x * _SS, y * _SS) for x, y in points]
    shadow = Image.new("L", image.size, 0)
    _body(ImageDraw.Draw(shadow), p, 255, 255)
    shadow = shadow.filter(ImageFilter.GaussianBlur(14 * _SS))
    image.paste((150, 140, 160), (10 * _SS, 14 * _SS), shadow.point(lambda v: v * 0.35))
    _body(pen, p, onesie, _SKIN)
    _face(pen, p)
    image = image.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def _blanket_pattern(pen: ImageDraw.ImageDraw, colour: tuple[int, int, int], rng: random.Random) -> None:
    darker = tuple(max(0, c - 9) for c in colour)
    step = 48 * _SS
    for x in range(0, WIDTH * _SS, step):
        pen.rectangle((x, 0, x + step // 3, HEIGHT * _SS), fill=darker)
    for y in range(0, HEIGHT * _SS, step):
        pen.rectangle((0, y, WIDTH * _SS, y + step // 3), fill=darker)
    for _ in range(40):
        cx, cy = rng.uniform(0, WIDTH * _SS), rng.uniform(0, HEIGHT * _SS)
        r = rng.uniform(3, 6) * _SS
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=tuple(min(255, c + 16) for c in colour))


def _limb(
    pen: ImageDraw.ImageDraw, a: tuple[float, float], b: tuple[float, float], width: float, fill: Any
) -> None:
    pen.line((a, b), fill=fill, width=int(width))
    r = width / 2
    for x, y in (a, b):
        pen.ellipse((x - r, y - r, x + r, y + r), fill=fill)


def _body(pen: ImageDraw.ImageDraw, p: list[tuple[float, float]], onesie: Any, skin: Any) -> None:
    s = _SS
    # legs and arms: onesie sleeves to the knees and elbows, skin below
    for hip, knee, ankle in ((11, 13, 15), (12, 14, 16)):
        _limb(pen, p[hip], p[knee], 58 * s, onesie)
        _limb(pen, p[knee], p[ankle], 44 * s, skin)
        x, y = p[ankle]
        pen.ellipse((x - 22 * s, y - 12 * s, x + 22 * s, y + 26 * s), fill=skin)
    for shoulder, elbow, wrist in ((5, 7, 9), (6, 8, 10)):
        _limb(pen, p[shoulder], p[elbow], 46 * s, onesie)
        _limb(pen, p[elbow], p[wrist], 36 * s, skin)
        x, y = p[wrist]
        pen.ellipse((x - 19 * s, y - 19 * s, x + 19 * s, y + 19 * s), fill=skin)
    # torso: a rounded quadrilateral over shoulders and hips
    trunk = [p[5], p[6], p[11], p[12]]
    left = min(x for x, _ in trunk) - 30 * s
    right = max(x for x, _ in trunk) + 30 * s
    top = min(p[5][1], p[6][1]) - 24 * s
    bottom = max(p[11][1], p[12][1]) + 34 * s
    pen.rounded_rectangle((left, top, right, bottom), radius=60 * s, fill=onesie)
    # neck and head
    nose = p[0]
    _limb(pen, ((p[5][0] + p[6][0]) / 2, top + 10 * s), nose, 50 * s, skin)
    head_r = 78 * s
    cx, cy = nose[0], nose[1] - 12 * s
    pen.ellipse((cx - head_r, cy - head_r * 1.08, cx + head_r, cy + head_r), fill=skin)
    for ear in (p[3], p[4]):
        x, y = ear
        pen.ellipse((x - 14 * s, y - 20 * s, x + 14 * s, y + 20 * s), fill=skin)


def _face(pen: ImageDraw.ImageDraw, p: list[tuple[float, float]]) -> None:
    s = _SS
    for eye in (p[1], p[2]):
        x, y = eye
        pen.ellipse((x - 7 * s, y - 5 * s, x + 7 * s, y + 5 * s), fill=(70, 52, 48))
    x, y = p[0]
    pen.ellipse((x - 6 * s, y - 4 * s, x + 6 * s, y + 6 * s), fill=_SKIN_SHADE)
    pen.arc(
        (x - 16 * s, y + 6 * s, x + 16 * s, y + 26 * s), start=20, end=160, fill=(190, 120, 120), width=3 * s
    )
    for ear in (p[3], p[4]):
        ex, ey = ear
        pen.ellipse((ex - 6 * s, ey - 9 * s, ex + 6 * s, ey + 9 * s), fill=_SKIN_SHADE)


def _rotate(point: tuple[float, float], centre: tuple[float, float], angle: float) -> tuple[float, float]:
    x, y = point[0] - centre[0], point[1] - centre[1]
    c, s = math.cos(angle), math.sin(angle)
    return (centre[0] + x * c - y * s, centre[1] + x * s + y * c)
