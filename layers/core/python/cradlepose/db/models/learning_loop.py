"""The learning loop (issue 23, docs/learning-loop.md): each keypoint schema's retraining policy,
and the runs of the loop's state machine. Beyond seed 000."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, pg_enum
from cradlepose.domain.enums import LoopRunStatus, LoopTrigger


class LearningLoopPolicy(Base):
    """One per keypoint schema (1:1); a schema without a row has the defaults, disabled."""

    __tablename__ = "learning_loop_policies"

    keypoint_schema_id: Mapped[int] = mapped_column(sa.ForeignKey("keypoint_schemas.id"), primary_key=True)
    enabled: Mapped[bool]
    every_n_verified: Mapped[int | None]
    schedule_hours: Mapped[int | None]
    base_model_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ml_model_configs.id"))
    epochs: Mapped[int]
    imgsz: Mapped[int]
    batch: Mapped[int]
    lr0: Mapped[float] = mapped_column(sa.Float)
    holdout_fraction: Mapped[float] = mapped_column(sa.Float)
    min_ap_gain: Mapped[float] = mapped_column(sa.Float)
    max_keypoint_oks_drop: Mapped[float] = mapped_column(sa.Float)
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())
    updated_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (
        sa.CheckConstraint("every_n_verified BETWEEN 1 AND 100000", name="every_n_verified_range"),
        sa.CheckConstraint("schedule_hours BETWEEN 1 AND 8760", name="schedule_hours_range"),
        sa.CheckConstraint("epochs BETWEEN 1 AND 300", name="epochs_range"),
        sa.CheckConstraint("imgsz BETWEEN 32 AND 1280 AND imgsz % 32 = 0", name="imgsz_range"),
        sa.CheckConstraint("batch BETWEEN 1 AND 64", name="batch_range"),
        sa.CheckConstraint("lr0 BETWEEN 0.000001 AND 0.1", name="lr0_range"),
        sa.CheckConstraint("holdout_fraction BETWEEN 0.05 AND 0.5", name="holdout_fraction_range"),
        sa.CheckConstraint("min_ap_gain BETWEEN -1 AND 1", name="min_ap_gain_range"),
        sa.CheckConstraint("max_keypoint_oks_drop BETWEEN 0 AND 1", name="max_keypoint_oks_drop_range"),
    )


class LearningLoopRun(Base):
    """One execution of infra/statemachines/learning_loop.asl.json: its step, what each step made,
    and the gate's verdict. At most one RUNNING run per schema."""

    __tablename__ = "learning_loop_runs"

    id: Mapped[BigIntPK]
    keypoint_schema_id: Mapped[int] = mapped_column(sa.ForeignKey("keypoint_schemas.id"))
    trigger: Mapped[LoopTrigger] = mapped_column(pg_enum(LoopTrigger, "learning_loop_trigger"))
    status: Mapped[LoopRunStatus] = mapped_column(
        pg_enum(LoopRunStatus, "learning_loop_run_status"),
        server_default=LoopRunStatus.RUNNING.value,
        default=LoopRunStatus.RUNNING,
    )
    step: Mapped[str] = mapped_column(sa.String(40))
    # The policy as the run started: later edits do not change a run under way.
    policy: Mapped[dict[str, Any]]
    # The schema's verified images when the run started: "verified since the last run" counts from it.
    verified_at_start: Mapped[int]
    dataset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("datasets.id"))
    training_job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("training_jobs.id"))
    base_model_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ml_model_configs.id"))
    candidate_model_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ml_model_configs.id"))
    incumbent_model_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ml_model_configs.id"))
    candidate_evaluation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("inference_jobs.id"))
    incumbent_evaluation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("inference_jobs.id"))
    candidate_ap: Mapped[float | None] = mapped_column(sa.Float)
    incumbent_ap: Mapped[float | None] = mapped_column(sa.Float)
    evidence: Mapped[dict[str, Any] | None]
    verdict: Mapped[str | None] = mapped_column(sa.Text)
    error: Mapped[str | None] = mapped_column(sa.Text)
    execution_arn: Mapped[str | None] = mapped_column(sa.String(2048))
    started_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    started_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())
    finished_at: Mapped[dt.datetime | None]

    __table_args__ = (
        sa.Index("idx_learning_loop_run_schema", "keypoint_schema_id", "id"),
        sa.Index(
            "uq_learning_loop_run_one_running_per_schema",
            "keypoint_schema_id",
            unique=True,
            postgresql_where=sa.text("status = 'RUNNING'"),
        ),
        sa.CheckConstraint("verified_at_start >= 0", name="verified_at_start_non_negative"),
    )
