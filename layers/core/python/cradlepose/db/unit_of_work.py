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
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.db import anomaly_repositories as anomaly_repos
from cradlepose.db import repositories as repos
from cradlepose.db.models import AuditLog, User
from cradlepose.domain.actor import SYSTEM_CONTEXT, SYSTEM_USERNAME, Actor, RequestContext
from cradlepose.domain.audit import AuditEntry, jsonable
from cradlepose.domain.events import Event


class UnauditedChange(RuntimeError):
    """A programming error: a unit of work changed data but recorded no audit row."""


class UnitOfWork:
    users: repos.UserRepository
    schemas: repos.KeypointSchemaRepository
    batches: repos.BatchRepository
    images: repos.ImageRepository
    assignments: repos.AssignmentRepository
    annotations: repos.AnnotationRepository
    verifications: repos.VerificationRepository
    model_configs: repos.ModelConfigRepository
    audit_logs: repos.AuditLogRepository
    performance: repos.PerformanceMetricsRepository
    upload_rejections: repos.UploadRejectionRepository
    pending_uploads: repos.PendingUploadRepository
    pipeline_runs: repos.PipelineRunRepository
    datasets: repos.DatasetRepository
    collections: repos.CollectionRepository
    dataset_imports: repos.DatasetImportRepository
    training_jobs: repos.TrainingJobRepository
    inference_jobs: repos.InferenceJobRepository
    sigma_calibrations: repos.SigmaCalibrationRepository
    pipeline_chunks: repos.PipelineChunkRepository
    pipeline_waits: repos.PipelineWaitRepository
    pose_embeddings: anomaly_repos.PoseEmbeddingRepository
    age_group_models: anomaly_repos.AgeGroupModelRepository
    anomaly_analyses: anomaly_repos.AnomalyAnalysisRepository
    interpretations: anomaly_repos.InterpretabilityRepository
    anomaly_jobs: anomaly_repos.AnomalyTrainingJobRepository
    anomaly_reports: anomaly_repos.AnomalyTrainingReportRepository
    analysis_jobs: repos.AnalysisJobRepository

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

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Self:
        self.session = self._session_factory()
        self._listen(self.session)
        s = self.session
        self.users = repos.UserRepository(s)
        self.schemas = repos.KeypointSchemaRepository(s)
        self.batches = repos.BatchRepository(s)
        self.images = repos.ImageRepository(s)
        self.assignments = repos.AssignmentRepository(s)
        self.annotations = repos.AnnotationRepository(s)
        self.verifications = repos.VerificationRepository(s)
        self.model_configs = repos.ModelConfigRepository(s)
        self.audit_logs = repos.AuditLogRepository(s)
        self.performance = repos.PerformanceMetricsRepository(s)
        self.upload_rejections = repos.UploadRejectionRepository(s)
        self.pending_uploads = repos.PendingUploadRepository(s)
        self.pipeline_runs = repos.PipelineRunRepository(s)
        self.datasets = repos.DatasetRepository(s)
        self.collections = repos.CollectionRepository(s)
        self.dataset_imports = repos.DatasetImportRepository(s)
        self.training_jobs = repos.TrainingJobRepository(s)
        self.inference_jobs = repos.InferenceJobRepository(s)
        self.sigma_calibrations = repos.SigmaCalibrationRepository(s)
        self.pipeline_chunks = repos.PipelineChunkRepository(s)
        self.pipeline_waits = repos.PipelineWaitRepository(s)
        self.pose_embeddings = anomaly_repos.PoseEmbeddingRepository(s)
        self.age_group_models = anomaly_repos.AgeGroupModelRepository(s)
        self.anomaly_analyses = anomaly_repos.AnomalyAnalysisRepository(s)
        self.interpretations = anomaly_repos.InterpretabilityRepository(s)
        self.anomaly_jobs = anomaly_repos.AnomalyTrainingJobRepository(s)
        self.anomaly_reports = anomaly_repos.AnomalyTrainingReportRepository(s)
        self.analysis_jobs = repos.AnalysisJobRepository(s)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        self.session.flush()
        if self._wrote and not self._audited:
            raise UnauditedChange("this unit of work changed data but wrote no audit row")
        self.session.commit()
        self._wrote = self._audited = False
        self.committed_events += self._pending_events
        self._pending_events = []

    def rollback(self) -> None:
        self.session.rollback()
        self._wrote = self._audited = False
        self._pending_events = []

    def emit(self, event: Event) -> None:
        """Record that something happened; it is published only if this unit of work commits."""
        self._pending_events.append(event)

    def flush(self) -> None:
        self.session.flush()

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
    def _listen(self, session: Session) -> None:
        def before_flush(sess: Session, _ctx: Any, _instances: Any) -> None:
            for obj in (*sess.new, *sess.dirty, *sess.deleted):
                if not isinstance(obj, AuditLog) and (
                    obj in sess.new or obj in sess.deleted or sess.is_modified(obj)
                ):
                    self._wrote = True
                    return

        def do_orm_execute(state: Any) -> None:
            if state.is_insert or state.is_update or state.is_delete:
                self._wrote = True

        sa.event.listen(session, "before_flush", before_flush)
        sa.event.listen(session, "do_orm_execute", do_orm_execute)

    def mark_written(self) -> None:
        """For changes made through Core statements on the connection (bulk loads)."""
        self._wrote = True


UnitOfWorkFactory = Callable[..., UnitOfWork]


def unit_of_work_factory(session_factory: sessionmaker[Session]) -> UnitOfWorkFactory:
    def factory(actor: Actor | None = None, context: RequestContext = SYSTEM_CONTEXT) -> UnitOfWork:
        return UnitOfWork(session_factory, actor, context)

    return factory
