"""Status transition tables of ImageBatch, Image, BatchAssignment, Annotation and AnalysisJob.

Every status change in Cradle goes through `TransitionTable.apply`, which either returns the
new status or raises `IllegalTransition` naming the entity, the current and the target status.
A transition to the same status is not a change and is refused too, so a step that runs twice
can tell "already done" (it checks first) from "not allowed".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from cradlepose.domain.enums import (
    AnalysisStatus,
    AnnotationStatus,
    AssignmentStatus,
    BatchStatus,
    ImageStatus,
)
from cradlepose.domain.errors import IllegalTransition

S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True)
class TransitionTable(Generic[S]):
    entity: str
    allowed: Mapping[S, frozenset[S]]

    def can(self, current: S, target: S) -> bool:
        return target in self.allowed.get(current, frozenset())

    def check(self, current: S, target: S) -> None:
        if not self.can(current, target):
            options = sorted(s.value for s in self.allowed.get(current, frozenset()))
            reason = f"allowed from {current.value}: {', '.join(options)}" if options else "it is final"
            raise IllegalTransition(self.entity, current, target, reason)

    def apply(self, current: S, target: S) -> S:
        self.check(current, target)
        return target

    def states(self) -> frozenset[S]:
        result: set[S] = set(self.allowed)
        for targets in self.allowed.values():
            result |= targets
        return frozenset(result)

    def terminal(self) -> frozenset[S]:
        return frozenset(s for s in self.states() if not self.allowed.get(s))


def _table(entity: str, edges: Mapping[S, set[S]]) -> TransitionTable[S]:
    return TransitionTable(entity, {state: frozenset(targets) for state, targets in edges.items()})


B = BatchStatus
BATCH = _table(
    "ImageBatch",
    {
        # YOLO_PROCESSING -> UPLOADED: a failed pipeline run leaves the batch resumable.
        B.UPLOADED: {B.YOLO_PROCESSING, B.ARCHIVED},
        B.YOLO_PROCESSING: {B.YOLO_COMPLETED, B.UPLOADED},
        B.YOLO_COMPLETED: {B.READY_FOR_ANNOTATION},
        # READY -> IN_PROGRESS covers a revision that reopens a batch with no open assignment.
        B.READY_FOR_ANNOTATION: {B.ASSIGNED, B.IN_PROGRESS, B.ARCHIVED},
        B.ASSIGNED: {B.IN_PROGRESS, B.READY_FOR_ANNOTATION},
        B.IN_PROGRESS: {B.COMPLETED},
        # A rejected image sent back for re-annotation reopens a completed batch.
        B.COMPLETED: {B.IN_PROGRESS, B.ARCHIVED},
        B.ARCHIVED: set(),
    },
)

Im = ImageStatus
IMAGE = _table(
    "Image",
    {
        # UPLOADED -> ASSIGNED: an image whose pre-annotation failed can still be annotated by hand.
        Im.UPLOADED: {Im.YOLO_PROCESSED, Im.ASSIGNED},
        Im.YOLO_PROCESSED: {Im.ASSIGNED},
        # ASSIGNED / REQUIRES_REVISION -> SUBMITTED: flagged as unusable before any keypoint was
        # placed, it is handed in for a verifier's decision without an annotation.
        Im.ASSIGNED: {Im.IN_PROGRESS, Im.YOLO_PROCESSED, Im.SUBMITTED},
        Im.IN_PROGRESS: {Im.ANNOTATED, Im.SUBMITTED},
        Im.ANNOTATED: {Im.IN_PROGRESS, Im.SUBMITTED},
        Im.SUBMITTED: {Im.UNDER_REVIEW},
        # UNDER_REVIEW -> SUBMITTED: a verifier releases an image without deciding.
        Im.UNDER_REVIEW: {Im.APPROVED, Im.REJECTED, Im.REQUIRES_REVISION, Im.SUBMITTED},
        Im.REQUIRES_REVISION: {Im.ASSIGNED, Im.IN_PROGRESS, Im.SUBMITTED},
        # REJECTED -> ASSIGNED: only when the verifier said it can be re-annotated.
        Im.REJECTED: {Im.ASSIGNED},
        Im.APPROVED: set(),
    },
)

A = AssignmentStatus
ASSIGNMENT = _table(
    "BatchAssignment",
    {
        A.ASSIGNED: {A.ACKNOWLEDGED, A.IN_PROGRESS, A.OVERDUE},
        A.ACKNOWLEDGED: {A.IN_PROGRESS, A.OVERDUE},
        A.IN_PROGRESS: {A.SUBMITTED, A.OVERDUE},
        # Overdue work can still be started or handed in.
        A.OVERDUE: {A.IN_PROGRESS, A.SUBMITTED},
        # SUBMITTED: every image handed in; COMPLETED: every image has a final decision.
        A.SUBMITTED: {A.COMPLETED},
        A.COMPLETED: set(),
    },
)

An = AnnotationStatus
ANNOTATION = _table(
    "Annotation",
    {
        An.DRAFT: {An.COMPLETED, An.SUBMITTED},
        An.COMPLETED: {An.DRAFT, An.SUBMITTED},
        An.SUBMITTED: {An.UNDER_REVIEW},
        An.UNDER_REVIEW: {An.APPROVED, An.REVISION_REQUESTED, An.REJECTED, An.SUBMITTED},
        An.APPROVED: set(),
        An.REVISION_REQUESTED: set(),
        An.REJECTED: set(),
    },
)

Js = AnalysisStatus
# Seed 003: each stage in turn, or failed at whichever stage was running.
ANALYSIS = _table(
    "AnalysisJob",
    {
        Js.UPLOADED: {Js.SEGMENTING, Js.FAILED},
        Js.SEGMENTING: {Js.CONVERTING, Js.FAILED},
        Js.CONVERTING: {Js.ENHANCING, Js.FAILED},
        Js.ENHANCING: {Js.COMPLETED, Js.FAILED},
        Js.COMPLETED: set(),
        Js.FAILED: set(),
    },
)

_TABLE_OF: dict[type[StrEnum], TransitionTable[Any]] = {
    BatchStatus: BATCH,
    ImageStatus: IMAGE,
    AssignmentStatus: ASSIGNMENT,
    AnnotationStatus: ANNOTATION,
    AnalysisStatus: ANALYSIS,
}


def table_for(status_type: type[S]) -> TransitionTable[S]:
    return _TABLE_OF[status_type]


def transition(current: S, target: S) -> S:
    """Apply one status change with the table of the status's own type, or raise IllegalTransition."""
    if type(current) is not type(target):
        raise TypeError(f"cannot move a {type(current).__name__} to a {type(target).__name__}")
    table: TransitionTable[S] = _TABLE_OF[type(current)]
    return table.apply(current, target)
