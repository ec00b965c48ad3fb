"""What an audit entry must hold (domain/audit.py), and how its values reach the JSONB columns."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cradlepose.domain.audit import AuditEntry, changes, jsonable
from cradlepose.domain.enums import AuditCategory, AuditStatus, ImageStatus, Visibility

pytestmark = pytest.mark.unit


def entry(**extra: Any) -> AuditEntry:
    return AuditEntry("IMAGE_APPROVED", AuditCategory.VERIFICATION, "Image", 42, **extra)


def test_an_entry_names_its_action_category_and_resource() -> None:
    # Seed 000's AuditLog: action, action_category, resource_type and resource_id are required
    required = [f.name for f in dataclasses.fields(AuditEntry) if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING]  # fmt: skip
    assert required == ["action", "category", "resource_type", "resource_id"]
    with pytest.raises(TypeError):
        AuditEntry("IMAGE_APPROVED", AuditCategory.VERIFICATION, "Image")  # type: ignore[call-arg]


def test_an_entry_records_a_success_unless_told_otherwise() -> None:
    plain = entry()
    assert plain.status is AuditStatus.SUCCESS
    assert plain.error_message is None
    assert plain.http_status is None
    assert plain.warnings == []
    assert plain.old_values is None
    assert plain.new_values is None


def test_a_failure_carries_its_status_and_message() -> None:
    failed = entry(status=AuditStatus.FAILED, error_message="chunk 3 failed", http_status=500)
    assert failed.status is AuditStatus.FAILED
    assert failed.error_message == "chunk 3 failed"
    assert failed.http_status == 500


def test_an_entry_cannot_be_changed_after_it_is_made() -> None:
    written = entry()
    with pytest.raises(dataclasses.FrozenInstanceError):
        written.action = "SOMETHING_ELSE"  # type: ignore[misc]


def test_entries_do_not_share_their_warnings() -> None:
    first, second = entry(), entry()
    first.warnings.append("low confidence")
    assert second.warnings == []


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (ImageStatus.APPROVED, "APPROVED"),
        (Visibility.OCCLUDED, 1),
        (Decimal("0.85"), 0.85),
        (dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "2026-01-02T03:04:05+00:00"),
        (dt.date(2026, 1, 2), "2026-01-02"),
        ((1, 2), [1, 2]),
        (frozenset({"a"}), ["a"]),
        ({1: ImageStatus.SUBMITTED}, {"1": "SUBMITTED"}),
        (None, None),
        ("text", "text"),
        (3, 3),
        (True, True),
    ],
    ids=repr,
)
def test_values_are_stored_as_json(value: Any, stored: Any) -> None:
    result = jsonable(value)
    assert result == stored
    assert type(result) is type(stored)


def test_nested_values_are_converted_all_the_way_down() -> None:
    value = {
        "batch": {"status": ImageStatus.UNDER_REVIEW, "scores": [Decimal("1.5"), (dt.date(2026, 3, 1),)]}
    }
    assert jsonable(value) == {"batch": {"status": "UNDER_REVIEW", "scores": [1.5, ["2026-03-01"]]}}


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(max_size=5),
    st.sampled_from(list(ImageStatus)),
    st.decimals(-1000, 1000, places=2, allow_nan=False, allow_infinity=False),
    st.dates(),
    st.datetimes(timezones=st.just(dt.UTC)),
)
nested = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(0, 9)), inner, max_size=3),
    ),
    max_leaves=12,
)


@given(nested)
def test_whatever_a_service_audits_can_be_written_as_json(value: Any) -> None:
    json.dumps(jsonable(value), allow_nan=False)


def test_changes_keep_only_the_fields_that_changed() -> None:
    before = {"status": ImageStatus.SUBMITTED, "priority": 3, "note": "x"}
    after = {"status": ImageStatus.UNDER_REVIEW, "priority": 3, "note": "x"}
    assert changes(before, after) == ({"status": "SUBMITTED"}, {"status": "UNDER_REVIEW"})


def test_both_sides_of_a_change_are_stored_as_json() -> None:
    before = {"due": dt.date(2026, 1, 1), "score": Decimal("0.50")}
    after = {"due": dt.date(2026, 2, 1), "score": Decimal("0.75")}
    assert changes(before, after) == (
        {"due": "2026-01-01", "score": 0.5},
        {"due": "2026-02-01", "score": 0.75},
    )


def test_a_field_that_appears_is_recorded_from_none() -> None:
    assert changes({}, {"accuracy_score": Decimal("0.70")}) == (
        {"accuracy_score": None},
        {"accuracy_score": 0.7},
    )


def test_nothing_changed_means_nothing_recorded() -> None:
    same = {"status": ImageStatus.APPROVED, "when": dt.date(2026, 1, 1)}
    assert changes(same, dict(same)) == ({}, {})


@given(
    st.dictionaries(st.sampled_from("abcde"), st.integers(0, 3)),
    st.dictionaries(st.sampled_from("abcde"), st.integers(0, 3)),
)
def test_changes_list_the_same_keys_before_and_after_and_each_differs(
    old: dict[str, int], new: dict[str, int]
) -> None:
    before, after = changes(old, new)
    assert before.keys() == after.keys()
    assert all(before[k] != after[k] for k in before)
    assert {k for k in new if old.get(k) != new[k]} == set(after)
