"""How much annotators corrected each model's pre-annotation, per batch and per model version
(GET /metrics/corrections; the rules and their names are cradlepose.domain.corrections).

Which model pre-annotated a batch: the model spec its pipeline fixed when it started processing
(the first run with one: `pipeline_runs.model_spec`, whose `model_config_id` is None for the
built-in yolo11n-pose without a registry row); a review batch's is its inference job's model (the
job's `results.review_batch_id`); an imported batch has none and keeps its `yolo_model_version`
("coco-import"). When: `yolo_processing_completed`. Only batches with pre-annotation and at least
one submitted image appear.

One statement per grouping, whatever the batch's size: Postgres expands each first submission's
keypoints next to the model's (jsonb_to_recordset), sums them per image, per batch, then per group, and
Python only turns each group's sums into figures. Nothing is read image by image into Python.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.corrections import (
    FIRST_PASS_DECISION,
    UNTOUCHED_TOLERANCE_PX,
    CorrectionFigures,
    CorrectionTally,
)


class CorrectionGrouping(StrEnum):
    BATCH = "batch"
    MODEL = "model"


class CorrectionMetricsRow(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    batch_id: int | None = Field(description="the batch (group_by=batch); null per model")
    batch_name: str | None = None
    batches: int = Field(description="batches in the row: 1 per batch, the model's batches per model")
    model_id: int | None = Field(description="the registry's model; null for the built-in model or an import")
    model_name: str | None
    model_version: str | None
    preannotated_at: dt.datetime = Field(
        description="when the batch was pre-annotated; per model, its first batch"
    )
    images: int = Field(description="images with a first submission")
    keypoints: int = Field(description="the model's labelled keypoints in those images")
    mean_correction_px: float | None = Field(
        description="mean pixel distance from the model's keypoint to the first submission's"
    )
    untouched_share: float | None = Field(description="share of the model's keypoints left untouched")
    first_pass_acceptance: float | None = Field(
        description="share of verified images whose first final verification was APPROVED"
    )
    annotation_seconds_per_image: float | None


class CorrectionMetricsOut(BaseModel):
    group_by: CorrectionGrouping
    untouched_tolerance_px: float = UNTOUCHED_TOLERANCE_PX
    items: list[CorrectionMetricsRow] = Field(description="oldest pre-annotation first")


# The sums of each batch that a model pre-annotated, in the schema asked for (or every schema).
# Each image's first submission (lowest version submitted) is compared keypoint by keypoint with
# the model's (domain.corrections.correction_of, in SQL), with the decision of its image's first
# final verification; then summed per batch. The images are joined to image_batches itself, whose
# statistics the planner knows, not to a CTE (which it joined image by image in a loop).
_PER_BATCH = """
first_submissions AS (
    SELECT DISTINCT ON (a.image_id)
           a.image_id, i.batch_id, i.yolo_keypoints, a.refined_keypoints, a.time_spent_seconds
      FROM image_batches AS b
      JOIN images AS i ON i.batch_id = b.id
      JOIN annotations AS a ON a.image_id = i.id
     WHERE a.submitted_at IS NOT NULL
       AND b.yolo_processing_completed IS NOT NULL
       AND (CAST(:schema_id AS bigint) IS NULL OR b.keypoint_schema_id = CAST(:schema_id AS bigint))
     ORDER BY a.image_id, a.version, a.id
),
per_batch AS (
    SELECT f.batch_id,
           count(*) AS images,
           sum(c.model_keypoints) AS model_keypoints,
           sum(c.paired) AS paired,
           sum(c.distance_sum) AS distance_sum,
           sum(c.untouched) AS untouched,
           count(fv.decision) AS verified,
           count(*) FILTER (WHERE CAST(fv.decision AS text) = :first_pass) AS accepted,
           sum(f.time_spent_seconds) AS annotation_seconds
      FROM first_submissions AS f
     CROSS JOIN LATERAL (
            SELECT count(*) AS model_keypoints,
                   count(s.id) AS paired,
                   coalesce(sum(sqrt(d.squared)), 0) AS distance_sum,
                   count(*) FILTER (
                       WHERE coalesce(s.visible, 2) = coalesce(m.visible, 2) AND d.squared <= :tolerance_sq
                   ) AS untouched
              FROM jsonb_to_recordset(coalesce(f.yolo_keypoints -> 'keypoints', '[]'))
                   AS m(id integer, x float8, y float8, visible integer)
              LEFT JOIN jsonb_to_recordset(coalesce(f.refined_keypoints -> 'keypoints', '[]'))
                   AS s(id integer, x float8, y float8, visible integer)
                     ON s.id = m.id AND coalesce(s.visible, 2) > 0
             CROSS JOIN LATERAL (
                   SELECT (s.x - m.x) * (s.x - m.x) + (s.y - m.y) * (s.y - m.y) AS squared) AS d
             WHERE coalesce(m.visible, 2) > 0) AS c
      LEFT JOIN LATERAL (
            SELECT v.decision
              FROM annotations AS a2
              JOIN verifications AS v ON v.annotation_id = a2.id
             WHERE a2.image_id = f.image_id AND v.is_final_decision
             ORDER BY v.verified_at, v.id
             LIMIT 1) AS fv ON true
     GROUP BY f.batch_id
)"""

# The model that pre-annotated each counted batch with sums (a row per batch, so the lookups run
# once per batch, never per image).
_WITH_MODEL = """
with_model AS (
    SELECT s.*, b.batch_name, b.yolo_processing_completed AS preannotated_at,
           coalesce(CAST(run.spec ->> 'model_config_id' AS bigint), job.model_id) AS model_id,
           coalesce(mc.model_name, run.spec ->> 'name') AS model_name,
           coalesce(mc.version, run.spec ->> 'version', b.yolo_model_version) AS model_version
      FROM per_batch AS s
      JOIN image_batches AS b ON b.id = s.batch_id
      LEFT JOIN LATERAL (
            SELECT r.model_spec AS spec
              FROM pipeline_runs AS r
             WHERE r.batch_id = b.id AND r.model_spec IS NOT NULL
             ORDER BY r.attempt
             LIMIT 1) AS run ON true
      LEFT JOIN LATERAL (
            SELECT j.model_id
              FROM inference_jobs AS j
             WHERE j.results ->> 'review_batch_id' = CAST(b.id AS text)
             LIMIT 1) AS job ON true
      LEFT JOIN ml_model_configs AS mc
             ON mc.id = coalesce(CAST(run.spec ->> 'model_config_id' AS bigint), job.model_id)
)"""

_BY_BATCH = sa.text(
    f"""
    WITH {_PER_BATCH}, {_WITH_MODEL}
    SELECT batch_id, batch_name, 1 AS batches, model_id, model_name, model_version, preannotated_at,
           images, model_keypoints, paired, distance_sum, untouched, verified, accepted, annotation_seconds
      FROM with_model
     ORDER BY preannotated_at, batch_id
    """  # noqa: S608 - composed of this module's constant fragments only; every value is a bound parameter
)

_BY_MODEL = sa.text(
    f"""
    WITH {_PER_BATCH}, {_WITH_MODEL}
    SELECT NULL AS batch_id, NULL AS batch_name, count(*) AS batches,
           model_id, model_name, model_version, min(preannotated_at) AS preannotated_at,
           sum(images) AS images, sum(model_keypoints) AS model_keypoints, sum(paired) AS paired,
           sum(distance_sum) AS distance_sum, sum(untouched) AS untouched, sum(verified) AS verified,
           sum(accepted) AS accepted, sum(annotation_seconds) AS annotation_seconds
      FROM with_model
     GROUP BY model_id, model_name, model_version
     ORDER BY min(preannotated_at), model_id, model_version
    """  # noqa: S608 - composed of this module's constant fragments only; every value is a bound parameter
)

STATEMENTS = {CorrectionGrouping.BATCH: _BY_BATCH, CorrectionGrouping.MODEL: _BY_MODEL}


def correction_metrics(
    uow: UnitOfWork, schema_id: int | None, group_by: CorrectionGrouping
) -> CorrectionMetricsOut:
    access.require_researcher(uow.actor)
    if schema_id is not None:
        uow.schemas.require(schema_id)
    rows = uow.session.execute(STATEMENTS[group_by], parameters(schema_id)).mappings().all()
    return CorrectionMetricsOut(group_by=group_by, items=[_row(r) for r in rows])


def parameters(schema_id: int | None) -> dict[str, Any]:
    return {
        "schema_id": schema_id,
        "tolerance_sq": UNTOUCHED_TOLERANCE_PX * UNTOUCHED_TOLERANCE_PX,
        "first_pass": FIRST_PASS_DECISION.value,
    }


def _row(row: Any) -> CorrectionMetricsRow:
    tally = CorrectionTally(
        images=int(row["images"]),
        model_keypoints=int(row["model_keypoints"]),
        paired=int(row["paired"]),
        distance_sum=float(row["distance_sum"]),
        untouched=int(row["untouched"]),
        verified=int(row["verified"]),
        accepted=int(row["accepted"]),
        annotation_seconds=int(row["annotation_seconds"]),
    )
    figures = CorrectionFigures.of(tally)
    return CorrectionMetricsRow(
        batch_id=row["batch_id"],
        batch_name=row["batch_name"],
        batches=int(row["batches"]),
        model_id=row["model_id"],
        model_name=row["model_name"],
        model_version=row["model_version"],
        preannotated_at=row["preannotated_at"],
        images=tally.images,
        keypoints=tally.model_keypoints,
        mean_correction_px=figures.mean_correction_px,
        untouched_share=figures.untouched_share,
        first_pass_acceptance=figures.first_pass_acceptance,
        annotation_seconds_per_image=figures.annotation_seconds_per_image,
    )
