"""The rule of a model's registry figures, and the warnings audited entries carry."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cradlepose.domain.inference import ImageResult
from cradlepose.domain.model_statistics import ModelFigures, RunTally
from cradlepose.domain.quality import registration_warnings

pytestmark = pytest.mark.unit


def _result(image_id: int, *, ok: bool = True, confidence: float | None = 0.8, ms: int = 50) -> ImageResult:
    return ImageResult(
        image_id=image_id, key=f"k{image_id}", ok=ok, error=None if ok else "cannot decode",
        yolo_confidence=confidence if ok else None, processing_time_ms=ms,
    )  # fmt: skip


def test_a_tally_counts_a_pose_only_where_the_model_found_a_person_without_error() -> None:
    tally = RunTally.of(
        [_result(1, confidence=0.9), _result(2, confidence=None), _result(3, ok=False, ms=5), _result(4)]
    )
    assert (tally.images, tally.posed, tally.processing_ms) == (4, 2, 155)
    assert tally.confidence_sum == pytest.approx(1.7)


def test_figures_are_ratios_of_sums_not_averages_of_averages() -> None:
    # one run of one image at 0.9, one of three images at 0.5: the mean is over the four poses
    small = RunTally.of([_result(1, confidence=0.9, ms=100)])
    large = RunTally.of([_result(i, confidence=0.5, ms=20) for i in range(2, 5)])
    figures = ModelFigures.of([small, large])
    assert figures == ModelFigures(
        avg_processing_time_ms=40, avg_confidence_score=Decimal("0.60"), success_rate=Decimal("1.00")
    )


def test_a_model_that_found_no_pose_has_a_success_rate_of_zero_and_no_confidence() -> None:
    figures = ModelFigures.of([RunTally.of([_result(1, ok=False, ms=7), _result(2, confidence=None, ms=8)])])
    assert figures == ModelFigures(
        avg_processing_time_ms=8, avg_confidence_score=None, success_rate=Decimal("0")
    )


def test_a_model_with_no_runs_has_no_figures() -> None:
    assert ModelFigures.of([]) == ModelFigures(
        avg_processing_time_ms=None, avg_confidence_score=None, success_rate=None
    )


def test_registration_warnings_name_quality_issues_and_the_original() -> None:
    assert registration_warnings([], None, None) == []
    near = registration_warnings(["blur", "underexposed"], 41, 3)
    assert near[0].startswith("blurry")
    assert near[1].startswith("too dark")
    assert near[2] == "a duplicate of image 41 (3 of 64 perceptual-hash bits differ): linked to it"
    assert registration_warnings([], 7, 0) == [
        "a duplicate of image 7 (0 of 64 perceptual-hash bits differ): linked to it"
    ]
