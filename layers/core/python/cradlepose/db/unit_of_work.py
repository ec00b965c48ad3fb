"""The unit of work: one transaction per use case, with its audit rows inside it.

    with uow_factory(actor, context) as uow:
        batch = uow.batches.require(batch_id, for_update=True)
        ...change batch...
        uow.audit(AuditEntry(action="BATCH_ARCHIVED", ...))
        uow.commit()

Leaving the block without `commit()` rolls everything back, audit rows included. A unit of
work that wrote anything refuses to commit without at least one audit row: every mutation
is audited in its own transaction, by construction rather than by habit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar, overload

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from cradlepose.db import anomaly_repositories as anomaly_repos
from cradlepose.db import repositories as repos
from cradlepose.db.models import AuditLog, User
from cradlepose.domain.actor import SYSTEM_CONTEXT, SYSTEM_USERNAME, Actor, RequestContext
from cradlepose.domain.audit import AuditEntry, jsonable
from cradlepose.domain.events import Event

R = TypeVar("R")


class _Repository(Generic[R]):
    """A unit of work's repository attribute: made from its session on first use, then kept in
    the instance (a plain attribute from then on, so later reads cost nothing)."""

    names: ClassVar[list[str]] = []

    def __init__(self, repository: Callable[[Session], R]) -> None:
        self._repository = repository

    def __set_name__(self, _owner: type, name: str) -> None:
        self._name = name
        _Repository.names.append(name)

    @overload
    def __get__(self, uow: None, _owner: type) -> Self: ...
    @overload
    def __get__(self, uow: UnitOfWork, _owner: type) -> R: ...
    def __get__(self, uow: UnitOfWork | None, _owner: type) -> R | Self:
        if uow is None:
            return self
        repository = self._repository(uow.session)
        uow.__dict__[self._name] = repository
        return repository


class UnauditedChange(RuntimeError):
    """A programming error: a unit of work changed data but recorded no audit row."""


class UnitOfWork:
    """A transaction, its repositories and its audit rows (see the module's docstring).

    Repositories are made on first use in a unit of work (most use two or three of the 28), and
    the write tracking listens once on every Session (`_track_flushed_writes`,
    `_track_statement_writes`), not per unit of work:
    opening one cost as much Python as the query a request runs (bench/request_overhead.py).
    """

    users = _Repository(repos.UserRepository)
    schemas = _Repository(repos.KeypointSchemaRepository)
    batches = _Repository(repos.BatchRepository)
    images = _Repository(repos.ImageRepository)
    assignments = _Repository(repos.AssignmentRepository)
    annotations = _Repository(repos.AnnotationRepository)
    verifications = _Repository(repos.VerificationRepository)
    model_configs = _Repository(repos.ModelConfigRepository)
    audit_logs = _Repository(repos.AuditLogRepository)
    performance = _Repository(repos.PerformanceMetricsRepository)
    upload_rejections = _Repository(repos.UploadRejectionRepository)
    pending_uploads = _Repository(repos.PendingUploadRepository)
    pipeline_runs = _Repository(repos.PipelineRunRepository)
    datasets = _Repository(repos.DatasetRepository)
    collections = _Repository(repos.CollectionRepository)
    dataset_imports = _Repository(repos.DatasetImportRepository)
    training_jobs = _Repository(repos.TrainingJobRepository)
    inference_jobs = _Repository(repos.InferenceJobRepository)
    sigma_calibrations = _Repository(repos.SigmaCalibrationRepository)
    pipeline_chunks = _Repository(repos.PipelineChunkRepository)
    pipeline_waits = _Repository(repos.PipelineWaitRepository)
    pose_embeddings = _Repository(anomaly_repos.PoseEmbeddingRepository)
    age_group_models = _Repository(anomaly_repos.AgeGroupModelRepository)
    anomaly_analyses = _Repository(anomaly_repos.AnomalyAnalysisRepository)
    interpretations = _Repository(anomaly_repos.InterpretabilityRepository)
    anomaly_jobs = _Repository(anomaly_repos.AnomalyTrainingJobRepository)
    anomaly_reports = _Repository(anomaly_repos.AnomalyTrainingReportRepository)
    analysis_jobs = _Repository(repos.AnalysisJobRepository)

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        actor: Actor | None = None,
        context: RequestContext = SYSTEM_CONTEXT,
    ) -> None:
        self._session_factory = session_factory
        self.actor = actor
        self.context = context
        self._started = time.monotonic()
        self._wrote = False
        self._audited = False
        self._pending_events: list[Event] = []
        self.committed_events: list[Event] = []
        self._entered = False
        self._session: Session | None = None
        self._connection: sa.Connection | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Self:
        if self._entered:  # entered again: repositories of the new session
            for name in _Repository.names:
                self.__dict__.pop(name, None)
        self._entered = True
        self._session = None
        self._connection = None
        return self

    @property
    def session(self) -> Session:
        """The ORM session, made on first use. Where Core statements already ran on this unit of
        work's connection (`connection`), the session takes over that connection's transaction,
        so everything stays one transaction."""
        if self._session is None:
            if self._connection is not None:
                self._session = self._session_factory(
                    bind=self._connection, join_transaction_mode="control_fully"
                )
            else:
                self._session = self._session_factory()
            self._session.info[_UNIT_OF_WORK] = self
        return self._session

    def connection(self) -> sa.Connection:
        """The transaction's connection, for Core statements (reads that need no ORM objects).

        Before anything needs the ORM session, it is a pooled connection of its own: a request
        that only reads its caller's row (every request's door) never builds a Session, which
        cost more Python than the read itself (bench/request_overhead.py). A Core write here is
        tracked as the session's Core writes are: not at all (see `mark_written`).
        """
        if self._session is not None:
            return self._session.connection()
        if self._connection is None:
            engine = self._session_factory.kw.get("bind")
            if not isinstance(engine, sa.Engine):  # a factory bound to no single engine
                return self.session.connection()
            self._connection = engine.connect()
        return self._connection

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._session is not None:
                try:
                    self._session.rollback()
                finally:
                    self._session.close()
        finally:
            if self._connection is not None:
                self._connection.close()  # rolls back what is not committed

    def commit(self) -> None:
        if self._session is not None:
            self._session.flush()
        if self._wrote and not self._audited:
            raise UnauditedChange("this unit of work changed data but wrote no audit row")
        if self._session is not None:
            self._session.commit()
        elif self._connection is not None:
            self._connection.commit()
        self._wrote = self._audited = False
        self.committed_events += self._pending_events
        self._pending_events = []

    def rollback(self) -> None:
        if self._session is not None:
            self._session.rollback()
        elif self._connection is not None:
            self._connection.rollback()
        self._wrote = self._audited = False
        self._pending_events = []

    def emit(self, event: Event) -> None:
        """Record that something happened; it is published only if this unit of work commits."""
        self._pending_events.append(event)

    def flush(self) -> None:
        if self._session is not None:
            self._session.flush()

    # ------------------------------------------------------------------ audit
    def audit(self, entry: AuditEntry) -> AuditLog:
        """Add the audit row for `entry` to this transaction."""
        ctx = self.context
        actor_id = self.actor.user_id if self.actor is not None else None
        if actor_id is None and self.actor is not None and self.actor.is_system:
            actor_id = self.system_user_id()
        row = AuditLog(
            user_id=actor_id,
            action=entry.action,
            action_category=entry.category,
            resource_type=entry.resource_type,
            resource_id=entry.resource_id,
            resource_name=entry.resource_name,
            old_values=jsonable(entry.old_values),
            new_values=jsonable(entry.new_values),
            change_summary=entry.summary,
            session_id=ctx.session_id,
            ip_address=ctx.ip_address,
            user_agent=ctx.user_agent,
            api_endpoint=ctx.endpoint,
            request_method=ctx.method,
            request_id=ctx.request_id,
            http_status=entry.http_status,
            action_duration_ms=int((time.monotonic() - self._started) * 1000),
            processing_time_ms=entry.processing_time_ms,
            status=entry.status,
            error_message=entry.error_message,
            warning_messages=entry.warnings or None,
            batch_context=jsonable(entry.batch_context),
            annotation_context=jsonable(entry.annotation_context),
            system_context=jsonable(entry.system_context),
        )
        self.session.add(row)
        self._audited = True
        return row

    def system_user_id(self) -> int | None:
        return self.session.scalar(sa.select(User.id).where(User.username == SYSTEM_USERNAME))

    # ------------------------------------------------------------------ write tracking
    def mark_written(self) -> None:
        """For changes made through Core statements on the connection (bulk loads)."""
        self._wrote = True


_UNIT_OF_WORK = "cradle_unit_of_work"  # the session's info key for the unit of work it serves


@sa.event.listens_for(Session, "before_flush")
def _track_flushed_writes(sess: Session, _ctx: Any, _instances: Any) -> None:
    uow = sess.info.get(_UNIT_OF_WORK)
    if uow is None or uow._wrote:
        return
    for obj in (*sess.new, *sess.dirty, *sess.deleted):
        if not isinstance(obj, AuditLog) and (
            obj in sess.new or obj in sess.deleted or sess.is_modified(obj)
        ):
            uow._wrote = True
            return


@sa.event.listens_for(Session, "do_orm_execute")
def _track_statement_writes(state: ORMExecuteState) -> None:
    uow = state.session.info.get(_UNIT_OF_WORK)
    if uow is not None and (state.is_insert or state.is_update or state.is_delete):
        uow._wrote = True


UnitOfWorkFactory = Callable[..., UnitOfWork]


def unit_of_work_factory(session_factory: sessionmaker[Session]) -> UnitOfWorkFactory:
    def factory(actor: Actor | None = None, context: RequestContext = SYSTEM_CONTEXT) -> UnitOfWork:
        return UnitOfWork(session_factory, actor, context)

    return factory
