"""What flows between the stages: encoded items in, prepared images grouped into network batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Generic, TypeVar

from cradle_inference.geometry import LetterboxGeometry

Item = tuple[int, str, bytes]  # image_id, key, encoded image
Pixels = TypeVar("Pixels")

MIN_BUCKET = 8  # smallest padded batch on the GPU (see bucket_size)


@dataclass(slots=True)
class PreparedImage(Generic[Pixels]):
    """One image decoded and letterboxed, waiting for the network."""

    position: int  # in the chunk being processed, to restore input order
    image_id: int
    key: str
    geometry: LetterboxGeometry
    pixels: Pixels
    seconds: float  # time spent on this image alone so far (decode, letterbox)


@dataclass(frozen=True, slots=True)
class FailedImage:
    position: int
    image_id: int
    key: str
    error: str
    seconds: float


def chunked(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def bucket_size(count: int, batch_size: int) -> int:
    """The batch size a group of `count` images is padded to: the next power of two from
    MIN_BUCKET, at most `batch_size`.

    With cuDNN autotuning on, every new input shape (batch size included) costs a search over
    convolution algorithms that takes far longer than a forward. Groups by letterboxed shape come
    in every size from 1 to batch_size, so unpadded they would make up to batch_size new shapes
    per letterboxed shape; buckets bound that to a handful, for at most twice the compute.
    """
    if count < 1:
        raise ValueError(f"a batch holds at least one image, not {count}")
    bucket = MIN_BUCKET
    while bucket < count:
        bucket *= 2
    return min(bucket, max(batch_size, count))


def group_by_shape(
    prepared: Sequence[PreparedImage[Pixels]], batch_size: int
) -> list[list[PreparedImage[Pixels]]]:
    """Batches of images that share a letterboxed shape, in first-seen order, at most batch_size each.

    Images of one recording share a resolution, so a chunk is usually one shape; mixed sizes
    simply make smaller batches, each still letterboxed the way Ultralytics does one image.
    """
    by_shape: dict[tuple[int, int], list[PreparedImage[Pixels]]] = {}
    for image in prepared:
        by_shape.setdefault(image.geometry.padded_shape, []).append(image)
    return [
        group[i : i + batch_size] for group in by_shape.values() for i in range(0, len(group), batch_size)
    ]
