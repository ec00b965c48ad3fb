"""The skeleton overlay: dots where the keypoints are, in their side's colour, scaled with the image."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from cradlepose.domain.enums import Visibility
from cradlepose.domain.keypoints import Keypoint
from cradlepose.imaging.overlay import LEFT, MIDDLE, RIGHT, draw_skeleton, side_by_side

pytestmark = pytest.mark.unit


def _jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (0, 0, 0)).save(out, format="PNG")
    return out.getvalue()


def _pixel(png: bytes, x: int, y: int) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(png)) as picture:
        return picture.convert("RGB").getpixel((x, y))  # type: ignore[return-value]


def _near(colour: tuple[int, int, int], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 8 for a, b in zip(colour, expected, strict=True))


def test_keypoints_are_drawn_where_they_are_scaled_down_with_the_image() -> None:
    keypoints = [
        Keypoint(id=5, name="left_shoulder", x=1200, y=400),
        Keypoint(id=6, name="right_shoulder", x=800, y=400),
        Keypoint(id=0, name="nose", x=1000, y=200),
        Keypoint(id=7, name="left_elbow", x=1400, y=800, visible=Visibility.OCCLUDED),
        Keypoint(id=8, name="right_elbow", x=600, y=800, visible=Visibility.ABSENT),
    ]
    png = draw_skeleton(_jpeg(2000, 1000), keypoints, [(5, 6), (5, 7), (6, 8)], max_side=1000)
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.size == (1000, 500)
    assert _near(_pixel(png, 600, 200), LEFT)
    assert _near(_pixel(png, 400, 200), RIGHT)
    assert _near(_pixel(png, 500, 100), MIDDLE)
    assert _near(_pixel(png, 500, 200), MIDDLE)  # the shoulder line joins two sides: midline colour
    assert _pixel(png, 700, 404) == (0, 0, 0)  # an occluded keypoint is a ring: inside it stays dark
    assert _near(_pixel(png, 650, 300), LEFT)  # the bone to it is drawn
    assert _pixel(png, 300, 400) == (0, 0, 0)  # an absent keypoint is not drawn
    assert _pixel(png, 350, 300) == (0, 0, 0)  # nor the bone that needs it


def test_side_by_side_keeps_both_at_the_same_height() -> None:
    combined = side_by_side(_jpeg(200, 100), _jpeg(100, 200), gap=10)
    with Image.open(io.BytesIO(combined)) as picture:
        assert picture.size == (200 + 10 + 50, 100)
