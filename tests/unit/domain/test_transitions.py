"""Status transition tables: every allowed move works, every other one raises naming the states."""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cradlepose.domain.enums import AnnotationStatus, AssignmentStatus, BatchStatus, ImageStatus
from cradlepose.domain.errors import IllegalTransition
from cradlepose.domain.transitions import ANNOTATION, ASSIGNMENT, BATCH, IMAGE, TransitionTable, transition

pytestmark = pytest.mark.unit

TABLES: list[tuple[type[StrEnum], TransitionTable[Any]]] = [
    (BatchStatus, BATCH),
    (ImageStatus, IMAGE),
    (AssignmentStatus, ASSIGNMENT),
    (AnnotationStatus, ANNOTATION),
]


@pytest.mark.parametrize(("status_type", "table"), TABLES)
def test_every_status_of_the_enum_is_in_its_table(
    status_type: type[StrEnum], table: TransitionTable[Any]
) -> None:
    assert table.states() == set(status_type)
    assert set(table.allowed) == set(status_type), "every state lists its exits, even when it has none"


@pytest.mark.parametrize(("status_type", "table"), TABLES)
def test_every_state_is_reachable_from_the_initial_one(
    status_type: type[StrEnum], table: TransitionTable[Any]
) -> None:
    start = next(iter(status_type))
    reached, frontier = {start}, [start]
    while frontier:
        for nxt in table.allowed[frontier.pop()]:
            if nxt not in reached:
                reached.add(nxt)
                frontier.append(nxt)
    assert reached == set(status_type)


def test_the_happy_paths() -> None:
    path = [
        BatchStatus.UPLOADED, BatchStatus.YOLO_PROCESSING, BatchStatus.YOLO_COMPLETED,
        BatchStatus.READY_FOR_ANNOTATION, BatchStatus.ASSIGNED, BatchStatus.IN_PROGRESS,
        BatchStatus.COMPLETED, BatchStatus.ARCHIVED,
    ]  # fmt: skip
    for current, target in itertools.pairwise(path):
        assert transition(current, target) is target
    image_path = [
        ImageStatus.UPLOADED, ImageStatus.YOLO_PROCESSED, ImageStatus.ASSIGNED, ImageStatus.IN_PROGRESS,
        ImageStatus.SUBMITTED, ImageStatus.UNDER_REVIEW, ImageStatus.REQUIRES_REVISION,
        ImageStatus.IN_PROGRESS, ImageStatus.SUBMITTED, ImageStatus.UNDER_REVIEW, ImageStatus.APPROVED,
    ]  # fmt: skip
    for image_current, image_target in itertools.pairwise(image_path):
        assert transition(image_current, image_target) is image_target


def test_illegal_transition_names_entity_and_states() -> None:
    with pytest.raises(IllegalTransition) as info:
        transition(ImageStatus.APPROVED, ImageStatus.IN_PROGRESS)
    error = info.value
    assert error.entity == "Image"
    assert error.context() == {"entity": "Image", "from": "APPROVED", "to": "IN_PROGRESS"}
    assert "Image cannot move from APPROVED to IN_PROGRESS" in error.detail
    assert "final" in error.detail


def test_illegal_transition_lists_the_allowed_targets() -> None:
    with pytest.raises(IllegalTransition, match=r"allowed from UPLOADED: ARCHIVED, YOLO_PROCESSING"):
        transition(BatchStatus.UPLOADED, BatchStatus.COMPLETED)


def test_mixing_status_types_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        transition(BatchStatus.UPLOADED, ImageStatus.UPLOADED)


@pytest.mark.parametrize(("status_type", "table"), TABLES)
def test_terminal_states(status_type: type[StrEnum], table: TransitionTable[Any]) -> None:
    expected = {
        BatchStatus: {BatchStatus.ARCHIVED},
        ImageStatus: {ImageStatus.APPROVED},
        AssignmentStatus: {AssignmentStatus.COMPLETED},
        AnnotationStatus: {
            AnnotationStatus.APPROVED,
            AnnotationStatus.REVISION_REQUESTED,
            AnnotationStatus.REJECTED,
        },
    }[status_type]
    assert table.terminal() == expected


@given(st.data())
def test_transition_succeeds_exactly_when_the_table_allows_it(data: st.DataObject) -> None:
    status_type, table = data.draw(st.sampled_from(TABLES))
    current = data.draw(st.sampled_from(list(status_type)))
    target = data.draw(st.sampled_from(list(status_type)))
    allowed = target in table.allowed[current]
    try:
        result = transition(current, target)
    except IllegalTransition as error:
        assert not allowed
        assert error.current is current
        assert error.target is target
    else:
        assert allowed
        assert result is target


@given(st.sampled_from(TABLES), st.data())
def test_no_state_moves_to_itself(
    table_pair: tuple[type[StrEnum], TransitionTable[Any]], data: st.DataObject
) -> None:
    status_type, table = table_pair
    state = data.draw(st.sampled_from(list(status_type)))
    with pytest.raises(IllegalTransition):
        table.apply(state, state)
