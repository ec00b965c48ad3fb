"""Edges of the domain rules that the by-hand tests left open (found by `make mutation`).

Each test pins one stated rule: the boundary of a strict comparison, the exact weights of a
documented formula, a documented constant, or what an empty input gives.
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal
from typing import Any

import pytest

from cradlepose.domain import access, keypoint_math
from cradlepose.domain import assignment_policy as policy
from cradlepose.domain.accuracy import WINDOW, Accuracy, FinalizedWork, accuracy
from cradlepose.domain.actor import Actor
from cradlepose.domain.enums import (
    AnalysisStatus,
    AnnotationStatus,
    AssignmentStatus,
    BatchStatus,
    ImageStatus,
)
from cradlepose.domain.keypoints import Keypoint, KeypointSet
from cradlepose.domain.transitions import table_for

pytestmark = pytest.mark.unit


def kp(i: int, x: float, y: float, v: int = 2) -> Keypoint:
    return Keypoint(id=i, x=x, y=y, visible=v)


# --- access: an actor with no role reads nothing (a plain False, not a falsy None) ---------------


def test_an_approved_actor_without_a_role_reads_no_batch_and_no_image() -> None:
    nobody = Actor(user_id=9, username="norole", role=None, is_approved=True)
    for status in BatchStatus:
        assert access.can_read_batch(nobody, status, is_assigned=True) is False
    assert access.can_read_image(nobody, holds_open_work=True) is False
    for image_status in ImageStatus:
        assert access.can_analyse_image(nobody, image_status) is False
        assert access.can_target_image(nobody, image_status, holds_open_work=True) is False


# --- accuracy: docs/metrics.md's window, and the empty case field by field ---------------------


def test_the_window_is_the_500_most_recent_finalized_images() -> None:
    assert WINDOW == 500  # docs/metrics.md: "the annotator's 500 most recent finalized images"


def test_no_finalized_work_is_zero_everywhere() -> None:
    assert accuracy([]) == Accuracy(Decimal("0.00"), 0.0, 0.0, 0)


def test_gold_only_work_uses_mean_oks_for_the_first_pass_part() -> None:
    result = accuracy([FinalizedWork(0.5, None), FinalizedWork(0.7, None)])
    assert result.first_pass_rate == pytest.approx(0.6)
    assert result.score == Decimal("0.60")  # 0.7 * 0.6 + 0.3 * 0.6
    assert result.samples == 2


# --- assignment policy: score = 2 x specialty match + 1 x spare capacity + 1 x accuracy --------


@pytest.mark.parametrize(
    ("candidate", "wanted", "expected"),
    [
        # specialty asked and matched: 2 * 1 + (1 - 1/4) + 0.3
        (policy.Candidate(1, "upper_body", 1, 4, 0.3), "upper_body", 2.0 + 0.75 + 0.3),
        # asked and not matched: 0 + (1 - 3/4) + 0.9
        (policy.Candidate(2, "full_body", 3, 4, 0.9), "upper_body", 0.25 + 0.9),
        # none asked: 2 * 0.5 + (1 - 0/5) + 0.2
        (policy.Candidate(3, None, 0, 5, 0.2), None, 1.0 + 1.0 + 0.2),
        # no capacity at all (max 0): no spare share, never a division by zero
        (policy.Candidate(4, None, 0, 0, 0.4), None, 1.0 + 0.0 + 0.4),
    ],
)
def test_the_score_formula_by_hand(candidate: policy.Candidate, wanted: str | None, expected: float) -> None:
    assert policy.score(candidate, wanted) == pytest.approx(expected)


def test_the_weights_are_the_documented_ones() -> None:
    assert (policy.SPECIALTY_WEIGHT, policy.CAPACITY_WEIGHT, policy.ACCURACY_WEIGHT) == (2.0, 1.0, 1.0)


# --- keypoint math: the strict thresholds, rounding, and empty inputs --------------------------


def test_a_displacement_of_exactly_the_tolerance_is_not_a_move_and_just_above_it_is() -> None:
    reference = KeypointSet(keypoints=[kp(0, 0, 0), kp(1, 400, 400), kp(2, 100, 100)])
    submitted = KeypointSet(keypoints=[kp(0, 0.5, 0), kp(1, 400, 400.75), kp(2, 100, 100)])
    result = keypoint_math.compare(reference, submitted)
    assert result.modifications.total_moved == 1  # 0.75 px moved; exactly 0.5 px did not
    assert result.modifications.avg_displacement == 0.75
    assert keypoint_math.MOVE_TOLERANCE_PX == 0.5


def test_a_displacement_of_exactly_the_major_threshold_is_not_major() -> None:
    # box 200 x 200: threshold max(5, 0.05 * 200) = 10 px
    reference = KeypointSet(keypoints=[kp(0, 0, 0), kp(1, 200, 200), kp(2, 100, 100)])
    submitted = KeypointSet(keypoints=[kp(0, 0, 0), kp(1, 200, 200), kp(2, 106, 108)])  # 10 px
    result = keypoint_math.compare(reference, submitted)
    assert result.threshold_px == 10.0
    assert result.modifications.total_moved == 1
    assert result.modifications.major_changes == []


def test_the_mean_displacement_is_rounded_to_two_decimals() -> None:
    reference = KeypointSet(keypoints=[kp(0, 0, 0), kp(1, 300, 300)])
    submitted = KeypointSet(keypoints=[kp(0, 1.23456, 0), kp(1, 300, 300)])
    assert keypoint_math.compare(reference, submitted).modifications.avg_displacement == 1.23


def test_nothing_moved_means_a_mean_displacement_of_zero() -> None:
    same = KeypointSet(keypoints=[kp(0, 5, 5), kp(1, 50, 80)])
    assert keypoint_math.compare(same, same).modifications.avg_displacement == 0.0


def test_no_labelled_keypoint_has_no_box_and_no_area() -> None:
    assert keypoint_math.box_of([kp(0, 5, 5, v=0)]) is None
    assert keypoint_math.area_of([]) == 0.0
    assert keypoint_math.area_of([kp(0, 5, 5, v=0)]) == 0.0


def test_the_area_epsilon_is_cocoapis_np_spacing_of_one() -> None:
    assert sys.float_info.epsilon == keypoint_math.COCO_EPS


def test_oks_on_a_zero_area_reference_is_one_when_exact_and_zero_when_off() -> None:
    # cocoapi adds ε to the area, so a point-sized object never divides by zero
    reference = [kp(0, 10, 10)]
    assert keypoint_math.oks(reference, [kp(0, 10, 10)], {0: 0.1}, area=0.0) == 1.0
    assert keypoint_math.oks(reference, [kp(0, 11, 10)], {0: 0.1}, area=0.0) == 0.0


def test_a_keypoint_missing_from_the_candidate_counts_at_the_origin() -> None:
    # reference at (3, 4): the missing candidate keypoint is 5 px away (at (0, 0))
    value = keypoint_math.oks([kp(0, 3, 4)], [], {0: 0.5}, area=10.0)
    assert value == pytest.approx(math.exp(-25 / 1.0 / 10.0 / 2))


def test_a_reference_with_no_labelled_keypoint_has_oks_zero() -> None:
    assert keypoint_math.oks([kp(0, 3, 4, v=0)], [kp(0, 3, 4)], {0: 0.5}, area=10.0) == 0.0
    assert keypoint_math.oks([], [], {}, area=10.0) == 0.0


# --- transitions: every status of a family is a row of its table (a final one with no exit) ----


@pytest.mark.parametrize(
    "status_type",
    [BatchStatus, ImageStatus, AssignmentStatus, AnnotationStatus, AnalysisStatus],
    ids=lambda s: s.__name__,
)
def test_every_status_is_a_row_of_its_table(status_type: Any) -> None:
    assert set(table_for(status_type).allowed) == set(status_type)
