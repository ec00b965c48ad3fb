"""Resize-and-pad into the network input, on the CPU (OpenCV) and on the GPU (torch).

Both follow `geometry.letterbox_geometry`: bilinear resize to the rounded size, then a border of
grey 114 split around the content. torch's bilinear interpolation with align_corners=False and
no antialiasing samples the same source points as cv2.INTER_LINEAR, so the GPU input differs
from the CPU one only by OpenCV's fixed-point rounding.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias

from cradle_inference.decoding import BgrImage
from cradle_inference.geometry import LetterboxGeometry

PAD_VALUE = 114

RgbImage = npt.NDArray[np.uint8]  # (height, width, 3), RGB


def letterbox_cpu(image: BgrImage, geometry: LetterboxGeometry, *, rgb: bool = True) -> RgbImage:
    """BGR in, letterboxed RGB out (the channel swap rides along with the copy the border makes),
    or letterboxed BGR with `rgb=False`, for a network that reads BGR (the ONNX graph)."""
    size = (geometry.resized_width, geometry.resized_height)
    resized = image if size == image.shape[1::-1] else cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    bottom = geometry.padded_height - geometry.resized_height - geometry.top
    right = geometry.padded_width - geometry.resized_width - geometry.left
    padded = cv2.copyMakeBorder(
        resized, geometry.top, bottom, geometry.left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
    )
    if not rgb:
        return np.asarray(padded, dtype=np.uint8)
    return np.asarray(cv2.cvtColor(padded, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def stack_cpu(images: list[RgbImage], dtype: torch.dtype) -> torch.Tensor:
    """(batch, 3, H, W) in [0, 1], channels-last in memory as the network wants it (no transpose copy)."""
    nhwc = torch.from_numpy(np.stack(images))
    return nhwc.permute(0, 3, 1, 2).to(dtype).div_(255)


def letterbox_cuda(image: torch.Tensor, geometry: LetterboxGeometry, out: torch.Tensor) -> None:
    """Write one RGB uint8 (3, h, w) device image into `out`, a (3, H, W) slice already filled with
    the padding value in the network's dtype and scale."""
    content = image.unsqueeze(0).float()
    if (geometry.resized_height, geometry.resized_width) != tuple(image.shape[1:]):
        content = F.interpolate(
            content,
            size=(geometry.resized_height, geometry.resized_width),
            mode="bilinear",
            align_corners=False,
            antialias=False,
        )
    top, left = geometry.top, geometry.left
    out[:, top : top + geometry.resized_height, left : left + geometry.resized_width] = content[0].div_(255)


def padded_batch_cuda(
    count: int, geometry: LetterboxGeometry, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """A (count, 3, H, W) channels-last batch filled with the padding grey, for letterbox_cuda to fill."""
    shape = (count, 3, geometry.padded_height, geometry.padded_width)
    batch = torch.empty(shape, dtype=dtype, device=device, memory_format=torch.channels_last)
    return batch.fill_(PAD_VALUE / 255)
