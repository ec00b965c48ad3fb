"""Correction figures: worked by hand, and their general properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cradlepose.domain.corrections import (
    UNTOUCHED_TOLERANCE_PX,
    CorrectionFigures,
    CorrectionTally,
    ImageCorrection,
    correction_of,
)
from cradlepose.domain.enums import VerificationDecision
from cradlepose.domain.keypoints import Keypoint, KeypointSet

pytestmark = pytest.mark.unit


def kp(i: int, x: float, y: float, v: int = 2) -> Keypoint:
    return Keypoint(id=i, x=x, y=y, visible=v)


def test_one_image_by_hand() -> None:
    model = KeypointSet(
        keypoints=[kp(0, 10, 10), kp(1, 50, 50), kp(2, 100, 100, v=1), kp(3, 7, 7, v=0), kp(4, 20, 20)]
    )
    submitted = KeypointSet(
        keypoints=[
            kp(0, 13, 14),  # moved 5 px
            kp(1, 50.3, 50.4),  # 0.5 px: on the tolerance, untouched
            kp(2, 100, 100, v=2),  # not moved but occluded -> visible: touched, distance 0
            kp(3, 30, 30),  # the model left it absent: not the model's keypoint, not compared
            # 4 removed by the annotator: the model's keypoint, touched, no distance
        ]
    )
    result = correction_of(model, submitted)
    assert (result.model_keypoints, result.paired, result.untouched) == (4, 3, 1)
    assert result.distance_sum == pytest.approx(5.5)


def test_no_model_keypoints_measures_nothing() -> None:
    submitted = KeypointSet(keypoints=[kp(0, 1, 1)])
    assert correction_of(None, submitted) == ImageCorrection(0, 0, 0.0, 0)
    assert correction_of(KeypointSet(keypoints=[]), submitted) == ImageCorrection(0, 0, 0.0, 0)


def test_figures_of_two_images_by_hand() -> None:
    # Image 1: 2 pairs, 3 px and 5 px, one untouched of 2; first verification APPROVED, 30 s.
    # Image 2: 1 pair, 10 px, none untouched of 2; APPROVED_WITH_CORRECTIONS, 90 s.
    # Image 3: not yet verified, no model keypoints, 60 s.
    tally = CorrectionTally.of(
        [
            (ImageCorrection(2, 2, 8.0, 1), 30, VerificationDecision.APPROVED),
            (ImageCorrection(2, 1, 10.0, 0), 90, VerificationDecision.APPROVED_WITH_CORRECTIONS),
            (ImageCorrection(0, 0, 0.0, 0), 60, None),
        ]
    )
    figures = CorrectionFigures.of(tally)
    assert figures.mean_correction_px == pytest.approx(18 / 3)
    assert figures.untouched_share == pytest.approx(1 / 4)
    assert figures.first_pass_acceptance == pytest.approx(1 / 2)
    assert figures.annotation_seconds_per_image == pytest.approx(60.0)


def test_nothing_to_measure_is_none_not_zero() -> None:
    figures = CorrectionFigures.of(CorrectionTally())
    assert figures == CorrectionFigures(None, None, None, None)


coordinate = st.floats(min_value=0, max_value=2000, allow_nan=False).map(lambda v: round(v, 2))
visibility = st.sampled_from([0, 1, 2])


@st.composite
def keypoint_sets(draw: st.DrawFn) -> KeypointSet:
    ids = draw(st.lists(st.integers(0, 30), unique=True, max_size=17))
    return KeypointSet(keypoints=[kp(i, draw(coordinate), draw(coordinate), draw(visibility)) for i in ids])


@given(keypoint_sets(), keypoint_sets())
def test_counts_stay_within_the_models_keypoints(model: KeypointSet, submitted: KeypointSet) -> None:
    result = correction_of(model, submitted)
    assert 0 <= result.untouched <= result.paired <= result.model_keypoints
    assert result.model_keypoints == len(model.labelled_ids())
    assert result.distance_sum >= 0
    figures = CorrectionFigures.of(CorrectionTally.of([(result, 0, None)]))
    if figures.untouched_share is not None:
        assert 0 <= figures.untouched_share <= 1


@given(keypoint_sets())
def test_a_submission_equal_to_the_model_is_all_untouched(model: KeypointSet) -> None:
    result = correction_of(model, model)
    assert result.distance_sum == 0
    assert result.untouched == result.paired == result.model_keypoints


@given(
    keypoint_sets(),
    st.floats(min_value=-50, max_value=50, allow_nan=False),
    st.floats(min_value=-50, max_value=50, allow_nan=False),
)
def test_a_shift_of_every_keypoint_is_the_mean_correction(model: KeypointSet, dx: float, dy: float) -> None:
    shifted = KeypointSet(
        keypoints=[k.model_copy(update={"x": k.x + dx, "y": k.y + dy}) for k in model.keypoints]
    )
    figures = CorrectionFigures.of(CorrectionTally.of([(correction_of(model, shifted), 0, None)]))
    if not model.labelled_ids():
        assert figures.mean_correction_px is None
        return
    assert figures.mean_correction_px == pytest.approx(math.hypot(dx, dy), abs=1e-9)
    expected = 1.0 if dx * dx + dy * dy <= UNTOUCHED_TOLERANCE_PX**2 else 0.0
    assert figures.untouched_share == pytest.approx(expected, abs=1e-9) or math.isclose(
        math.hypot(dx, dy), UNTOUCHED_TOLERANCE_PX, abs_tol=1e-9
    )


@given(st.lists(st.sampled_from(list(VerificationDecision)), min_size=1))
def test_first_pass_acceptance_counts_plain_approvals_only(decisions: list[VerificationDecision]) -> None:
    tally = CorrectionTally.of((ImageCorrection(0, 0, 0.0, 0), 0, d) for d in decisions)
    approved = sum(d is VerificationDecision.APPROVED for d in decisions)
    assert CorrectionFigures.of(tally).first_pass_acceptance == pytest.approx(approved / len(decisions))


@given(st.lists(st.tuples(st.integers(0, 17), st.integers(0, 3600)), max_size=20))
def test_tallies_add_up_in_any_order(images: list[tuple[int, int]]) -> None:
    rows = [(ImageCorrection(n, n, float(n), n // 2), s, None) for n, s in images]
    assert CorrectionTally.of(rows) == CorrectionTally.of(reversed(rows))
    assert CorrectionTally.of(rows).annotation_seconds == sum(s for _, s in images)
