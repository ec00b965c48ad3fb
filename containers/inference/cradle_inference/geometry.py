"""Letterbox geometry: where an original image lands inside the network input, and back.

The arithmetic is Ultralytics' `LetterBox(auto=True, center=True)`, the transform its predictor
applies to a single image (`rect=True`): scale the longer side to the input size, round each
side, pad each dimension to the next multiple of the model stride, half the padding on each side.
Keeping the same integers is what makes keypoints agree with plain Ultralytics to the pixel.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


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


SHAPE_BUCKETS_PER_SIDE = 5  # letterboxed sides are rounded up to input_size * k / 5, k = 1..5


def shape_buckets(input_size: int, stride: int) -> tuple[int, ...]:
    """The few sides a bucketed letterbox may have: stride multiples, evenly spaced up to input_size.

    The longer side of a letterboxed image is always input_size, the shorter one any stride
    multiple below it: up to input_size / stride shapes per orientation (20 at 640), and cuDNN
    autotuning pays seconds for each new one. Five buckets bound that to at most nine shapes.
    """
    step = input_size / SHAPE_BUCKETS_PER_SIDE
    steps = range(1, SHAPE_BUCKETS_PER_SIDE + 1)
    sides = {max(stride, -(-round(step * k) // stride) * stride) for k in steps}
    return tuple(sorted(side for side in sides if side <= input_size))


def bucketed(geometry: LetterboxGeometry, buckets: tuple[int, ...]) -> LetterboxGeometry:
    """The same letterbox padded further, centred, to the smallest bucket side that holds each side.

    The content is resized exactly as before; only the grey border grows, so boxes and keypoints
    map back through the larger `top`/`left` unchanged.
    """
    height = _bucket_side(geometry.padded_height, buckets)
    width = _bucket_side(geometry.padded_width, buckets)
    return replace(
        geometry,
        top=geometry.top + (height - geometry.padded_height) // 2,
        left=geometry.left + (width - geometry.padded_width) // 2,
        padded_height=height,
        padded_width=width,
    )


def _bucket_side(side: int, buckets: tuple[int, ...]) -> int:
    return next((bucket for bucket in buckets if bucket >= side), side)
