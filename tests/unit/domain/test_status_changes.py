"""change_status against answer keys written out here (and, for the workflow's five tables, in
test_transition_answer_keys), never read from the tables it checks.

Keys come from the documents: seed 001 (jobs: queued → running → completed / failed, any open →
cancelled), seed 002 (collections: pending → ready / failed → expired), seed 004 and docs/anomaly.md
(anomaly training: queued → running → completed / failed), docs/learning-loop.md (loop runs:
running → promoted / refused / failed), docs/workflow.md and docs/local.md
(pipeline runs: requested → running → succeeded, failed from either open state), and
models.promotions / models.model_configs for a model's deployment (the promotion rules plus "make
default" and "retire").
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cradlepose.domain.enums import (
    AnalysisStatus,
    AnnotationStatus,
    AnomalyTrainingStatus,
    AssignmentStatus,
    BatchStatus,
    CollectionStatus,
    DeploymentStatus,
    ImageStatus,
    ImportStatus,
    JobStatus,
    LoopRunStatus,
    PipelineRunStatus,
)
from cradlepose.domain.errors import IllegalTransition
from cradlepose.domain.events import BatchStatusChanged, Event, StatusChanged
from cradlepose.domain.status_changes import AGGREGATES, change_status, record_bulk_change
from tests.unit.domain.test_transition_answer_keys import legal

pytestmark = pytest.mark.unit

Move = tuple[Any, Any]

C = CollectionStatus
COLLECTION_KEY: frozenset[Move] = frozenset(
    {(C.PENDING, C.READY), (C.PENDING, C.FAILED), (C.READY, C.EXPIRED), (C.FAILED, C.EXPIRED)}
)

I = ImportStatus  # noqa: E741 - one letter, as the other keys
IMPORT_KEY: frozenset[Move] = frozenset(
    {(I.AWAITING_UPLOAD, I.PENDING), (I.PENDING, I.COMPLETED), (I.PENDING, I.FAILED)}
)

J = JobStatus
JOB_KEY: frozenset[Move] = frozenset(
    {
        (J.QUEUED, J.RUNNING),
        (J.QUEUED, J.CANCELLED),
        (J.QUEUED, J.FAILED),
        (J.RUNNING, J.COMPLETED),
        (J.RUNNING, J.FAILED),
        (J.RUNNING, J.CANCELLED),
    }
)

D = DeploymentStatus
DEPLOYMENT_KEY: frozenset[Move] = frozenset(
    {
        # the promotion rules
        (D.DEVELOPMENT, D.TESTING),
        (D.TESTING, D.PRODUCTION),
        (D.TESTING, D.DEVELOPMENT),
        (D.PRODUCTION, D.DEPRECATED),
        (D.DEPRECATED, D.TESTING),
        # PRODUCTION only from TESTING (through the gate): no shortcut from DEVELOPMENT or DEPRECATED
        # retire: any other status to DEPRECATED
        (D.DEVELOPMENT, D.DEPRECATED),
        (D.TESTING, D.DEPRECATED),
    }
)

P = PipelineRunStatus
PIPELINE_RUN_KEY: frozenset[Move] = frozenset(
    {(P.REQUESTED, P.RUNNING), (P.REQUESTED, P.FAILED), (P.RUNNING, P.SUCCEEDED), (P.RUNNING, P.FAILED)}
)

T = AnomalyTrainingStatus
ANOMALY_TRAINING_KEY: frozenset[Move] = frozenset(
    {(T.QUEUED, T.RUNNING), (T.RUNNING, T.COMPLETED), (T.RUNNING, T.FAILED)}
)

L = LoopRunStatus
# docs/learning-loop.md: a run is RUNNING until the gate promotes or refuses, or a step fails.
LOOP_RUN_KEY: frozenset[Move] = frozenset(
    {(L.RUNNING, L.PROMOTED), (L.RUNNING, L.REFUSED), (L.RUNNING, L.FAILED)}
)

# aggregate → (the attribute holding its status, its status type, its legal moves)
KEYS: dict[str, tuple[str, type[StrEnum], frozenset[Move]]] = {
    "ImageBatch": ("status", BatchStatus, legal(BatchStatus)),
    "Image": ("status", ImageStatus, legal(ImageStatus)),
    "BatchAssignment": ("status", AssignmentStatus, legal(AssignmentStatus)),
    "Annotation": ("status", AnnotationStatus, legal(AnnotationStatus)),
    "AnalysisJob": ("status", AnalysisStatus, legal(AnalysisStatus)),
    "Collection": ("status", CollectionStatus, COLLECTION_KEY),
    "DatasetImport": ("status", ImportStatus, IMPORT_KEY),
    "TrainingJob": ("status", JobStatus, JOB_KEY),
    "InferenceJob": ("status", JobStatus, JOB_KEY),
    "MLModelConfig": ("deployment_status", DeploymentStatus, DEPLOYMENT_KEY),
    "PipelineRun": ("status", PipelineRunStatus, PIPELINE_RUN_KEY),
    "AnomalyTrainingJob": ("status", AnomalyTrainingStatus, ANOMALY_TRAINING_KEY),
    "LearningLoopRun": ("status", LoopRunStatus, LOOP_RUN_KEY),
}


class Recorder:
    """Stands in for the unit of work: what was emitted, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


def entity(name: str, current: StrEnum, entity_id: int = 7) -> Any:
    """An object of a class named like the aggregate's model, holding `current`."""
    attribute = KEYS[name][0]
    made: Any = type(name, (), {})()
    made.id = entity_id
    setattr(made, attribute, current)
    return made


@st.composite
def moves(draw: st.DrawFn) -> tuple[str, Any, Any]:
    name = draw(st.sampled_from(sorted(KEYS)))
    status_type = KEYS[name][1]
    current = draw(st.sampled_from(list(status_type)))
    target = draw(st.sampled_from(list(status_type)))
    return name, current, target


def test_every_aggregate_with_a_status_has_an_answer_key() -> None:
    assert set(AGGREGATES) == set(KEYS)
    for name, (attribute, _, _) in KEYS.items():
        assert AGGREGATES[name].attribute == attribute, name


@given(moves(), st.one_of(st.none(), st.text(max_size=20)))
def test_a_move_of_the_key_is_made_and_recorded_once(move: tuple[str, Any, Any], reason: str | None) -> None:
    name, current, target = move
    attribute, _, key = KEYS[name]
    thing, recorder = entity(name, current), Recorder()
    if (current, target) not in key:
        with pytest.raises(IllegalTransition) as refused:
            change_status(recorder, thing, target, reason=reason)
        # refused before anything happened: the status is the old one and nothing was recorded
        assert getattr(thing, attribute) is current
        assert recorder.events == []
        assert refused.value.current is current
        assert refused.value.target is target
        return
    event = change_status(recorder, thing, target, reason=reason)
    assert getattr(thing, attribute) is target
    assert recorder.events == [event]
    assert (event.entity, event.entity_id, event.status, event.previous, event.reason) == (
        name,
        7,
        target,
        current,
        reason,
    )


def test_a_move_to_the_status_it_has_is_refused_for_every_aggregate() -> None:
    for name, (_, status_type, _) in KEYS.items():
        for status in status_type:
            recorder = Recorder()
            with pytest.raises(IllegalTransition):
                change_status(recorder, entity(name, status), status)
            assert recorder.events == []


def test_a_batch_records_the_event_the_pipeline_waits_subscribe_to() -> None:
    recorder = Recorder()
    event = change_status(
        recorder, entity("ImageBatch", BatchStatus.READY_FOR_ANNOTATION), BatchStatus.ARCHIVED
    )
    assert type(event) is BatchStatusChanged
    assert event == BatchStatusChanged(7, BatchStatus.ARCHIVED)
    assert event.batch_id == 7
    assert event.previous is BatchStatus.READY_FOR_ANNOTATION


def test_other_aggregates_record_a_plain_status_changed() -> None:
    event = change_status(
        Recorder(), entity("PipelineRun", PipelineRunStatus.REQUESTED), PipelineRunStatus.RUNNING
    )
    assert type(event) is StatusChanged
    assert event == StatusChanged("PipelineRun", 7, PipelineRunStatus.RUNNING)


def test_a_model_subclass_is_its_aggregate() -> None:
    parent = type("TrainingJob", (), {})
    child: Any = type("GpuTrainingJob", (parent,), {})()
    child.id, child.status = 3, JobStatus.QUEUED
    assert change_status(Recorder(), child, JobStatus.RUNNING).entity == "TrainingJob"
    assert child.status is JobStatus.RUNNING


def test_a_status_of_another_family_is_a_type_error_and_changes_nothing() -> None:
    thing, recorder = entity("Image", ImageStatus.UPLOADED), Recorder()
    with pytest.raises(TypeError):
        change_status(recorder, thing, BatchStatus.YOLO_PROCESSING)
    assert thing.status is ImageStatus.UPLOADED
    assert recorder.events == []


def test_an_entity_without_a_table_is_a_type_error() -> None:
    stranger: Any = type("Verification", (), {})()
    stranger.id, stranger.status = 1, ImageStatus.UPLOADED
    with pytest.raises(TypeError, match="no status table"):
        change_status(Recorder(), stranger, ImageStatus.YOLO_PROCESSED)


@given(
    st.sampled_from(list(itertools.product(ImageStatus, ImageStatus))),
    st.lists(st.integers(min_value=1, max_value=10**6), max_size=5, unique=True),
)
def test_a_bulk_move_records_one_event_per_row_or_is_refused(move: Move, ids: list[int]) -> None:
    current, target = move
    recorder = Recorder()
    if move not in legal(ImageStatus):
        with pytest.raises(IllegalTransition):
            record_bulk_change(recorder, "Image", ids, current, target)
        assert recorder.events == []
        return
    recorded = record_bulk_change(recorder, "Image", ids, current, target)
    assert recorder.events == recorded
    assert [(e.entity, e.entity_id, e.status, e.previous) for e in recorded] == [
        ("Image", i, target, current) for i in ids
    ]
