"""The learning loop's rules (domain.learning_loop): the gate (δ on AP, ε per keypoint OKS), when
a run is due, the held-out split and the policy's bounds."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cradlepose.domain.enums import LoopTrigger
from cradlepose.domain.keypoint_errors import ImagePair, keypoint_errors
from cradlepose.domain.keypoints import Keypoint
from cradlepose.domain.learning_loop import (
    LoopGateEvidence,
    LoopPolicySettings,
    due_trigger,
    holdout_fractions,
    judge,
)

pytestmark = pytest.mark.unit

KEYPOINTS = ("nose", "left_wrist", "right_ankle")
unit = st.floats(min_value=0, max_value=1, allow_nan=False)
delta = st.floats(min_value=-1, max_value=1, allow_nan=False)
oks_maps = st.fixed_dictionaries(dict.fromkeys(KEYPOINTS, unit))
NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


def evidence(
    candidate_ap: float | None = 0.5,
    incumbent_ap: float | None = 0.4,
    *,
    incumbent_id: int | None = 1,
    min_ap_gain: float = 0.0,
    max_keypoint_oks_drop: float = 0.05,
    candidate_oks: dict[str, float] | None = None,
    incumbent_oks: dict[str, float] | None = None,
) -> LoopGateEvidence:
    return LoopGateEvidence(
        candidate_id=2,
        candidate_ap=candidate_ap,
        incumbent_id=incumbent_id,
        incumbent_ap=incumbent_ap,
        min_ap_gain=min_ap_gain,
        max_keypoint_oks_drop=max_keypoint_oks_drop,
        candidate_oks=candidate_oks or {},
        incumbent_oks=incumbent_oks or {},
    )


def test_a_gain_of_exactly_delta_is_enough_while_the_manual_gate_stays_strict() -> None:
    verdict = judge(evidence(0.3, 0.2, min_ap_gain=0.1))
    assert verdict.promote, verdict.reason
    assert not judge(evidence(0.3, 0.2, min_ap_gain=0.11)).promote


def test_an_unevaluated_candidate_or_incumbent_is_refused_and_no_default_needs_only_the_candidate() -> None:
    assert not judge(evidence(None, 0.4)).promote
    assert "no AP" in judge(evidence(0.5, None)).reason
    assert not judge(evidence(0.5, None)).promote
    assert judge(evidence(0.0, None, incumbent_id=None, min_ap_gain=0.5)).promote


def test_a_keypoint_that_falls_further_than_epsilon_refuses_and_is_named() -> None:
    verdict = judge(
        evidence(
            0.9,
            0.1,
            max_keypoint_oks_drop=0.1,
            incumbent_oks={"nose": 0.8, "left_wrist": 0.7},
            candidate_oks={"nose": 0.8, "left_wrist": 0.5},
        )
    )
    assert not verdict.promote
    assert "left_wrist" in verdict.reason
    assert "nose" not in verdict.reason
    assert verdict.oks_drops["left_wrist"] == pytest.approx(0.2)


def test_a_keypoint_the_candidate_never_found_counts_as_oks_zero() -> None:
    verdict = judge(evidence(incumbent_oks={"nose": 0.3}, candidate_oks={}, max_keypoint_oks_drop=0.25))
    assert not verdict.promote
    assert verdict.oks_drops == {"nose": 0.3}


@given(candidate=unit, incumbent=unit, oks=oks_maps)
def test_delta_minus_one_accepts_any_evaluated_candidate_whose_keypoints_hold(
    candidate: float, incumbent: float, oks: dict[str, float]
) -> None:
    assert judge(
        evidence(candidate, incumbent, min_ap_gain=-1.0, candidate_oks=oks, incumbent_oks=oks)
    ).promote


@given(candidate=unit, incumbent=unit, first=delta, second=delta, ours=oks_maps, theirs=oks_maps, eps=unit)
def test_a_stricter_gate_never_promotes_what_a_looser_one_refused(
    candidate: float,
    incumbent: float,
    first: float,
    second: float,
    ours: dict[str, float],
    theirs: dict[str, float],
    eps: float,
) -> None:
    loose, strict = sorted((first, second))
    promoted_strict = judge(
        evidence(candidate, incumbent, min_ap_gain=strict, max_keypoint_oks_drop=eps,
                 candidate_oks=ours, incumbent_oks=theirs)
    ).promote  # fmt: skip
    promoted_loose = judge(
        evidence(candidate, incumbent, min_ap_gain=loose, max_keypoint_oks_drop=eps,
                 candidate_oks=ours, incumbent_oks=theirs)
    ).promote  # fmt: skip
    assert promoted_loose or not promoted_strict


@given(candidate=unit, incumbent=unit, gate=delta, ours=oks_maps, theirs=oks_maps, eps=unit)
def test_a_promotion_always_meets_both_rules(
    candidate: float,
    incumbent: float,
    gate: float,
    ours: dict[str, float],
    theirs: dict[str, float],
    eps: float,
) -> None:
    found = evidence(
        candidate,
        incumbent,
        min_ap_gain=gate,
        max_keypoint_oks_drop=eps,
        candidate_oks=ours,
        incumbent_oks=theirs,
    )
    verdict = judge(found)
    if verdict.promote:
        assert candidate - incumbent >= gate - 1e-9
        assert all(theirs[k] - ours[k] <= eps for k in KEYPOINTS)


def policy(**values: object) -> LoopPolicySettings:
    return LoopPolicySettings.model_validate({"enabled": True, **values})


def test_the_count_trigger_fires_at_n_newly_verified_images() -> None:
    rules = policy(every_n_verified=5, schedule_hours=None)
    args = {"last_run_started_at": None, "now": NOW, "running": False}
    assert due_trigger(rules, verified_since_last_run=4, **args) is None  # type: ignore[arg-type]
    assert due_trigger(rules, verified_since_last_run=5, **args) is LoopTrigger.COUNT  # type: ignore[arg-type]


def test_the_schedule_fires_at_most_that_often_and_only_with_something_new() -> None:
    rules = policy(every_n_verified=None, schedule_hours=24)
    recent, old = NOW - dt.timedelta(hours=23), NOW - dt.timedelta(hours=24)
    assert (
        due_trigger(rules, verified_since_last_run=1, last_run_started_at=recent, now=NOW, running=False)
        is None
    )
    assert (
        due_trigger(rules, verified_since_last_run=1, last_run_started_at=old, now=NOW, running=False)
        is LoopTrigger.SCHEDULE
    )
    assert (
        due_trigger(rules, verified_since_last_run=0, last_run_started_at=old, now=NOW, running=False) is None
    )


@given(count=st.integers(min_value=0, max_value=10**6), n=st.integers(min_value=1, max_value=100_000))
def test_nothing_is_due_while_disabled_or_while_a_run_is_under_way(count: int, n: int) -> None:
    for rules, running in (
        (policy(every_n_verified=n, enabled=False), False),
        (policy(every_n_verified=n), True),
    ):
        assert (
            due_trigger(
                rules, verified_since_last_run=count, last_run_started_at=None, now=NOW, running=running
            )
            is None
        )


@given(holdout=st.floats(min_value=0.05, max_value=0.5))
def test_the_held_out_fraction_is_the_test_split_and_nothing_is_left_for_validation(holdout: float) -> None:
    fractions = holdout_fractions(holdout)
    assert fractions.test == holdout
    assert fractions.validation == 0
    assert fractions.train + fractions.test == pytest.approx(1)


@pytest.mark.parametrize(
    ("field", "value"),
    [("imgsz", 100), ("imgsz", 1312), ("epochs", 0), ("epochs", 301), ("lr0", 0.2), ("batch", 65),
     ("holdout_fraction", 0.6), ("min_ap_gain", -1.5), ("max_keypoint_oks_drop", 1.1), ("every_n_verified", 0),
     ("schedule_hours", 8761)],
)  # fmt: skip
def test_hyperparameters_outside_their_safe_bounds_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as refused:
        policy(**{field: value})
    assert refused.value.errors()[0]["loc"] == (field,)


def test_each_keypoints_mean_oks_counts_a_miss_as_zero_and_needs_sigmas() -> None:
    truth = [Keypoint(id=0, x=10, y=10, visible=2), Keypoint(id=1, x=50, y=90, visible=2)]
    exact = ImagePair(truth, truth)
    missed = ImagePair(truth, None)
    scored = keypoint_errors([exact, missed], [0, 1], sigmas=[0.05, 0.05])
    assert scored.oks == {0: pytest.approx(0.5), 1: pytest.approx(0.5)}
    assert keypoint_errors([exact], [0, 1]).oks == {0: None, 1: None}
    off = ImagePair(truth, [Keypoint(id=0, x=20, y=10, visible=2), Keypoint(id=1, x=50, y=90, visible=2)])
    moved = keypoint_errors([off], [0, 1], sigmas=[0.05, 0.05]).oks
    assert moved[0] is not None
    assert 0 < moved[0] < 1
    assert moved[1] == pytest.approx(1)
