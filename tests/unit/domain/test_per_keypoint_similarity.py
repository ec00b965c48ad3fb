"""Per-keypoint OKS similarity (behind per-keypoint accuracy), person areas of boxes that are not
square, and the accuracy score's rounding and gold-only case, with values worked out by hand."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cradlepose.domain import keypoint_math
from cradlepose.domain.accuracy import FinalizedWork, accuracy
from cradlepose.domain.enums import Visibility
from cradlepose.domain.keypoints import Keypoint, KeypointSet

pytestmark = pytest.mark.unit

VISIBLE, OCCLUDED, ABSENT = Visibility.VISIBLE, Visibility.OCCLUDED, Visibility.ABSENT


def kp(i: int, x: float, y: float, v: Visibility = VISIBLE) -> Keypoint:
    return Keypoint(id=i, x=x, y=y, visible=v)


def by_hand(d: float, sigma: float, area: float) -> float:
    """COCO's term written independently: exp(-d² / (2 · s² · k²)) with s² = area, k = 2σ."""
    return math.exp(-(d**2) / (2 * area * (2 * sigma) ** 2))


# A person lying down: 400 px wide, 100 px tall (area 40 000, not 400² nor 100²).
WIDE = [kp(0, 100, 300), kp(1, 500, 300), kp(2, 300, 400), kp(3, 100, 400)]


def test_identical_points_are_similar_one_each() -> None:
    # Given a reference compared with itself  Then every labelled keypoint scores exactly 1
    sigmas = {0: 0.025, 1: 0.079, 2: 0.107, 3: 0.089}
    result = keypoint_math.per_keypoint_similarity(WIDE, WIDE, sigmas, keypoint_math.area_of(WIDE))
    assert result == {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}


def test_a_displacement_scores_exp_of_minus_d2_over_2_s2_k2() -> None:
    # Given keypoint 1 moved by (3, 4) = 5 px, sigma 0.1, area 100
    reference = [kp(0, 10, 20), kp(1, 30, 70)]
    candidate = [kp(0, 10, 20), kp(1, 33, 74)]
    result = keypoint_math.per_keypoint_similarity(reference, candidate, {0: 0.1, 1: 0.1}, area=100)
    # Then e = 25 / (2 · 100 · 0.04) = 3.125
    assert result[1] == pytest.approx(math.exp(-3.125), rel=1e-12)
    assert result[1] == pytest.approx(by_hand(5, 0.1, 100), rel=1e-12)
    assert result[0] == 1.0


def test_each_keypoint_uses_its_own_sigma() -> None:
    # Given the same 10 px displacement on two keypoints with different sigmas
    reference = [kp(0, 50, 60), kp(1, 150, 160)]
    candidate = [kp(0, 60, 60), kp(1, 150, 170)]
    result = keypoint_math.per_keypoint_similarity(reference, candidate, {0: 0.025, 1: 0.107}, area=10_000)
    # Then the tighter sigma (an eye) forgives less than the looser one (a hip)
    assert result[0] == pytest.approx(by_hand(10, 0.025, 10_000), rel=1e-12)
    assert result[1] == pytest.approx(by_hand(10, 0.107, 10_000), rel=1e-12)
    assert result[0] < result[1]


def test_x_and_y_displacements_count_alike_and_combine_as_a_distance() -> None:
    # Given reference points whose x and y differ (so x and y cannot be mixed up unnoticed)
    reference = [kp(0, 120, 45), kp(1, 120, 45), kp(2, 120, 45)]
    candidate = [kp(0, 126, 45), kp(1, 120, 39), kp(2, 126, 53)]
    sigmas = {0: 0.05, 1: 0.05, 2: 0.05}
    result = keypoint_math.per_keypoint_similarity(reference, candidate, sigmas, area=2_500)
    assert result[0] == pytest.approx(result[1], rel=1e-12)
    assert result[0] == pytest.approx(by_hand(6, 0.05, 2_500), rel=1e-12)
    assert result[2] == pytest.approx(by_hand(10, 0.05, 2_500), rel=1e-12)  # (6, 8) → 10 px


def test_a_wide_box_uses_width_times_height_as_its_area() -> None:
    # Given a person 400 px wide and 100 px tall
    assert keypoint_math.box_of(WIDE) == (100, 300, 400, 100)
    area = keypoint_math.area_of(WIDE)
    assert area == 40_000
    # When keypoint 2 is 20 px off  Then its similarity uses area 40 000 (not 400² or 100²)
    candidate = [*WIDE[:2], kp(2, 300, 420), WIDE[3]]
    result = keypoint_math.per_keypoint_similarity(WIDE, candidate, dict.fromkeys(range(4), 0.1), area)
    assert result[2] == pytest.approx(by_hand(20, 0.1, 40_000), rel=1e-12)
    assert result[2] != pytest.approx(by_hand(20, 0.1, 400**2))
    assert result[2] != pytest.approx(by_hand(20, 0.1, 100**2))


def test_a_tall_box_and_its_wide_twin_have_the_same_area() -> None:
    tall = [kp(k.id, k.y, k.x) for k in WIDE]  # transposed: 100 px wide, 400 px tall
    assert keypoint_math.box_of(tall) == (300, 100, 100, 400)
    assert keypoint_math.area_of(tall) == keypoint_math.area_of(WIDE) == 40_000


def test_the_major_change_threshold_scales_with_a_wide_persons_size() -> None:
    # Given a 400 × 100 person: s = √40 000 = 200, threshold = max(5, 0.05 · 200) = 10 px
    assert keypoint_math.major_threshold(WIDE) == pytest.approx(10.0)
    before = KeypointSet(keypoints=WIDE)
    nine = KeypointSet(keypoints=[kp(0, 109, 300), *WIDE[1:]])
    eleven = KeypointSet(keypoints=[kp(0, 111, 300), *WIDE[1:]])
    assert keypoint_math.compare(before, nine).modifications.major_changes == []
    assert keypoint_math.compare(before, eleven).modifications.major_changes == [0]


def test_a_reference_keypoint_left_absent_is_not_scored() -> None:
    reference = [kp(0, 10, 10), kp(1, 90, 40, ABSENT)]
    candidate = [kp(0, 10, 10), kp(1, 500, 500)]
    assert keypoint_math.per_keypoint_similarity(reference, candidate, {0: 0.1, 1: 0.1}, 2_400) == {0: 1.0}


def test_an_occluded_reference_keypoint_is_scored() -> None:
    reference = [kp(0, 10, 10), kp(1, 90, 40, OCCLUDED)]
    candidate = [kp(0, 10, 10), kp(1, 90, 45, OCCLUDED)]
    result = keypoint_math.per_keypoint_similarity(reference, candidate, {0: 0.1, 1: 0.1}, 2_400)
    assert result[1] == pytest.approx(by_hand(5, 0.1, 2_400), rel=1e-12)


def test_a_keypoint_the_candidate_lacks_or_left_absent_is_not_scored() -> None:
    # Per-keypoint similarity says where an annotator is off, so a point they did not place has no
    # value (unlike the whole-image OKS, where COCO counts it at (0, 0))
    reference = [kp(0, 10, 10), kp(1, 90, 40), kp(2, 50, 30)]
    candidate = [kp(0, 12, 10), kp(2, 50, 30, ABSENT)]
    sigmas = {0: 0.1, 1: 0.1, 2: 0.1}
    result = keypoint_math.per_keypoint_similarity(reference, candidate, sigmas, 2_400)
    assert set(result) == {0}
    assert result[0] == pytest.approx(by_hand(2, 0.1, 2_400), rel=1e-12)
    oks_terms = [by_hand(2, 0.1, 2_400), by_hand(math.hypot(90, 40), 0.1, 2_400), 1.0]
    assert keypoint_math.oks(reference, candidate, sigmas, 2_400) == pytest.approx(sum(oks_terms) / 3)


def test_a_zero_area_reference_scores_one_when_exact_and_zero_when_off() -> None:
    # Given a reference with a single labelled keypoint: its box has no area (COCO adds ε)
    reference = [kp(0, 40, 40), kp(1, 0, 0, ABSENT)]
    area = keypoint_math.area_of(reference)
    assert area == 0.0
    same = keypoint_math.per_keypoint_similarity(reference, reference, {0: 0.1, 1: 0.1}, area)
    off = keypoint_math.per_keypoint_similarity(reference, [kp(0, 41, 40)], {0: 0.1, 1: 0.1}, area)
    assert same == {0: 1.0}
    assert off == {0: 0.0}


def test_the_mean_of_the_per_keypoint_terms_is_the_oks() -> None:
    candidate = [kp(0, 104, 297), kp(1, 480, 310), kp(2, 300, 400), kp(3, 130, 360)]
    sigmas = {0: 0.026, 1: 0.025, 2: 0.107, 3: 0.087}
    area = keypoint_math.area_of(WIDE)
    terms = keypoint_math.per_keypoint_similarity(WIDE, candidate, sigmas, area)
    assert len(terms) == 4
    assert keypoint_math.oks(WIDE, candidate, sigmas, area) == pytest.approx(
        sum(terms.values()) / 4, rel=1e-12
    )


coordinates = st.floats(0, 2_000, allow_nan=False)


@given(
    st.tuples(coordinates, coordinates),
    st.tuples(st.floats(-50, 50), st.floats(-50, 50)),
    st.floats(1, 5),
    st.floats(0.01, 0.2),
)
def test_similarity_is_unchanged_when_the_image_is_scaled(
    point: tuple[float, float], offset: tuple[float, float], factor: float, sigma: float
) -> None:
    # Given a wide person box and one keypoint off by `offset`
    width, height = 300.0, 120.0
    x, y = point
    reference = [kp(0, x, y)]
    candidate = [kp(0, x + offset[0], y + offset[1])]
    base = keypoint_math.per_keypoint_similarity(reference, candidate, {0: sigma}, width * height)[0]
    # When every length is multiplied by `factor` (so the area by factor²)
    scaled_ref = [kp(0, x * factor, y * factor)]
    scaled_cand = [kp(0, (x + offset[0]) * factor, (y + offset[1]) * factor)]
    scaled = keypoint_math.per_keypoint_similarity(
        scaled_ref, scaled_cand, {0: sigma}, width * factor * height * factor
    )[0]
    # Then the similarity is the same, in (0, 1], and 1 only for no displacement
    assert scaled == pytest.approx(base, rel=1e-6, abs=1e-12)
    assert 0.0 <= base <= 1.0
    assert base == pytest.approx(by_hand(math.hypot(*offset), sigma, width * height), rel=1e-9, abs=1e-12)


@given(st.floats(0, 100), st.floats(0, 100))
def test_similarity_falls_as_the_displacement_grows(d1: float, d2: float) -> None:
    near, far = sorted((d1, d2))
    reference = [kp(0, 200, 100)]
    area = 240 * 80  # a wide box

    def at(d: float) -> float:
        candidate = [kp(0, 200 + d, 100)]
        return keypoint_math.per_keypoint_similarity(reference, candidate, {0: 0.079}, area)[0]

    assert at(near) >= at(far)


def test_accuracy_of_gold_only_work_counts_oks_for_both_parts() -> None:
    # Given only gold images (no verifier's verdict yet)  Then first-pass rate falls back to mean OKS
    result = accuracy([FinalizedWork(0.8, None), FinalizedWork(0.6, None)])
    assert result.first_pass_rate == pytest.approx(0.7)
    assert result.score == Decimal("0.70")  # 0.7 · 0.7 + 0.3 · 0.7


@pytest.mark.parametrize(
    ("work", "expected"),
    [
        ([FinalizedWork(0.15, False)], Decimal("0.11")),  # 0.105 rounds half up, not to even
        ([FinalizedWork(0.75, True)], Decimal("0.83")),  # 0.825
        ([FinalizedWork(1.0, True)], Decimal("1.00")),
        ([FinalizedWork(0.0, True)], Decimal("0.30")),  # the first-pass weight alone
        ([FinalizedWork(1.0, False)], Decimal("0.70")),  # the OKS weight alone
    ],
)
def test_accuracy_weights_and_rounding(work: list[FinalizedWork], expected: Decimal) -> None:
    assert accuracy(work).score == expected
