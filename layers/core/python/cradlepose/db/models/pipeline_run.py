from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, pg_enum
from cradlepose.domain.enums import PipelineRunStatus


class PipelineRun(Base):
    """One run of a batch's state machine. Beyond seed 000.

    Requested in the same transaction as the event that triggers it (last image registered,
    `complete` called), started after commit under a deterministic execution name, so a retried
    request starts nothing twice. At most one open run per batch; a failed run keeps its step
    and reason, and the next attempt resumes the batch.
    """

    __tablename__ = "pipeline_runs"

    id: Mapped[BigIntPK]
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("image_batches.id"))
    attempt: Mapped[int]
    execution_name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    execution_arn: Mapped[str | None] = mapped_column(sa.String(2048))
    status: Mapped[PipelineRunStatus] = mapped_column(
        pg_enum(PipelineRunStatus, "pipeline_run_status"),
        server_default=PipelineRunStatus.REQUESTED.value,
        default=PipelineRunStatus.REQUESTED,
    )
    requested_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    failed_step: Mapped[str | None] = mapped_column(sa.String(100))
    error: Mapped[str | None] = mapped_column(sa.Text)
    # The model this run pre-annotates with (the inference contract's ModelSpec), fixed when the
    # run starts processing, so every chunk of the run, planned or re-planned, names the same one.
    model_spec: Mapped[dict[str, Any] | None]

    __table_args__ = (
        sa.UniqueConstraint("batch_id", "attempt", name="uq_pipeline_run_batch_attempt"),
        sa.Index(
            "uq_pipeline_run_one_open_per_batch",
            "batch_id",
            unique=True,
            postgresql_where=sa.text("status IN ('REQUESTED', 'RUNNING')"),
        ),
        sa.CheckConstraint("attempt >= 1", name="attempt_positive"),
    )
