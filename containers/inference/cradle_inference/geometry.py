"""Letterbox geometry: where an original image lands inside the network input, and back.

The arithmetic is Ultralytics' `LetterBox(auto=True, center=True)`, the transform its predictor
applies to a single image (`rect=True`): scale the longer side to the input size, round each
side, pad each dimension to the next multiple of the model stride, half the padding on each side.
Keeping the same integers is what makes keypoints agree with plain Ultralytics to the pixel.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LetterboxGeometry:
    height: int  # original image
    width: int
    resized_height: int  # image content inside the network input
    resized_width: int
    top: int  # padding before the content
    left: int
    padded_height: int  # network input, a multiple of the stride
    padded_width: int

    @property
    def padded_shape(self) -> tuple[int, int]:
        return self.padded_height, self.padded_width

    @property
    def scale_x(self) -> float:
        return self.resized_width / self.width

    @property
    def scale_y(self) -> float:
        return self.resized_height / self.height


def input_size_for(requested: int, stride: int) -> int:
    """The input size the model can take: the requested one rounded up to a multiple of the stride."""
    return max(stride, -(-requested // stride) * stride)


def letterbox_geometry(height: int, width: int, input_size: int, stride: int) -> LetterboxGeometry:
    if height < 1 or width < 1:
        raise ValueError(f"image has no pixels: {width}x{height}")
    ratio = min(input_size / height, input_size / width)
    resized_width = max(round(width * ratio), 1)
    resized_height = max(round(height * ratio), 1)
    pad_w = (input_size - resized_width) % stride
    pad_h = (input_size - resized_height) % stride
    # Ultralytics splits odd padding with round(d/2 - 0.1) before and round(d/2 + 0.1) after.
    top, bottom = round(pad_h / 2 - 0.1), round(pad_h / 2 + 0.1)
    left, right = round(pad_w / 2 - 0.1), round(pad_w / 2 + 0.1)
    return LetterboxGeometry(
        height=height,
        width=width,
        resized_height=resized_height,
        resized_width=resized_width,
        top=top,
        left=left,
        padded_height=resized_height + top + bottom,
        padded_width=resized_width + left + right,
    )
