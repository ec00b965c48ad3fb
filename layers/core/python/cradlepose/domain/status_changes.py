"""The one way a status changes: `change_status(uow, entity, target)`.

It finds the aggregate's transition table, refuses a move the table does not allow
(IllegalTransition, a 409, before anything is written), sets the status and records the
aggregate's StatusChanged event on the unit of work, which publishes it on the bus if, and only
if, it commits. The caller still writes its audit row (its action name says why the status moved)
and sets the other fields that go with the move (started_at, finished_at, …). An image's
`last_status_change` is kept by the database itself (trigger images_last_status_change), so it is
not set here.

No other code assigns a status attribute (tests/unit/architecture/test_status_writes.py scans for
one). A row created in a status is not a change: its constructor names the status.

Pure domain: entities are recognised by their class's name and read and written through
getattr/setattr, so this module imports no SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from cradlepose.domain import lifecycles, transitions
from cradlepose.domain.enums import BatchStatus
from cradlepose.domain.events import BatchStatusChanged, Event, StatusChanged
from cradlepose.domain.transitions import TransitionTable

S = TypeVar("S", bound=StrEnum)


class EventRecorder(Protocol):
    """What collects the events of a use case: the unit of work (`UnitOfWork.emit`)."""

    def emit(self, event: Event) -> None: ...


def _generic(
    entity: str,
) -> Callable[[int | None, StrEnum, StrEnum, str | None], StatusChanged]:
    def make(entity_id: int | None, status: StrEnum, previous: StrEnum, reason: str | None) -> StatusChanged:
        return StatusChanged(entity, entity_id, status, previous, reason)

    return make


def _batch(entity_id: int | None, status: StrEnum, previous: StrEnum, reason: str | None) -> StatusChanged:
    assert entity_id is not None
    assert isinstance(status, BatchStatus)
    assert isinstance(previous, BatchStatus)
    return BatchStatusChanged(entity_id, status, previous, reason)


@dataclass(frozen=True)
class Aggregate:
    """An aggregate that has a status: its table, the attribute that holds the status, its event."""

    name: str
    table: TransitionTable[Any]
    attribute: str = "status"
    event: Callable[[int | None, StrEnum, StrEnum, str | None], StatusChanged] | None = None

    def make_event(
        self, entity_id: int | None, status: StrEnum, previous: StrEnum, reason: str | None
    ) -> StatusChanged:
        make = self.event or _generic(self.name)
        return make(entity_id, status, previous, reason)


def _aggregates(*items: Aggregate) -> Mapping[str, Aggregate]:
    return {item.name: item for item in items}


# Keyed by the entity class's name (cradlepose.db.models), which is also the event's `entity`.
AGGREGATES: Mapping[str, Aggregate] = _aggregates(
    Aggregate("ImageBatch", transitions.BATCH, event=_batch),
    Aggregate("Image", transitions.IMAGE),
    Aggregate("BatchAssignment", transitions.ASSIGNMENT),
    Aggregate("Annotation", transitions.ANNOTATION),
    Aggregate("AnalysisJob", transitions.ANALYSIS),
    Aggregate("Collection", lifecycles.COLLECTION),
    Aggregate("DatasetImport", lifecycles.IMPORT),
    Aggregate("TrainingJob", lifecycles.JOB),
    Aggregate("InferenceJob", lifecycles.JOB),
    Aggregate("MLModelConfig", lifecycles.MODEL_DEPLOYMENT, attribute="deployment_status"),
    Aggregate("PipelineRun", lifecycles.PIPELINE_RUN),
    Aggregate("AnomalyTrainingJob", lifecycles.ANOMALY_TRAINING),
    Aggregate("LearningLoopRun", lifecycles.LOOP_RUN),
)


def aggregate_of(entity: object) -> Aggregate:
    for cls in type(entity).__mro__:
        found = AGGREGATES.get(cls.__name__)
        if found is not None:
            return found
    raise TypeError(f"{type(entity).__name__} has no status table")


def change_status(
    events: EventRecorder, entity: object, target: S, *, reason: str | None = None
) -> StatusChanged:
    """Move `entity` to `target` if its table allows it, record the event, and return it.

    Raises IllegalTransition (nothing changed, nothing recorded) when the table refuses the move,
    including a move to the status it already has.
    """
    aggregate = aggregate_of(entity)
    current = getattr(entity, aggregate.attribute)
    _same_kind(aggregate, current, target)
    aggregate.table.check(current, target)
    setattr(entity, aggregate.attribute, target)
    event = aggregate.make_event(getattr(entity, "id", None), target, current, reason)
    events.emit(event)
    return event


def record_bulk_change(
    events: EventRecorder,
    entity: str,
    entity_ids: Iterable[int],
    current: S,
    target: S,
    *,
    reason: str | None = None,
) -> list[StatusChanged]:
    """The events of one move made by a set-based statement (a chunk's images, in one UPDATE).

    The statement changes only rows in `current`; this checks that `current` → `target` is a move
    of the table, raising IllegalTransition otherwise (the caller's unit of work then rolls the
    statement back), and records one event per row changed.
    """
    aggregate = AGGREGATES[entity]
    _same_kind(aggregate, current, target)
    aggregate.table.check(current, target)
    recorded = [aggregate.make_event(entity_id, target, current, reason) for entity_id in entity_ids]
    for event in recorded:
        events.emit(event)
    return recorded


def _same_kind(aggregate: Aggregate, current: object, target: object) -> None:
    if type(current) is not type(target):
        raise TypeError(
            f"cannot move {aggregate.name}.{aggregate.attribute} from a {type(current).__name__} "
            f"to a {type(target).__name__}"
        )
