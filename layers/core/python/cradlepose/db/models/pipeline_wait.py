from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, pg_enum
from cradlepose.domain.enums import BatchStatus


class PipelineWait(Base):
    """A Step Functions task token parked until the batch's status moves on. Beyond seed 000.

    `seen_status` is the status the waiting execution last knew; the token is released (answered
    with the current status) as soon as the batch's status differs from it, and `released_at` /
    `released_status` record that answer. The token is unique: parking it twice parks it once.
    """

    __tablename__ = "pipeline_waits"

    id: Mapped[BigIntPK]
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("image_batches.id"))
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("pipeline_runs.id"))
    task_token: Mapped[str] = mapped_column(sa.Text, unique=True)
    seen_status: Mapped[BatchStatus] = mapped_column(pg_enum(BatchStatus, "batch_status"))
    created_at: Mapped[CreatedAt]
    released_at: Mapped[dt.datetime | None]
    released_status: Mapped[BatchStatus | None] = mapped_column(pg_enum(BatchStatus, "batch_status"))

    __table_args__ = (
        sa.Index("idx_pipeline_wait_parked", "batch_id", postgresql_where=sa.text("released_at IS NULL")),
        sa.Index("idx_pipeline_wait_run", "run_id"),
        sa.CheckConstraint(
            "(released_at IS NULL) = (released_status IS NULL)", name="released_status_with_released_at"
        ),
    )
