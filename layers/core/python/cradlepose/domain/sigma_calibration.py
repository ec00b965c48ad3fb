"""Per-keypoint OKS sigmas measured on infants, the way COCO measured its own on adults.

COCO defines each keypoint's σ from redundantly annotated images as σ² = E[d² / s²]: d is how
far one annotation of the keypoint lies from the keypoint's true place, s² the person's area.
Cradle estimates the same quantity from images annotated more than once:

- with a verified result (the image's final, approved keypoints) as the true place, every other
  annotation of the image contributes d² / s² for each keypoint labelled in both:
      σ̂² = Σ d² / s²  /  (number of such pairs);
- without one, from the spread of the n annotations around their mean: for independent, unbiased
  annotations E[Σ_k |x_k − x̄|²] = (n − 1)·E[d²], so
      σ̂² = Σ_images Σ_k |x_k − x̄|² / s²  /  Σ_images (n − 1).

s² is domain.person_box.object_area of the reference (the verified keypoints, else the mean
annotation): the scale every OKS in Cradle uses, so adopted sigmas mean in Cradle exactly what
they meant where they were measured. Because that area is the keypoints' box rather than COCO's
segment area, the numbers are comparable with COCO's in ranking and ratio, not digit for digit.
Each estimate comes with the number of samples behind it; a keypoint with fewer than
MIN_SAMPLES keeps its current sigma when a schema adopts the calibration.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cradlepose.domain.keypoints import Keypoint
from cradlepose.domain.person_box import object_area

MIN_SAMPLES = 30
Point = tuple[float, float]


@dataclass(frozen=True)
class RepeatedAnnotations:
    """The annotations one image received, by keypoint id (labelled keypoints only)."""

    annotations: Sequence[Mapping[int, Point]]
    reference: Mapping[int, Point] | None = None  # the verified result, when there is one
    area: float | None = None  # s²; None: the area of the reference (or of the mean annotation)


@dataclass(frozen=True)
class SigmaEstimate:
    keypoint_id: int
    sigma: float | None  # None when no sample
    samples: int


def labelled_points(keypoints: Iterable[Keypoint]) -> dict[int, Point]:
    return {k.id: (k.x, k.y) for k in keypoints if k.is_labelled}


def estimate(images: Iterable[RepeatedAnnotations], keypoint_ids: Sequence[int]) -> list[SigmaEstimate]:
    """σ̂ and its sample count for every keypoint id, in the order given."""
    squared: dict[int, float] = dict.fromkeys(keypoint_ids, 0.0)
    weight: dict[int, int] = dict.fromkeys(keypoint_ids, 0)
    for image in images:
        area = image.area if image.area is not None else _area(image)
        if area <= 0:
            continue  # a person with no extent has no scale to normalize by
        for keypoint_id in keypoint_ids:
            if image.reference is not None:
                total, count = _against_reference(image, keypoint_id)
            else:
                total, count = _around_mean(image, keypoint_id)
            squared[keypoint_id] += total / area
            weight[keypoint_id] += count
    return [
        SigmaEstimate(
            keypoint_id=i,
            sigma=math.sqrt(squared[i] / weight[i]) if weight[i] else None,
            samples=weight[i],
        )
        for i in keypoint_ids
    ]


def _against_reference(image: RepeatedAnnotations, keypoint_id: int) -> tuple[float, int]:
    assert image.reference is not None
    truth = image.reference.get(keypoint_id)
    if truth is None:
        return 0.0, 0
    points = [a[keypoint_id] for a in image.annotations if keypoint_id in a]
    return sum(_squared(p, truth) for p in points), len(points)


def _around_mean(image: RepeatedAnnotations, keypoint_id: int) -> tuple[float, int]:
    points = [a[keypoint_id] for a in image.annotations if keypoint_id in a]
    if len(points) < 2:
        return 0.0, 0
    mean = (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
    return sum(_squared(p, mean) for p in points), len(points) - 1


def _area(image: RepeatedAnnotations) -> float:
    if image.reference is not None:
        points = image.reference
    else:
        ids = set().union(*(a.keys() for a in image.annotations)) if image.annotations else set()
        points = {
            i: (
                sum(a[i][0] for a in image.annotations if i in a)
                / sum(1 for a in image.annotations if i in a),
                sum(a[i][1] for a in image.annotations if i in a)
                / sum(1 for a in image.annotations if i in a),
            )
            for i in ids
        }
    return object_area([Keypoint(id=i, x=x, y=y) for i, (x, y) in points.items()])


def _squared(a: Point, b: Point) -> float:
    return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2


def adopted_sigmas(
    current: Mapping[int, float], estimates: Iterable[SigmaEstimate], min_samples: int = MIN_SAMPLES
) -> dict[int, float]:
    """The sigmas a schema takes on: the estimate where enough samples back it, else the current one."""
    result = dict(current)
    for item in estimates:
        if item.sigma is not None and item.samples >= min_samples and item.sigma > 0:
            result[item.keypoint_id] = round(min(item.sigma, 1.0), 4)
    return result
