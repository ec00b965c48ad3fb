"""The sigma calibration recovers the sigmas that synthetic repeated annotations were drawn with."""

from __future__ import annotations

import math
import random

import pytest

from cradlepose.domain.keypoint_schema import COCO17_SIGMAS
from cradlepose.domain.keypoints import Keypoint
from cradlepose.domain.person_box import object_area
from cradlepose.domain.sigma_calibration import (
    RepeatedAnnotations,
    SigmaEstimate,
    adopted_sigmas,
    estimate,
    labelled_points,
)

pytestmark = pytest.mark.unit

# Infant-like sigmas, deliberately unlike COCO's: a wider head, tighter limbs.
TRUE_SIGMAS = [
    0.05,
    0.04,
    0.04,
    0.06,
    0.06,
    0.09,
    0.09,
    0.05,
    0.05,
    0.03,
    0.03,
    0.12,
    0.12,
    0.07,
    0.07,
    0.04,
    0.04,
]
IDS = list(range(17))


def _truth(rng: random.Random) -> dict[int, tuple[float, float]]:
    """A person somewhere between 80 and 400 px across: its keypoints, spread over its box."""
    size = rng.uniform(80, 400)
    x0, y0 = rng.uniform(0, 200), rng.uniform(0, 200)
    points = {i: (x0 + rng.uniform(0, size), y0 + rng.uniform(0, size)) for i in IDS}
    points[0], points[16] = (x0, y0), (x0 + size, y0 + size)  # the box is exactly size × size
    return points


def _annotate(
    rng: random.Random, truth: dict[int, tuple[float, float]], area: float
) -> dict[int, tuple[float, float]]:
    """One annotation: each keypoint off by N(0, σ²s²/2) per axis, so E[d²/s²] = σ²."""
    scale = math.sqrt(area)
    return {
        i: (
            x + rng.gauss(0, TRUE_SIGMAS[i] * scale / math.sqrt(2)),
            y + rng.gauss(0, TRUE_SIGMAS[i] * scale / math.sqrt(2)),
        )
        for i, (x, y) in truth.items()
    }


def _area(points: dict[int, tuple[float, float]]) -> float:
    return object_area([Keypoint(id=i, x=x, y=y) for i, (x, y) in points.items()])


def test_against_the_verified_result_the_known_sigmas_come_back() -> None:
    rng = random.Random(20240501)
    images = []
    for _ in range(500):
        truth = _truth(rng)
        area = _area(truth)
        images.append(RepeatedAnnotations([_annotate(rng, truth, area) for _ in range(3)], reference=truth))
    estimates = estimate(images, IDS)
    for item, sigma in zip(estimates, TRUE_SIGMAS, strict=True):
        assert item.samples == 1500
        assert item.sigma == pytest.approx(sigma, rel=0.06)  # ~4 standard errors at 1500 samples


def test_from_the_spread_alone_the_known_sigmas_come_back() -> None:
    rng = random.Random(77)
    images = []
    for _ in range(600):
        truth = _truth(rng)
        area = _area(truth)
        images.append(RepeatedAnnotations([_annotate(rng, truth, area) for _ in range(4)], area=area))
    estimates = estimate(images, IDS)
    for item, sigma in zip(estimates, TRUE_SIGMAS, strict=True):
        assert item.samples == 600 * 3  # n - 1 per image
        assert item.sigma == pytest.approx(sigma, rel=0.06)


def test_a_keypoint_never_annotated_twice_has_no_estimate_and_keeps_its_sigma() -> None:
    truth = {0: (10.0, 10.0), 1: (110.0, 110.0)}
    image = RepeatedAnnotations([{0: (12.0, 10.0)}], reference=truth)
    [nose, eye] = estimate([image], [0, 1])
    assert nose.samples == 1
    assert nose.sigma == pytest.approx(math.sqrt(4 / 10_000))
    assert eye == SigmaEstimate(1, None, 0)
    current = dict(zip(IDS, COCO17_SIGMAS, strict=True))
    adopted = adopted_sigmas(current, [SigmaEstimate(0, 0.05, 40), SigmaEstimate(1, 0.07, 3)], min_samples=30)
    assert adopted[0] == 0.05
    assert adopted[1] == COCO17_SIGMAS[1]  # 3 samples are not enough


def test_absent_keypoints_are_no_samples() -> None:
    points = labelled_points([Keypoint(id=0, x=1, y=1, visible=2), Keypoint(id=1, x=0, y=0, visible=0)])
    assert points == {0: (1, 1)}
