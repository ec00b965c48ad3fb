"""The accuracy definition and the auto-assign policy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cradlepose.domain import assignment_policy as policy
from cradlepose.domain import periods
from cradlepose.domain.accuracy import FinalizedWork, accuracy
from cradlepose.domain.enums import PeriodType

pytestmark = pytest.mark.unit


def test_accuracy_by_hand() -> None:
    work = [
        FinalizedWork(1.0, True),
        FinalizedWork(0.8, False),
        FinalizedWork(0.0, False),
        FinalizedWork(0.6, None),
    ]
    result = accuracy(work)
    # mean OKS = 2.4 / 4 = 0.6; first pass = 1 of 3 verified; 0.7*0.6 + 0.3*(1/3) = 0.52
    assert result.mean_oks == pytest.approx(0.6)
    assert result.first_pass_rate == pytest.approx(1 / 3)
    assert result.score == Decimal("0.52")
    assert result.samples == 4


def test_no_work_means_zero() -> None:
    assert accuracy([]).score == Decimal("0.00")


@given(st.lists(st.tuples(st.floats(0, 1), st.one_of(st.none(), st.booleans())), max_size=50))
def test_accuracy_stays_between_zero_and_one(raw: list[tuple[float, bool | None]]) -> None:
    score = accuracy([FinalizedWork(o, f) for o, f in raw]).score
    assert Decimal("0") <= score <= Decimal("1")


def _candidate(
    user_id: int, specialty: str | None = None, open_: int = 0, cap: int = 2, acc: float = 0.5
) -> policy.Candidate:
    return policy.Candidate(user_id, specialty, open_, cap, acc)


def test_specialty_then_capacity_then_accuracy() -> None:
    people = [
        _candidate(1, "upper_body", open_=1, acc=0.9),
        _candidate(2, "full_body", open_=1, acc=0.5),
        _candidate(3, "full_body", open_=0, acc=0.5),
        _candidate(4, None, open_=2, acc=1.0),  # full
    ]
    assert policy.choose(people, "full_body").user_id == 3  # type: ignore[union-attr]
    assert policy.choose(people, "upper_body").user_id == 1  # type: ignore[union-attr]
    assert policy.choose(people, None).user_id == 3  # type: ignore[union-attr]
    assert policy.choose(people, None, exclude=frozenset({3})).user_id == 1  # type: ignore[union-attr]
    assert policy.choose([_candidate(4, open_=2)], None) is None


def test_plan_serves_high_priority_first_and_counts_load() -> None:
    batches = [policy.WaitingBatch(10, priority=1, uploaded_order=0), policy.WaitingBatch(11, priority=9, uploaded_order=1),
               policy.WaitingBatch(12, priority=9, uploaded_order=2)]  # fmt: skip
    plan = policy.plan(batches, [_candidate(1, cap=1), _candidate(2, cap=1)])
    assert [b for b, _ in plan] == [11, 12]  # the low-priority batch waits: no capacity left
    assert sorted(u for _, u in plan) == [1, 2]


@given(
    st.lists(st.tuples(st.integers(1, 10), st.integers(0, 5)), min_size=0, max_size=15),
    st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3), st.floats(0, 1)), min_size=0, max_size=6),
)
def test_plan_never_exceeds_anyones_capacity(
    raw_batches: list[tuple[int, int]], raw_people: list[tuple[int, int, float]]
) -> None:
    batches = [policy.WaitingBatch(i, p, o) for i, (p, o) in enumerate(raw_batches)]
    people = [_candidate(100 + i, open_=o, cap=c, acc=a) for i, (o, c, a) in enumerate(raw_people)]
    plan = policy.plan(batches, people)
    for person in people:
        given_now = sum(1 for _, u in plan if u == person.user_id)
        assert person.open_assignments + given_now <= max(person.max_concurrent, person.open_assignments)
    assert len({b for b, _ in plan}) == len(plan)
    spare = sum(max(0, p.max_concurrent - p.open_assignments) for p in people)
    assert len(plan) == min(len(batches), spare)


@pytest.mark.parametrize(
    ("period", "day", "start", "end"),
    [
        (PeriodType.DAILY, dt.date(2026, 11, 23), dt.date(2026, 11, 23), dt.date(2026, 11, 24)),
        (PeriodType.WEEKLY, dt.date(2026, 11, 26), dt.date(2026, 11, 23), dt.date(2026, 11, 30)),
        (PeriodType.MONTHLY, dt.date(2026, 12, 31), dt.date(2026, 12, 1), dt.date(2027, 1, 1)),
        (PeriodType.QUARTERLY, dt.date(2026, 11, 23), dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
        (PeriodType.QUARTERLY, dt.date(2026, 2, 28), dt.date(2026, 1, 1), dt.date(2026, 4, 1)),
    ],
)
def test_periods(period: PeriodType, day: dt.date, start: dt.date, end: dt.date) -> None:
    begin, finish = periods.bounds(period, day)
    assert (begin.date(), finish.date()) == (start, end)
    assert begin.tzinfo is dt.UTC
    assert periods.previous(period, begin)[1] == begin
