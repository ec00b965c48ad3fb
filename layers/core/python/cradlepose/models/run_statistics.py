"""Rolling a model's run tallies up into its registry row (avg_processing_time_ms,
avg_confidence_score, success_rate; the rule is domain.model_statistics.ModelFigures).

`record_run` adds one run's tally and recomputes the three figures from the sums of all the
model's tallies, in the caller's transaction. Two runs of one model ending at once must both
count: the model row is locked first, so the second waits for the first to commit, and its
UPDATE, a new statement under READ COMMITTED, then sees the first run's tally in the sums.
(Without the lock the second UPDATE would wait on the row anyway, but would keep the sums its
snapshot read before the first committed.)
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from cradlepose.db.models import ModelRunStatistic
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain.model_statistics import RunTally

_LOCK_MODEL = sa.text("SELECT id FROM ml_model_configs WHERE id = :model_id FOR UPDATE")

_ROLL_UP = sa.text(
    """
    UPDATE ml_model_configs AS m
       SET avg_processing_time_ms = round(t.processing_ms::numeric / t.images),
           success_rate = round(t.posed::numeric / t.images, 2),
           avg_confidence_score = CASE WHEN t.posed > 0 THEN round(t.confidence_sum / t.posed, 2) END
      FROM (SELECT sum(images) AS images, sum(posed) AS posed, sum(processing_ms) AS processing_ms,
                   sum(confidence_sum) AS confidence_sum
              FROM model_run_statistics
             WHERE model_id = :model_id) AS t
     WHERE m.id = :model_id AND t.images > 0
    """
)


def record_run(
    uow: UnitOfWork,
    model_id: int,
    tally: RunTally,
    *,
    pipeline_chunk_id: int | None = None,
    inference_job_id: int | None = None,
) -> None:
    """Adds the run's tally (a run with no image adds nothing) and rolls the model's figures up."""
    if tally.images == 0:
        return
    uow.session.execute(_LOCK_MODEL, {"model_id": model_id})
    uow.session.add(
        ModelRunStatistic(
            model_id=model_id,
            pipeline_chunk_id=pipeline_chunk_id,
            inference_job_id=inference_job_id,
            images=tally.images,
            posed=tally.posed,
            processing_ms=tally.processing_ms,
            confidence_sum=Decimal(str(round(tally.confidence_sum, 4))),
        )
    )
    uow.session.flush()
    uow.session.execute(_ROLL_UP, {"model_id": model_id})
    uow.mark_written()
