"""Per-keypoint pixel error and PCK, and the promotion rule."""

from __future__ import annotations

import pytest

from cradlepose.domain.enums import DatasetSplit
from cradlepose.domain.keypoint_errors import ImagePair, keypoint_errors
from cradlepose.domain.keypoints import Keypoint
from cradlepose.domain.promotion import GateEvidence, PromotionRefused, check_gate

pytestmark = pytest.mark.unit


def kp(i: int, x: float, y: float, v: int = 2) -> Keypoint:
    return Keypoint(id=i, x=x, y=y, visible=v)


def test_mean_error_and_pck_by_hand() -> None:
    # Truth box 100 x 100 -> size 100 -> PCK radius 0.1 * 100 = 10 px
    truth = [kp(0, 0, 0), kp(1, 100, 100), kp(2, 50, 50, v=0)]
    pairs = [
        ImagePair(truth, [kp(0, 3, 4), kp(1, 100, 120), kp(2, 1, 1)]),  # 5 px (in), 20 px (out)
        ImagePair(truth, None),  # nobody found: both labelled keypoints missed
    ]
    errors = keypoint_errors(pairs, [0, 1, 2])
    assert errors.mean_error_px == {0: 5.0, 1: 20.0, 2: None}
    assert errors.pck == {0: 0.5, 1: 0.0, 2: None}
    assert errors.labelled == {0: 2, 1: 2, 2: 0}
    assert errors.detected == {0: 1, 1: 1, 2: 0}
    assert errors.overall_mean_error_px == 12.5
    assert errors.overall_pck == 0.25


def _evidence(candidate: float | None, incumbent_id: int | None, incumbent: float | None) -> GateEvidence:
    return GateEvidence(1, DatasetSplit.TEST, 7, candidate, incumbent_id, incumbent)


def test_the_candidate_must_beat_the_incumbent_on_the_same_split() -> None:
    check_gate(_evidence(0.71, 3, 0.70))
    check_gate(_evidence(0.5, None, None))  # nothing in production yet: measured is enough
    with pytest.raises(PromotionRefused, match="not above"):
        check_gate(_evidence(0.70, 3, 0.70))
    with pytest.raises(PromotionRefused, match="has no AP"):
        check_gate(_evidence(None, 3, 0.70))
    with pytest.raises(PromotionRefused, match="evaluate it there first"):
        check_gate(_evidence(0.9, 3, None))
