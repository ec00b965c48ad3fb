"""Parked task tokens and their release, late assignments, and runs restarted after their execution vanished."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose import bootstrap
from cradlepose.common.system import step_context
from cradlepose.db.models import BatchAssignment, ImageBatch, PipelineRun, PipelineWait
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.enums import AssignmentStatus, BatchStatus, PipelineRunStatus, Role
from cradlepose.domain.events import BatchStatusChanged
from cradlepose.preannotation import pipeline_resume, pipeline_waits
from cradlepose.preannotation import steps as preannotation
from cradlepose.workflow import overdue
from tests.pipeline_support import RecordingWorkflow, execution_id, make_batch, request_run
from tests.support import Persona, make_user

pytestmark = pytest.mark.integration

CTX = step_context("states:test")
MACHINE = "arn:aws:states:us-east-1:000000000000:stateMachine:cradle-batch-pipeline"


def _ready_batch(uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], owner: int) -> int:
    """A batch that went through pre-annotation and waits for people, with its run RUNNING."""
    batch_id, _ = make_batch(session_factory, owner, 1)
    _, name = request_run(uow_factory, batch_id)
    preannotation.mark_processing(uow_factory, batch_id, execution_id(name), CTX)
    _set_status(session_factory, batch_id, BatchStatus.READY_FOR_ANNOTATION)
    return batch_id


def _set_status(session_factory: sessionmaker[Session], batch_id: int, status: BatchStatus) -> None:
    """What the workflow services do (through the transition table, audited); here only the result matters."""
    with session_factory() as session:
        session.execute(sa.update(ImageBatch).where(ImageBatch.id == batch_id).values(status=status))
        session.commit()


def _waits(session_factory: sessionmaker[Session], batch_id: int) -> list[PipelineWait]:
    with session_factory() as session:
        return list(
            session.scalars(
                sa.select(PipelineWait).where(PipelineWait.batch_id == batch_id).order_by(PipelineWait.id)
            )
        )


def _run(session_factory: sessionmaker[Session], batch_id: int) -> PipelineRun:
    with session_factory() as session:
        return session.scalars(sa.select(PipelineRun).where(PipelineRun.batch_id == batch_id)).one()


def test_a_parked_token_is_released_when_the_batch_moves_on_and_only_then(
    uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], admin: Persona
) -> None:
    # Given a ready batch whose execution parks its first token
    assert admin.user_id is not None
    batch_id = _ready_batch(uow_factory, session_factory, admin.user_id)
    workflow = RecordingWorkflow()
    parked = pipeline_waits.await_stage(uow_factory, workflow, batch_id, "token-1", CTX)
    again = pipeline_waits.await_stage(uow_factory, workflow, batch_id, "token-1", CTX)  # a retried task
    assert (parked.released, again.released) == (0, 0)
    assert len(_waits(session_factory, batch_id)) == 1

    # When nothing changed, releasing answers nobody
    assert pipeline_waits.release_waits(uow_factory, workflow, batch_id) == 0

    # When the batch is assigned, the token is answered once
    _set_status(session_factory, batch_id, BatchStatus.ASSIGNED)
    assert pipeline_waits.release_waits(uow_factory, workflow, batch_id) == 1
    assert pipeline_waits.release_waits(uow_factory, workflow, batch_id) == 0
    assert workflow.succeeded == [("token-1", {"status": "ASSIGNED", "completed": False})]

    # And the next wait of the execution starts from ASSIGNED, so it parks
    pipeline_waits.await_stage(uow_factory, workflow, batch_id, "token-2", CTX)
    assert [w.seen_status for w in _waits(session_factory, batch_id)] == [
        BatchStatus.READY_FOR_ANNOTATION, BatchStatus.ASSIGNED,
    ]  # fmt: skip
    assert len(workflow.succeeded) == 1


def test_a_status_reached_before_the_token_was_parked_is_not_lost(
    uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], admin: Persona
) -> None:
    # Given a batch that was completed while no token was parked (its release found nobody)
    assert admin.user_id is not None
    batch_id = _ready_batch(uow_factory, session_factory, admin.user_id)
    _set_status(session_factory, batch_id, BatchStatus.COMPLETED)
    workflow = RecordingWorkflow()
    assert pipeline_waits.release_waits(uow_factory, workflow, batch_id) == 0

    # When the execution parks its token
    parked = pipeline_waits.await_stage(uow_factory, workflow, batch_id, "late-token", CTX)

    # Then it is answered at once with completed, and the run succeeded
    assert parked.released == 1
    assert workflow.succeeded == [("late-token", {"status": "COMPLETED", "completed": True})]
    assert _run(session_factory, batch_id).status is PipelineRunStatus.SUCCEEDED


def test_a_token_nobody_waits_on_is_marked_and_a_superseded_one_is_retired(
    uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], admin: Persona
) -> None:
    assert admin.user_id is not None
    batch_id = _ready_batch(uow_factory, session_factory, admin.user_id)
    workflow = RecordingWorkflow(gone={"timed-out"})
    pipeline_waits.await_stage(uow_factory, workflow, batch_id, "timed-out", CTX)

    # The execution's wait timed out (MarkOverdue, then a new wait): the old token is retired
    pipeline_waits.await_stage(uow_factory, workflow, batch_id, "fresh", CTX)
    old, fresh = _waits(session_factory, batch_id)
    assert old.released_at is not None
    assert fresh.released_at is None
    assert fresh.seen_status is BatchStatus.READY_FOR_ANNOTATION

    # A token Step Functions forgot is marked released without an answer anyone receives
    workflow.gone.add("fresh")
    _set_status(session_factory, batch_id, BatchStatus.IN_PROGRESS)
    assert pipeline_waits.release_waits(uow_factory, workflow, batch_id) == 1
    assert workflow.succeeded == []
    assert _waits(session_factory, batch_id)[1].released_status is BatchStatus.IN_PROGRESS
    assert _run(session_factory, batch_id).status is PipelineRunStatus.RUNNING


def test_late_assignments_become_overdue_once(
    uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], admin: Persona, engine: sa.Engine
) -> None:
    # Given three assignments: one late, one late but already submitted, one due tomorrow
    assert admin.user_id is not None
    annotator = make_user(session_factory, Role.ANNOTATOR, name="slow")
    batch_id = _ready_batch(uow_factory, session_factory, admin.user_id)
    other_batch = _ready_batch(uow_factory, session_factory, admin.user_id)
    now = dt.datetime.now(dt.UTC)
    with session_factory() as session:
        rows = [
            BatchAssignment(batch_id=batch_id, annotator_id=annotator.user_id, assigned_by=admin.user_id,
                            images_total=1, status=status, due_date=now + delta)
            for status, delta in (
                (AssignmentStatus.IN_PROGRESS, dt.timedelta(hours=-1)),
                (AssignmentStatus.SUBMITTED, dt.timedelta(hours=-1)),
                (AssignmentStatus.ASSIGNED, dt.timedelta(days=1)),
            )
        ]  # fmt: skip
        late_elsewhere = BatchAssignment(
            batch_id=other_batch, annotator_id=annotator.user_id, assigned_by=admin.user_id, images_total=1,
            due_date=now - dt.timedelta(days=2),
        )  # fmt: skip
        session.add_all([*rows, late_elsewhere])
        session.commit()
        late_id, elsewhere_id = rows[0].id, late_elsewhere.id

    # When the pipeline marks the batch's late work, twice, and then the sweep runs for all batches
    assert overdue.mark_overdue(uow_factory, CTX, batch_id=batch_id) == [late_id]
    assert overdue.mark_overdue(uow_factory, CTX, batch_id=batch_id) == []
    assert overdue.mark_overdue(uow_factory, CTX) == [elsewhere_id]

    # Then exactly the late open ones are OVERDUE, each audited once
    with engine.connect() as conn:
        statuses: dict[int, str] = dict(
            conn.execute(sa.text("SELECT id, status FROM batch_assignments")).all()
        )
        audited = conn.scalar(sa.text("SELECT count(*) FROM audit_logs WHERE action = 'ASSIGNMENT_OVERDUE'"))
    assert statuses[late_id] == statuses[elsewhere_id] == "OVERDUE"
    assert sorted(statuses.values()) == ["ASSIGNED", "OVERDUE", "OVERDUE", "SUBMITTED"]
    assert audited == 2

    gauges = overdue.gauges(uow_factory, CTX)
    assert gauges.batches_in_status[BatchStatus.READY_FOR_ANNOTATION] == 2
    assert gauges.images_awaiting_annotation == 0  # their images are still UPLOADED
    assert sum(gauges.batches_in_status.values()) == 2


def test_open_runs_whose_execution_is_gone_are_started_again_under_their_name(
    uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], admin: Persona, engine: sa.Engine
) -> None:
    # Given a running batch, a requested one, a finished one, and a batch stranded in processing
    assert admin.user_id is not None
    running = _ready_batch(uow_factory, session_factory, admin.user_id)
    requested, _ = make_batch(session_factory, admin.user_id, 1)
    request_run(uow_factory, requested)
    stranded, _ = make_batch(session_factory, admin.user_id, 1)
    _set_status(session_factory, stranded, BatchStatus.YOLO_PROCESSING)
    alive = {pipeline_resume.execution_arn(MACHINE, f"cradle-batch-{requested}-run-1")}
    workflow = RecordingWorkflow()

    # When the local stack restarts and looks for runs without an execution
    resumed = pipeline_resume.resume_interrupted(
        uow_factory, workflow, MACHINE, lambda arn: arn in alive, CTX
    )

    # Then the running one starts again under its own name, the stranded batch gets a run, the live one is left
    names = sorted(name for _, name, _ in workflow.started)
    assert names == [f"cradle-batch-{running}-run-1", f"cradle-batch-{stranded}-run-1"]
    assert len(resumed) == 2
    assert _run(session_factory, running).status is PipelineRunStatus.RUNNING
    assert _run(session_factory, stranded).status is PipelineRunStatus.RUNNING
    assert _run(session_factory, requested).status is PipelineRunStatus.REQUESTED
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM audit_logs WHERE action = 'PIPELINE_RESUMED'")) == 2


def test_a_committed_status_change_on_the_composition_roots_bus_releases_the_batchs_token(
    uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], admin: Persona
) -> None:
    assert admin.user_id is not None
    batch_id = _ready_batch(uow_factory, session_factory, admin.user_id)
    other_id = _ready_batch(uow_factory, session_factory, admin.user_id)
    workflow = RecordingWorkflow()
    pipeline_waits.await_stage(uow_factory, workflow, batch_id, "mine", CTX)
    pipeline_waits.await_stage(uow_factory, workflow, other_id, "other", CTX)
    bus = bootstrap.bootstrap(uow_factory, workflow).bus  # what every entry point publishes on
    _set_status(session_factory, batch_id, BatchStatus.ASSIGNED)
    _set_status(session_factory, other_id, BatchStatus.ASSIGNED)

    bus.publish([BatchStatusChanged(batch_id, BatchStatus.ASSIGNED)])

    assert workflow.succeeded == [("mine", {"status": "ASSIGNED", "completed": False})]


def test_runs_waiting_to_start_start_in_batch_priority_order(
    uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], admin: Persona
) -> None:
    # Given three requested runs whose executions are gone, made in the order low, high, middle
    assert admin.user_id is not None
    batches = {}
    for priority in (2, 9, 5):
        batch_id, _ = make_batch(session_factory, admin.user_id, 1)
        with session_factory() as session:
            session.execute(
                sa.update(ImageBatch).where(ImageBatch.id == batch_id).values(processing_priority=priority)
            )
            session.commit()
        request_run(uow_factory, batch_id)
        batches[priority] = batch_id
    workflow = RecordingWorkflow()

    # When they are started again
    pipeline_resume.resume_interrupted(uow_factory, workflow, MACHINE, lambda arn: False, CTX)

    # Then the batch with the highest processing_priority runs first (issue 19)
    started = [name for _, name, _ in workflow.started]
    assert started == [f"cradle-batch-{batches[p]}-run-1" for p in (9, 5, 2)]
