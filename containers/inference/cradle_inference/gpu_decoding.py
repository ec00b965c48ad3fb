"""Batched JPEG decoding on the GPU (nvJPEG through torchvision), with the CPU as the safety net.

nvJPEG decodes a whole list in one call, but it fails the whole call for one bad file, it does
not apply EXIF orientation (OpenCV, and so Ultralytics, does) and it does not handle every JPEG
flavour (CMYK, some grey). So only plain RGB/grey JPEGs with no rotation go to the GPU; a failed
batch is retried one by one, and whatever the GPU will not decode goes to OpenCV on the CPU,
which then also gives the precise error for files that are not images at all.
"""

from __future__ import annotations

import io
import warnings
from typing import Protocol

import torch
from PIL import ExifTags, Image
from torchvision.io import ImageReadMode, decode_jpeg

from cradle_inference.decoding import is_jpeg
from cradle_inference.jpeg_structure import jpeg_damage

RGB_CHANNELS = 3
UPRIGHT = 1  # EXIF orientation: as stored


def gpu_decodable(data: bytes) -> bool:
    """A JPEG nvJPEG decodes to the same upright RGB pixels OpenCV would (read from the header only)."""
    if not is_jpeg(data) or jpeg_damage(data) is not None:  # the CPU path words the error
        return False
    try:
        with Image.open(io.BytesIO(data)) as header:
            orientation = header.getexif().get(ExifTags.Base.Orientation, UPRIGHT)
            return header.format == "JPEG" and header.mode in {"RGB", "L"} and orientation == UPRIGHT
    except Exception:  # any header PIL cannot parse: OpenCV decides, and words the error
        return False


class Synchronizable(Protocol):
    """A CUDA stream, as far as decoding needs one (a stub on the CPU in tests)."""

    def synchronize(self) -> None: ...


def decode_jpegs_on_gpu(
    encoded: list[bytes], device: torch.device, stream: Synchronizable
) -> list[torch.Tensor | None]:
    """RGB uint8 (3, h, w) device tensors, None where nvJPEG could not decode the file.

    `stream` is the caller's current stream. torchvision runs nvJPEG on a private stream of its
    own: its output is allocated on the caller's stream but written on the private one, which
    does not wait for work still queued on the caller's stream (pytorch/vision#9606), and
    whether the caller's stream waits for the decode afterwards depends on the torchvision
    build. So the caller's stream is drained before the call, and the host waits for the decode
    before any tensor is handed on: a letterbox queued after this sees finished pixels.
    """
    if not encoded:
        return []
    stream.synchronize()  # no queued kernel still reads memory the decoder could be handed
    images = _decode_all(encoded, device)
    if images and device.type == "cuda":  # complete before letterbox or the network reads them
        torch.cuda.synchronize(device)
    return images


def _decode_all(encoded: list[bytes], device: torch.device) -> list[torch.Tensor | None]:
    # decode_jpeg wants CPU uint8 tensors; bytearray makes the buffer writable, as torch requires.
    tensors = [torch.frombuffer(bytearray(data), dtype=torch.uint8) for data in encoded]
    with warnings.catch_warnings():
        # torchvision 0.29 marks its decoders deprecated in favour of TorchCodec; they still work.
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        try:
            batch: list[torch.Tensor] = decode_jpeg(tensors, mode=ImageReadMode.RGB, device=device)
            return [_checked(image) for image in batch]
        except RuntimeError:
            return [_decode_one(tensor, device) for tensor in tensors]


def _decode_one(tensor: torch.Tensor, device: torch.device) -> torch.Tensor | None:
    try:
        image: torch.Tensor = decode_jpeg(tensor, mode=ImageReadMode.RGB, device=device)
    except RuntimeError:
        return None
    return _checked(image)


def _checked(image: torch.Tensor) -> torch.Tensor | None:
    return image if image.ndim == RGB_CHANNELS and image.shape[0] == RGB_CHANNELS else None
