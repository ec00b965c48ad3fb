"""Letterbox geometry and pixels match Ultralytics' LetterBox, on the CPU and with the GPU code."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from ultralytics.data.augment import LetterBox

from cradle_inference.batching import PreparedImage, group_by_shape
from cradle_inference.geometry import input_size_for, letterbox_geometry
from cradle_inference.letterbox import letterbox_cpu, letterbox_cuda, padded_batch_cuda

pytestmark = pytest.mark.unit


@settings(max_examples=300, deadline=None)
@given(height=st.integers(1, 4000), width=st.integers(1, 4000), size=st.sampled_from([320, 640, 1280]))
def test_geometry_is_ultralytics_rect_letterbox(height: int, width: int, size: int) -> None:
    params = LetterBox(size, auto=True, stride=32).get_params({"img": np.empty((height, width, 3), np.uint8)})

    geometry = letterbox_geometry(height, width, size, stride=32)

    assert (geometry.resized_width, geometry.resized_height) == params["new_unpad"]
    assert (geometry.top, geometry.left) == (params["top"], params["left"])
    assert geometry.padded_height == params["top"] + params["new_unpad"][1] + params["bottom"]
    assert geometry.padded_width == params["left"] + params["new_unpad"][0] + params["right"]
    assert geometry.padded_height % 32 == 0
    assert geometry.padded_width % 32 == 0


def test_input_size_rounds_up_to_the_stride() -> None:
    assert input_size_for(640, 32) == 640
    assert input_size_for(650, 32) == 672
    assert input_size_for(10, 32) == 32


@pytest.mark.parametrize(
    ("height", "width"), [(1080, 1920), (1920, 1080), (720, 1280), (1080, 810), (333, 517)]
)
def test_cpu_letterbox_pixels_are_ultralytics_pixels(height: int, width: int) -> None:
    rng = np.random.default_rng(height * width)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    expected_bgr = np.asarray(LetterBox(640, auto=True, stride=32)(image=image))

    rgb = letterbox_cpu(image, letterbox_geometry(height, width, 640, 32))

    assert np.array_equal(rgb, expected_bgr[..., ::-1])


@pytest.mark.parametrize(("height", "width"), [(1080, 1920), (1080, 810), (333, 517), (400, 600)])
def test_gpu_letterbox_matches_the_cpu_one(height: int, width: int) -> None:
    # letterbox_cuda is plain torch: run on the CPU device, it is the same arithmetic as on a GPU.
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    smooth = np.asarray(cv2.GaussianBlur(noise, (9, 9), 3), dtype=np.uint8)
    geometry = letterbox_geometry(height, width, 640, 32)
    expected = letterbox_cpu(smooth, geometry).astype(np.float32) / 255
    batch = padded_batch_cuda(2, geometry, torch.float32, torch.device("cpu"))
    rgb_chw = torch.from_numpy(np.ascontiguousarray(smooth[..., ::-1])).permute(2, 0, 1)

    letterbox_cuda(rgb_chw, geometry, batch[1])

    got = batch[1].permute(1, 2, 0).numpy()
    # OpenCV resizes in fixed point and rounds to uint8; torch keeps floats: a grey level at most.
    assert np.abs(got - expected).max() <= 1.5 / 255
    assert torch.all(batch[0] == 114 / 255)


def test_images_are_grouped_by_padded_shape_in_first_seen_order() -> None:
    def image(position: int, height: int, width: int) -> PreparedImage[None]:
        return PreparedImage(
            position, position, f"k{position}", letterbox_geometry(height, width, 640, 32), None, 0.0
        )

    landscape, portrait = (1080, 1920), (1920, 1080)
    images = [
        image(0, *landscape),
        image(1, *portrait),
        image(2, *landscape),
        image(3, 720, 1280),
        image(4, *portrait),
    ]

    groups = group_by_shape(images, batch_size=2)

    # 1080p and 720p landscape both letterbox to 384 x 640
    assert [[i.position for i in group] for group in groups] == [[0, 2], [3], [1, 4]]
