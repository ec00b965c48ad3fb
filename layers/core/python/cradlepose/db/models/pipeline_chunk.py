from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, non_negative


class PipelineChunk(Base):
    """One chunk of a pipeline run: its images, its manifest and results keys, and whether its
    results were loaded. Beyond seed 000.

    The plan of a run is written once, in one transaction, so re-planning the same run (a retried
    step, a resumed execution) returns the same chunks. `loaded_at` is the ingest step's guard:
    a chunk's results are loaded once, however often the step runs.
    """

    __tablename__ = "pipeline_chunks"

    id: Mapped[BigIntPK]
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("pipeline_runs.id"))
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("image_batches.id"))
    chunk_index: Mapped[int]
    image_ids: Mapped[list[int]] = mapped_column(pg.ARRAY(sa.BigInteger))
    manifest_key: Mapped[str] = mapped_column(sa.String(500))
    results_key: Mapped[str] = mapped_column(sa.String(500), unique=True)
    created_at: Mapped[CreatedAt]
    loaded_at: Mapped[dt.datetime | None]
    loaded_count: Mapped[int | None]
    failed_count: Mapped[int | None]
    # How long the inference task worked on this chunk (its results document's own measure).
    processing_time_ms: Mapped[int | None]

    __table_args__ = (
        sa.UniqueConstraint("run_id", "chunk_index", name="uq_pipeline_chunk_run_index"),
        sa.Index("idx_pipeline_chunk_batch", "batch_id"),
        sa.CheckConstraint("cardinality(image_ids) >= 1", name="image_ids_not_empty"),
        sa.CheckConstraint(
            "(loaded_at IS NULL) = (loaded_count IS NULL AND failed_count IS NULL)",
            name="loaded_counts_with_loaded_at",
        ),
        *non_negative("chunk_index", "loaded_count", "failed_count", "processing_time_ms"),
    )
