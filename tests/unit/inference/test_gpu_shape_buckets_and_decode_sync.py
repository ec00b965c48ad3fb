"""GPU engine rules that are pure functions or call order, checked without a GPU.

- Letterboxed shapes are padded to a fixed small set of sides, so cuDNN autotunes once per bucket.
- nvJPEG runs on torchvision's private stream: the caller's stream is drained before the decode
  and the device waited on after it, before any decoded tensor is used.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from cradle_inference import gpu_decoding
from cradle_inference.geometry import bucketed, letterbox_geometry, shape_buckets

pytestmark = pytest.mark.unit


def test_the_buckets_at_640_are_five_stride_multiples() -> None:
    assert shape_buckets(640, 32) == (128, 256, 384, 512, 640)
    assert shape_buckets(1280, 64) == (256, 512, 768, 1024, 1280)
    assert all(side % 32 == 0 for side in shape_buckets(416, 32))
    assert shape_buckets(416, 32)[-1] == 416


@given(
    height=st.integers(min_value=1, max_value=4000),
    width=st.integers(min_value=1, max_value=4000),
    input_size=st.sampled_from([320, 416, 640, 1280]),
)
def test_a_bucketed_letterbox_keeps_the_content_and_lands_on_a_bucket(
    height: int, width: int, input_size: int
) -> None:
    exact = letterbox_geometry(height, width, input_size, 32)
    buckets = shape_buckets(input_size, 32)

    padded = bucketed(exact, buckets)

    # Each side is a bucket, never smaller than the exact letterbox
    assert padded.padded_height in buckets
    assert padded.padded_width in buckets
    assert padded.padded_height >= exact.padded_height
    assert padded.padded_width >= exact.padded_width
    # the content is resized exactly as before and still sits inside the input, centred
    assert (padded.resized_height, padded.resized_width) == (exact.resized_height, exact.resized_width)
    assert 0 <= padded.top <= padded.padded_height - padded.resized_height
    assert 0 <= padded.left <= padded.padded_width - padded.resized_width
    assert padded.top - exact.top == (padded.padded_height - exact.padded_height) // 2
    assert padded.left - exact.left == (padded.padded_width - exact.padded_width) // 2
    # and the way back to original pixels is unchanged
    assert (padded.scale_x, padded.scale_y) == (exact.scale_x, exact.scale_y)


def test_every_aspect_ratio_makes_at_most_nine_shapes() -> None:
    buckets = shape_buckets(640, 32)
    shapes = {
        bucketed(letterbox_geometry(h, w, 640, 32), buckets).padded_shape
        for h in range(100, 2200, 7)
        for w in range(100, 2200, 13)
    }
    assert len(shapes) <= 9
    exact = {
        letterbox_geometry(h, w, 640, 32).padded_shape
        for h in range(100, 2200, 7)
        for w in range(100, 2200, 13)
    }
    assert len(exact) > 30  # what autotuning would otherwise meet


class _RecordingStream:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def synchronize(self) -> None:
        self.calls.append("drain caller stream")


def test_nvjpeg_output_is_waited_for_before_it_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a decoder that records when it runs, and a device wait that records when it runs
    calls: list[str] = []

    def decode(tensors: Any, mode: Any, device: torch.device) -> list[torch.Tensor]:
        calls.append("nvjpeg")
        return [torch.zeros(3, 4, 4, dtype=torch.uint8) for _ in tensors]

    monkeypatch.setattr(gpu_decoding, "decode_jpeg", decode)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append("wait for device"))

    # When two JPEGs are decoded "on the GPU"
    images = gpu_decoding.decode_jpegs_on_gpu([b"a", b"b"], torch.device("cuda"), _RecordingStream(calls))

    # Then the caller's stream was drained first and the decode finished before anything was returned
    assert calls == ["drain caller stream", "nvjpeg", "wait for device"]
    assert len(images) == 2


def test_nothing_to_decode_touches_no_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append("wait for device"))

    assert gpu_decoding.decode_jpegs_on_gpu([], torch.device("cuda"), _RecordingStream(calls)) == []
    assert calls == []
