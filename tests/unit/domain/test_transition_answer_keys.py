"""Each transition table against an answer key written out here, not read from the table.

The keys come from the documents, not from the code: the main paths of ARCHITECTURE.md's "The batch
workflow" and docs/workflow.md, the seeds' status enums (seed 000 for batch, image, assignment and
annotation, seed 003 for analysis jobs), and the exception moves the docs or transitions.py state
with their reason. Moves the code allows that no document states are kept apart in
`UNDOCUMENTED_*` sets, so the disagreement stays visible; a move added to a table, or one deleted
from it, fails `test_the_table_is_exactly_its_answer_key`.
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Any

import pytest

from cradlepose.domain.enums import (
    AnalysisStatus,
    AnnotationStatus,
    AssignmentStatus,
    BatchStatus,
    ImageStatus,
)
from cradlepose.domain.errors import Conflict, IllegalTransition
from cradlepose.domain.transitions import (
    ANALYSIS,
    ANNOTATION,
    ASSIGNMENT,
    BATCH,
    IMAGE,
    TransitionTable,
    table_for,
    transition,
)

pytestmark = pytest.mark.unit

Move = tuple[Any, Any]

B = BatchStatus
# ARCHITECTURE.md: UPLOADED → YOLO_PROCESSING → YOLO_COMPLETED → READY_FOR_ANNOTATION → ASSIGNED
# → IN_PROGRESS → COMPLETED → ARCHIVED.
BATCH_PATH: frozenset[Move] = frozenset(
    itertools.pairwise(
        [
            B.UPLOADED,
            B.YOLO_PROCESSING,
            B.YOLO_COMPLETED,
            B.READY_FOR_ANNOTATION,
            B.ASSIGNED,
            B.IN_PROGRESS,
            B.COMPLETED,
            B.ARCHIVED,
        ]
    )
)
BATCH_EXCEPTIONS: frozenset[Move] = frozenset(
    {
        # docs/workflow.md: a failed run leaves the batch back at UPLOADED, resumable.
        (B.YOLO_PROCESSING, B.UPLOADED),
        # transitions.py: a revision reopens a ready batch that has no open assignment.
        (B.READY_FOR_ANNOTATION, B.IN_PROGRESS),
        # transitions.py: an image sent back for re-annotation reopens a completed batch
        # (docs/workflow.md: REJECTED with can_be_reannotated gets a fresh assignment).
        (B.COMPLETED, B.IN_PROGRESS),
        # An admin archives a batch (services/batches.archive); the docs name archiving but not
        # from which statuses: before annotation starts, or once completed.
        (B.UPLOADED, B.ARCHIVED),
        (B.READY_FOR_ANNOTATION, B.ARCHIVED),
    }
)
# DISAGREEMENT (code allows, no document states it, no service uses it today): an assigned batch
# going back to READY_FOR_ANNOTATION (an unassignment the API does not offer).
UNDOCUMENTED_BATCH: frozenset[Move] = frozenset({(B.ASSIGNED, B.READY_FOR_ANNOTATION)})

Im = ImageStatus
# ARCHITECTURE.md: UPLOADED → YOLO_PROCESSED → ASSIGNED → IN_PROGRESS → ANNOTATED → SUBMITTED →
# UNDER_REVIEW → APPROVED | REJECTED | REQUIRES_REVISION (→ back to the annotator).
IMAGE_PATH: frozenset[Move] = frozenset(
    {
        *itertools.pairwise(
            [
                Im.UPLOADED,
                Im.YOLO_PROCESSED,
                Im.ASSIGNED,
                Im.IN_PROGRESS,
                Im.ANNOTATED,
                Im.SUBMITTED,
                Im.UNDER_REVIEW,
            ]
        ),
        (Im.UNDER_REVIEW, Im.APPROVED),
        (Im.UNDER_REVIEW, Im.REJECTED),
        (Im.UNDER_REVIEW, Im.REQUIRES_REVISION),
        # docs/workflow.md's diagram: drafts in IN_PROGRESS go straight to SUBMITTED.
        (Im.IN_PROGRESS, Im.SUBMITTED),
        # "→ back to the annotator": a REVISION assignment (ASSIGNED), or the annotator's next
        # draft save on it (services/annotations.save_draft moves it to IN_PROGRESS).
        (Im.REQUIRES_REVISION, Im.ASSIGNED),
        (Im.REQUIRES_REVISION, Im.IN_PROGRESS),
    }
)
IMAGE_EXCEPTIONS: frozenset[Move] = frozenset(
    {
        # transitions.py: an image whose pre-annotation failed can still be annotated by hand.
        (Im.UPLOADED, Im.ASSIGNED),
        # docs/workflow.md (POST /annotations/{id}/release): a verifier gives a claim back.
        (Im.UNDER_REVIEW, Im.SUBMITTED),
        # docs/workflow.md: REJECTED "final, or re-annotated" with can_be_reannotated.
        (Im.REJECTED, Im.ASSIGNED),
        # An ANNOTATED image edited again (services/annotations.save_draft).
        (Im.ANNOTATED, Im.IN_PROGRESS),
        # docs/workflow.md (POST /images/{id}/flag-unusable): an image flagged as unusable before
        # any keypoint was saved is handed in without an annotation (workflow.unusable).
        (Im.ASSIGNED, Im.SUBMITTED),
        (Im.REQUIRES_REVISION, Im.SUBMITTED),
    }
)
# DISAGREEMENT (code allows, no document states it, no service uses it today).
UNDOCUMENTED_IMAGE: frozenset[Move] = frozenset({(Im.ASSIGNED, Im.YOLO_PROCESSED)})

A = AssignmentStatus
# docs/workflow.md: acknowledge, then start; SUBMITTED when the last image is submitted, COMPLETED
# when every image has a final outcome; the overdue sweep moves open assignments (ASSIGNED,
# ACKNOWLEDGED, IN_PROGRESS) past their due date to OVERDUE. Seed 000 gives only the enum.
ASSIGNMENT_PATH: frozenset[Move] = frozenset(
    {
        (A.ASSIGNED, A.ACKNOWLEDGED),
        (A.ACKNOWLEDGED, A.IN_PROGRESS),
        (A.IN_PROGRESS, A.SUBMITTED),
        (A.SUBMITTED, A.COMPLETED),
        (A.ASSIGNED, A.OVERDUE),
        (A.ACKNOWLEDGED, A.OVERDUE),
        (A.IN_PROGRESS, A.OVERDUE),
    }
)
ASSIGNMENT_EXCEPTIONS: frozenset[Move] = frozenset(
    {
        # `start` without acknowledging first (services/assignments.start accepts both).
        (A.ASSIGNED, A.IN_PROGRESS),
        # transitions.py: overdue work can still be started (resumed) or handed in.
        (A.OVERDUE, A.IN_PROGRESS),
        (A.OVERDUE, A.SUBMITTED),
    }
)
UNDOCUMENTED_ASSIGNMENT: frozenset[Move] = frozenset()

An = AnnotationStatus
# Seed 000's enum: DRAFT, COMPLETED, SUBMITTED, UNDER_REVIEW, APPROVED, REVISION_REQUESTED;
# docs/workflow.md: drafts are saved, submitted, claimed for review, and decided.
ANNOTATION_PATH: frozenset[Move] = frozenset(
    {
        (An.DRAFT, An.COMPLETED),
        (An.DRAFT, An.SUBMITTED),
        (An.COMPLETED, An.SUBMITTED),
        (An.SUBMITTED, An.UNDER_REVIEW),
        (An.UNDER_REVIEW, An.APPROVED),
        (An.UNDER_REVIEW, An.REVISION_REQUESTED),
    }
)
ANNOTATION_EXCEPTIONS: frozenset[Move] = frozenset(
    {
        # docs/workflow.md (release): the verifier gives the claim back.
        (An.UNDER_REVIEW, An.SUBMITTED),
        # DISAGREEMENT with seed 000, whose enum has no REJECTED annotation status; docs/workflow.md's
        # REJECTED decision needs one (the code added it; the issue-era docs win over the seed).
        (An.UNDER_REVIEW, An.REJECTED),
        # COMPLETED annotations stay editable (services/annotations.EDITABLE).
        (An.COMPLETED, An.DRAFT),
    }
)
UNDOCUMENTED_ANNOTATION: frozenset[Move] = frozenset()

Js = AnalysisStatus
_STAGES = [Js.UPLOADED, Js.SEGMENTING, Js.CONVERTING, Js.ENHANCING, Js.COMPLETED]
# Seed 003: uploaded → segmenting → converting → enhancing → completed, or failed at some stage.
ANALYSIS_PATH: frozenset[Move] = frozenset(itertools.pairwise(_STAGES))
# "Failed at some stage": from any status that is not final (UPLOADED included: queued, a stage
# that has not started can still fail to start).
ANALYSIS_EXCEPTIONS: frozenset[Move] = frozenset((stage, Js.FAILED) for stage in _STAGES[:-1])
UNDOCUMENTED_ANALYSIS: frozenset[Move] = frozenset()

ANSWER_KEYS: dict[
    type[StrEnum], tuple[TransitionTable[Any], frozenset[Move], frozenset[Move], frozenset[Move]]
] = {
    BatchStatus: (BATCH, BATCH_PATH, BATCH_EXCEPTIONS, UNDOCUMENTED_BATCH),
    ImageStatus: (IMAGE, IMAGE_PATH, IMAGE_EXCEPTIONS, UNDOCUMENTED_IMAGE),
    AssignmentStatus: (ASSIGNMENT, ASSIGNMENT_PATH, ASSIGNMENT_EXCEPTIONS, UNDOCUMENTED_ASSIGNMENT),
    AnnotationStatus: (ANNOTATION, ANNOTATION_PATH, ANNOTATION_EXCEPTIONS, UNDOCUMENTED_ANNOTATION),
    AnalysisStatus: (ANALYSIS, ANALYSIS_PATH, ANALYSIS_EXCEPTIONS, UNDOCUMENTED_ANALYSIS),
}
FAMILIES = list(ANSWER_KEYS)


def legal(status_type: type[StrEnum]) -> frozenset[Move]:
    _, path, exceptions, undocumented = ANSWER_KEYS[status_type]
    return path | exceptions | undocumented


def moves_of(table: TransitionTable[Any]) -> frozenset[Move]:
    return frozenset((current, target) for current, targets in table.allowed.items() for target in targets)


LEGAL_MOVES = [
    pytest.param(f, t, id=f"{type(f).__name__}:{f}->{t}") for s in FAMILIES for f, t in sorted(legal(s))
]
ILLEGAL_MOVES = [
    pytest.param(f, t, id=f"{s.__name__}:{f}->{t}")
    for s in FAMILIES
    for f, t in itertools.product(list(s), repeat=2)
    if (f, t) not in legal(s)
]
EXCEPTION_MOVES = [
    pytest.param(f, t, id=f"{type(f).__name__}:{f}->{t}")
    for s in FAMILIES
    for f, t in sorted(ANSWER_KEYS[s][2])
]


def test_every_status_family_of_the_module_has_an_answer_key() -> None:
    # Given the families transitions.py knows  Then each has a key here (a new table needs one)
    for status_type in FAMILIES:
        assert table_for(status_type) is ANSWER_KEYS[status_type][0]
    assert len({id(key[0]) for key in ANSWER_KEYS.values()}) == 5


@pytest.mark.parametrize("status_type", FAMILIES, ids=lambda s: s.__name__)
def test_the_table_is_exactly_its_answer_key(status_type: type[StrEnum]) -> None:
    table = ANSWER_KEYS[status_type][0]
    # When the table's moves are listed  Then they are the documented ones, no more, no fewer
    actual = moves_of(table)
    assert actual - legal(status_type) == set(), "moves no document allows"
    assert legal(status_type) - actual == set(), "documented moves the table lost"


@pytest.mark.parametrize("status_type", FAMILIES, ids=lambda s: s.__name__)
def test_the_key_parts_do_not_overlap_and_use_only_the_family_statuses(status_type: type[StrEnum]) -> None:
    _, path, exceptions, undocumented = ANSWER_KEYS[status_type]
    assert not (path & exceptions)
    assert not (path & undocumented)
    assert not (exceptions & undocumented)
    assert all(
        type(f) is status_type and type(t) is status_type and f is not t for f, t in legal(status_type)
    )


@pytest.mark.parametrize(("current", "target"), LEGAL_MOVES)
def test_every_legal_move_is_applied(current: Any, target: Any) -> None:
    assert transition(current, target) is target


@pytest.mark.parametrize(("current", "target"), ILLEGAL_MOVES)
def test_every_other_move_raises_illegal_transition(current: StrEnum, target: StrEnum) -> None:
    # When a move outside the key is asked for  Then it is refused with the domain error (a 409)
    with pytest.raises(IllegalTransition) as info:
        transition(current, target)
    assert isinstance(info.value, Conflict)
    assert info.value.current is current
    assert info.value.target is target
    assert f"from {current.value} to {target.value}" in info.value.detail


@pytest.mark.parametrize(("current", "target"), EXCEPTION_MOVES)
def test_each_documented_exception_move_is_allowed_on_its_own(current: Any, target: Any) -> None:
    table = table_for(type(current))
    assert table.can(current, target)
    assert table.apply(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (ImageStatus.SUBMITTED, ImageStatus.APPROVED),  # approval without a verifier's claim
        (ImageStatus.IN_PROGRESS, ImageStatus.APPROVED),
        (ImageStatus.REJECTED, ImageStatus.APPROVED),
        (ImageStatus.APPROVED, ImageStatus.REQUIRES_REVISION),
        (AnnotationStatus.DRAFT, AnnotationStatus.APPROVED),
        (AnnotationStatus.SUBMITTED, AnnotationStatus.APPROVED),
        (AnnotationStatus.APPROVED, AnnotationStatus.DRAFT),
        (BatchStatus.UPLOADED, BatchStatus.READY_FOR_ANNOTATION),  # skipping pre-annotation
        (BatchStatus.IN_PROGRESS, BatchStatus.ARCHIVED),  # archiving work in flight
        (BatchStatus.ARCHIVED, BatchStatus.UPLOADED),
        (AssignmentStatus.COMPLETED, AssignmentStatus.IN_PROGRESS),
        (AssignmentStatus.SUBMITTED, AssignmentStatus.OVERDUE),  # handed-in work is never overdue
        (AnalysisStatus.UPLOADED, AnalysisStatus.COMPLETED),  # skipping stages
        (AnalysisStatus.FAILED, AnalysisStatus.UPLOADED),
        (AnalysisStatus.COMPLETED, AnalysisStatus.FAILED),
    ],
    ids=lambda s: f"{type(s).__name__}.{s}",
)
def test_moves_the_rules_forbid_by_name(current: Any, target: Any) -> None:
    with pytest.raises(IllegalTransition):
        transition(current, target)


@pytest.mark.parametrize(
    ("status_type", "finals"),
    [
        (BatchStatus, {B.ARCHIVED}),
        (ImageStatus, {Im.APPROVED}),
        (AssignmentStatus, {A.COMPLETED}),
        (AnnotationStatus, {An.APPROVED, An.REVISION_REQUESTED, An.REJECTED}),
        (AnalysisStatus, {Js.COMPLETED, Js.FAILED}),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_final_statuses_have_no_exit_in_the_key(status_type: type[StrEnum], finals: set[Any]) -> None:
    exits = {f for f, _ in legal(status_type)}
    assert set(status_type) - exits == finals
    assert ANSWER_KEYS[status_type][0].terminal() == finals
