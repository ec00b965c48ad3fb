"""Deterministic, seeded, grouped splits: one infant never lands in two splits."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cradlepose.domain.enums import DatasetSplit, SplitGrouping
from cradlepose.domain.splits import SplitCandidate, SplitFractions, assign_splits, counts, group_key

pytestmark = pytest.mark.unit

candidates_strategy = st.lists(
    st.tuples(st.integers(0, 30), st.sampled_from(["", "site-a", "site-b"])), min_size=1, max_size=120
).map(
    lambda rows: [
        SplitCandidate(image_id=i, group=f"subject:{subject}", stratum=stratum)
        for i, (subject, stratum) in enumerate(rows)
    ]
)
fractions_strategy = st.sampled_from(
    [
        SplitFractions(),
        SplitFractions(train=0.8, validation=0.2, test=0),
        SplitFractions(train=1, validation=0, test=0),
    ]
)


@given(candidates_strategy, fractions_strategy, st.integers(0, 2**31))
@settings(max_examples=60, deadline=None)
def test_every_image_once_no_group_in_two_splits_and_counts_that_add_up(
    candidates: list[SplitCandidate], fractions: SplitFractions, seed: int
) -> None:
    assignment = assign_splits(candidates, fractions, seed)
    assert set(assignment) == {c.image_id for c in candidates}
    splits_of_group: dict[str, set[DatasetSplit]] = {}
    for candidate in candidates:
        splits_of_group.setdefault(candidate.group, set()).add(assignment[candidate.image_id])
    assert all(len(splits) == 1 for splits in splits_of_group.values())
    tally = counts(assignment)
    assert sum(tally.values()) == len(candidates)
    for split, count in tally.items():
        if fractions.of(split) == 0:
            assert count == 0


@given(candidates_strategy, st.integers(0, 2**31))
@settings(max_examples=40, deadline=None)
def test_same_seed_same_split_whatever_the_order(candidates: list[SplitCandidate], seed: int) -> None:
    shuffled = list(candidates)
    random.Random(seed).shuffle(shuffled)
    fractions = SplitFractions()
    assert assign_splits(candidates, fractions, seed) == assign_splits(shuffled, fractions, seed)


def test_many_small_groups_follow_the_fractions_within_one_image() -> None:
    candidates = [SplitCandidate(image_id=i, group=f"image:{i}") for i in range(1000)]
    tally = counts(assign_splits(candidates, SplitFractions(train=0.7, validation=0.2, test=0.1), seed=7))
    assert abs(tally[DatasetSplit.TRAIN] - 700) <= 1
    assert abs(tally[DatasetSplit.VALIDATION] - 200) <= 1
    assert abs(tally[DatasetSplit.TEST] - 100) <= 1


def test_another_seed_gives_another_split() -> None:
    candidates = [SplitCandidate(image_id=i, group=f"image:{i}") for i in range(200)]
    assert assign_splits(candidates, SplitFractions(), 1) != assign_splits(candidates, SplitFractions(), 2)


def test_each_stratum_is_split_on_its_own() -> None:
    candidates = [
        SplitCandidate(image_id=i, group=f"image:{i}", stratum="small-site" if i < 20 else "big-site")
        for i in range(220)
    ]
    assignment = assign_splits(candidates, SplitFractions(train=0.5, validation=0.25, test=0.25), seed=3)
    small = counts({i: s for i, s in assignment.items() if i < 20})
    assert small == {DatasetSplit.TRAIN: 10, DatasetSplit.VALIDATION: 5, DatasetSplit.TEST: 5}


def test_group_keys() -> None:
    assert group_key(5, 9, {"subject_id": "INF-001"}, SplitGrouping.SUBJECT) == "subject:INF-001"
    assert group_key(5, 9, {"age_months": 3}, SplitGrouping.SUBJECT) == "image:5"
    assert group_key(5, 9, None, SplitGrouping.SUBJECT) == "image:5"
    assert group_key(5, 9, {"subject_id": "INF-001"}, SplitGrouping.BATCH) == "batch:9"


def test_fractions_must_add_up_and_images_are_listed_once() -> None:
    with pytest.raises(ValueError, match="must be 1"):
        SplitFractions(train=0.5, validation=0.2, test=0.2)
    with pytest.raises(ValueError, match="twice"):
        assign_splits([SplitCandidate(1, "a"), SplitCandidate(1, "b")], SplitFractions(), 0)
