"""Repositories: how services find and add entities, behind the unit of work.

They hold queries, never rules. Each returns ORM objects attached to the unit of work's
session, so changes are saved (and audited) when the unit of work commits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cradlepose.db.base import Base
from cradlepose.db.models import (
    AnalysisJob,
    AnalysisResult,
    Annotation,
    AuditLog,
    BatchAssignment,
    Collection,
    Dataset,
    DatasetImport,
    Image,
    ImageBatch,
    InferenceJob,
    KeypointSchema,
    MLModelConfig,
    PendingUpload,
    PerformanceMetrics,
    PipelineChunk,
    PipelineRun,
    PipelineWait,
    SigmaCalibration,
    TrainingJob,
    UploadRejection,
    User,
    Verification,
)
from cradlepose.domain.enums import PipelineRunStatus
from cradlepose.domain.errors import NotFound

M = TypeVar("M", bound=Base)


class Repository(Generic[M]):
    model: type[M]
    label: str

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, id_: int | uuid.UUID) -> M | None:
        return self.session.get(self.model, id_)

    def require(self, id_: int | uuid.UUID, *, for_update: bool = False) -> M:
        """The entity with this id, or NotFound. `for_update` takes a row lock until commit.

        A locking read always goes to the database and refreshes the object: one already in the
        session would otherwise come back unlocked and stale (a lost update under concurrency).
        """
        if for_update:
            found = self.session.get(self.model, id_, with_for_update=True, populate_existing=True)
        else:
            found = self.session.get(self.model, id_)
        if found is None:
            raise NotFound(self.label, id_)
        return found

    def add(self, entity: M) -> M:
        self.session.add(entity)
        self.session.flush()
        return entity


SEEN_EVERY = dt.timedelta(minutes=1)  # last_login is written at most this often per user
# A users row as a plain row (`row.username`, `row.role`, ...): every column but the password
# placeholder, read without the ORM (no identity map, no instance state), for reading only.
UserRow = sa.Row[Any]
_USER_ROW = tuple(column for column in User.__table__.c if column.key != "password")
_SUBJECT = sa.bindparam("subject", type_=sa.String)
# Built once: building a statement cost as much as running it (bench/request_overhead.py).
_BY_SUBJECT = sa.select(*_USER_ROW).where(User.identity_subject == _SUBJECT)
_STAMP_SEEN = (
    sa.update(User)
    .where(
        User.identity_subject == _SUBJECT,
        sa.or_(User.last_login.is_(None), User.last_login < sa.func.now() - sa.text("interval '1 minute'")),
    )
    .values(last_login=sa.func.now())
    .returning(*_USER_ROW)
)


def caller_row(connection: sa.Connection, subject: str) -> UserRow | None:
    """The caller's users row by their token's subject, as a plain row, stamping `last_login`
    with now() when it is empty or over a minute old.

    The read is a plain indexed SELECT through SQLAlchemy Core on the unit of work's connection
    (`UnitOfWork.connection`, no ORM session): an ORM session and entity (identity map, instance
    state, attribute events) cost more Python than the whole bare request GET /me is measured
    against (bench/request_overhead.py), and nothing changes this row through the ORM. Never
    cached: a deactivated or demoted user is refused on their next request. The UPDATE runs
    only when the row read says the stamp is due, so a busy user's row is written at most once
    a minute and a request whose caller was seen within the minute costs that one SELECT (an
    UPDATE riding along as a CTE on every request cost 1.6 ms of planning and locking even when
    it wrote nothing). The UPDATE checks the age again against the database's clock, so
    concurrent requests write once, and returns the row as it leaves it (GET /me shows it
    without reading it again). Nothing that authorizes a request looks at `last_login`. Not
    audited: it is a trace of requests, not a change anyone made, so it runs below the unit of
    work's write tracking; the caller commits it (see api.dependencies.caller).
    """
    row = connection.execute(_BY_SUBJECT, {"subject": subject}).first()
    if row is None:
        return None
    seen = row.last_login
    if seen is None or seen < dt.datetime.now(dt.UTC) - SEEN_EVERY:
        stamped = connection.execute(_STAMP_SEEN, {"subject": subject}).first()
        if stamped is not None:
            return stamped
    return row


class UserRepository(Repository[User]):
    model, label = User, "User"

    def by_username(self, username: str) -> User | None:
        return self.session.scalar(sa.select(User).where(User.username == username))

    def by_email(self, email: str) -> User | None:
        return self.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.lower()))

    def by_subject(self, subject: str) -> User | None:
        return self.session.scalar(sa.select(User).where(User.identity_subject == subject))


class KeypointSchemaRepository(Repository[KeypointSchema]):
    model, label = KeypointSchema, "KeypointSchema"

    def by_name_version(self, name: str, version: str) -> KeypointSchema | None:
        return self.session.scalar(
            sa.select(KeypointSchema).where(KeypointSchema.name == name, KeypointSchema.version == version)
        )

    def active(self, name: str) -> KeypointSchema | None:
        return self.session.scalar(
            sa.select(KeypointSchema).where(KeypointSchema.name == name, KeypointSchema.is_active)
        )


class BatchRepository(Repository[ImageBatch]):
    model, label = ImageBatch, "ImageBatch"


class ImageRepository(Repository[Image]):
    model, label = Image, "Image"

    def by_storage_path(self, storage_path: str) -> Image | None:
        return self.session.scalar(sa.select(Image).where(Image.storage_path == storage_path))


class AssignmentRepository(Repository[BatchAssignment]):
    model, label = BatchAssignment, "BatchAssignment"


class AnnotationRepository(Repository[Annotation]):
    model, label = Annotation, "Annotation"


class VerificationRepository(Repository[Verification]):
    model, label = Verification, "Verification"


class ModelConfigRepository(Repository[MLModelConfig]):
    model, label = MLModelConfig, "MLModelConfig"


class AuditLogRepository(Repository[AuditLog]):
    model, label = AuditLog, "AuditLog"


class PerformanceMetricsRepository(Repository[PerformanceMetrics]):
    model, label = PerformanceMetrics, "PerformanceMetrics"


class UploadRejectionRepository(Repository[UploadRejection]):
    model, label = UploadRejection, "UploadRejection"

    def by_upload_key(self, upload_key: str) -> UploadRejection | None:
        return self.session.scalar(sa.select(UploadRejection).where(UploadRejection.upload_key == upload_key))


class PendingUploadRepository(Repository[PendingUpload]):
    model, label = PendingUpload, "PendingUpload"

    def by_nonce(self, nonce: str) -> PendingUpload | None:
        return self.session.scalar(sa.select(PendingUpload).where(PendingUpload.nonce == nonce))


class PipelineRunRepository(Repository[PipelineRun]):
    model, label = PipelineRun, "PipelineRun"

    def by_execution_name(self, name: str, *, for_update: bool = False) -> PipelineRun | None:
        query = sa.select(PipelineRun).where(PipelineRun.execution_name == name)
        return self.session.scalar(query.with_for_update() if for_update else query)

    def open_for(self, batch_id: int, *, for_update: bool = False) -> PipelineRun | None:
        """The batch's REQUESTED or RUNNING run (there is at most one)."""
        query = sa.select(PipelineRun).where(
            PipelineRun.batch_id == batch_id,
            PipelineRun.status.in_((PipelineRunStatus.REQUESTED, PipelineRunStatus.RUNNING)),
        )
        return self.session.scalar(query.with_for_update() if for_update else query)

    def latest(self, batch_id: int) -> PipelineRun | None:
        return self.session.scalar(
            sa.select(PipelineRun)
            .where(PipelineRun.batch_id == batch_id)
            .order_by(PipelineRun.attempt.desc())
            .limit(1)
        )


# ---------------------------------------------------------------- datasets, exports, models


class DatasetRepository(Repository[Dataset]):
    model, label = Dataset, "Dataset"

    def by_name(self, name: str) -> Dataset | None:
        return self.session.scalar(sa.select(Dataset).where(Dataset.name == name))


class CollectionRepository(Repository[Collection]):
    model, label = Collection, "Collection"


class DatasetImportRepository(Repository[DatasetImport]):
    model, label = DatasetImport, "DatasetImport"


class TrainingJobRepository(Repository[TrainingJob]):
    model, label = TrainingJob, "TrainingJob"


class InferenceJobRepository(Repository[InferenceJob]):
    model, label = InferenceJob, "InferenceJob"


class SigmaCalibrationRepository(Repository[SigmaCalibration]):
    model, label = SigmaCalibration, "SigmaCalibration"


class PipelineChunkRepository(Repository[PipelineChunk]):
    model, label = PipelineChunk, "PipelineChunk"

    def of_run(self, run_id: int) -> list[PipelineChunk]:
        return list(
            self.session.scalars(
                sa.select(PipelineChunk)
                .where(PipelineChunk.run_id == run_id)
                .order_by(PipelineChunk.chunk_index)
            )
        )

    def by_results_key(self, results_key: str, *, for_update: bool = False) -> PipelineChunk | None:
        query = sa.select(PipelineChunk).where(PipelineChunk.results_key == results_key)
        return self.session.scalar(query.with_for_update() if for_update else query)


class PipelineWaitRepository(Repository[PipelineWait]):
    model, label = PipelineWait, "PipelineWait"

    def by_token(self, task_token: str) -> PipelineWait | None:
        return self.session.scalar(sa.select(PipelineWait).where(PipelineWait.task_token == task_token))

    def parked(self, batch_id: int, *, for_update: bool = False) -> list[PipelineWait]:
        """The batch's tokens not yet answered, oldest first."""
        query = (
            sa.select(PipelineWait)
            .where(PipelineWait.batch_id == batch_id, PipelineWait.released_at.is_(None))
            .order_by(PipelineWait.id)
        )
        return list(self.session.scalars(query.with_for_update(skip_locked=True) if for_update else query))

    def last_released(self, run_id: int) -> PipelineWait | None:
        return self.session.scalar(
            sa.select(PipelineWait)
            .where(PipelineWait.run_id == run_id, PipelineWait.released_at.is_not(None))
            .order_by(PipelineWait.id.desc())
            .limit(1)
        )


class AnalysisJobRepository(Repository[AnalysisJob]):
    model, label = AnalysisJob, "AnalysisJob"

    def result_of(self, job_id: uuid.UUID, *, for_update: bool = False) -> AnalysisResult | None:
        query = sa.select(AnalysisResult).where(AnalysisResult.job_id == job_id)
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return self.session.scalar(query)
