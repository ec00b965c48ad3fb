"""Loading one chunk's inference results (JSON lines of ImageResult) into `images`, in bulk.

UPDATE … FROM json_to_recordset(one JSON parameter) per 10,000 images of a chunk, in one
transaction. A good image gets its keypoints (the seed's structure, the schema's names),
confidence, time and model version and moves UPLOADED → YOLO_PROCESSED; a failed one keeps
UPLOADED and gets `yolo_error`. Only images still UPLOADED are touched, and the chunk's row
records that it was loaded, in the same transaction: loading a chunk twice changes nothing the
second time. The chunk's tally of the model's work (domain.model_statistics) is rolled up into
the model's registry figures in that transaction, and images the model failed on are the audit
entry's warnings, for whoever reviews the batch.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.dialects.postgresql import ARRAY

from cradlepose.adapters.storage import ObjectMissing, Storage
from cradlepose.common.system import SYSTEM
from cradlepose.db.models import Image, PipelineChunk
from cradlepose.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.batch_summary import hundredths
from cradlepose.domain.enums import AuditCategory, ImageStatus
from cradlepose.domain.errors import Conflict, NotFound
from cradlepose.domain.inference import ImageResult
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.model_statistics import RunTally
from cradlepose.domain.preannotation import yolo_keypoints
from cradlepose.domain.status_changes import record_bulk_change
from cradlepose.models.run_statistics import record_run

ERROR_TEXT_LIMIT = 2000
# Rows per UPDATE statement: a cloud chunk (60,000 images) is a handful of statements in one
# transaction, each well inside the statement timeout (db_statement_timeout_ms, 30 s) even on a
# busy database, where one 60,000-row UPDATE was not.
UPDATE_SLICE = 10_000
WARNED_FAILURES = 20  # the audit entry names this many failed images, then counts the rest

# The chunk's rows travel as one JSON document in one text parameter, not as one array per
# column: the driver escapes array elements character by character in Python (pg8000's
# array_string_escape), which for 60,000 keypoint payloads cost more than the whole UPDATE.
# `json`, not `jsonb`: json_to_recordset walks the text once and parses only each row's keypoints
# into jsonb, where a jsonb document would be built whole and then taken apart again.
_BULK_UPDATE = sa.text(
    """
    UPDATE images AS i
       SET yolo_keypoints = r.keypoints,
           yolo_confidence = r.confidence,
           yolo_processing_time_ms = r.ms,
           yolo_model_version = :model_version,
           yolo_error = r.error,
           status = CASE WHEN r.ok THEN CAST(:processed AS image_status) ELSE i.status END
      FROM json_to_recordset(CAST(:rows AS json))
           AS r(id bigint, keypoints jsonb, confidence numeric, ms integer, error text, ok boolean)
     WHERE i.id = r.id AND i.batch_id = :batch_id AND i.status = CAST(:uploaded AS image_status)
    RETURNING i.id, r.ok
    """
)


class ChunkRequest(BaseModel):
    """IngestChunk's input (the Map item's fields the state machine passes)."""

    batch_id: int
    chunk_index: int
    results_bucket: str
    results_key: str


class IngestResult(BaseModel):
    loaded: int
    failed: int
    already_loaded: bool = False
    inference_ms: int = 0  # summed over the images loaded now


class ResultsUnusable(Conflict):
    """The chunk's results are missing, unreadable, or do not match the chunk's images."""


@dataclass(frozen=True)
class _Row:
    image_id: int
    keypoints: dict[str, Any] | None
    confidence: str | None
    ms: int
    error: str | None
    ok: bool


def ingest_chunk(
    uow_factory: UnitOfWorkFactory, storage: Storage, request: ChunkRequest, context: RequestContext
) -> IngestResult:
    with uow_factory(SYSTEM, context) as uow:
        chunk = _chunk(uow, request)
        if chunk.loaded_at is not None:
            return _recorded(chunk)
        expected = list(chunk.image_ids)
    results = _read_results(storage, request, expected)
    with uow_factory(SYSTEM, context) as uow:
        chunk = _chunk(uow, request, for_update=True)
        if chunk.loaded_at is not None:  # loaded by a concurrent attempt meanwhile
            return _recorded(chunk)
        batch = uow.batches.require(request.batch_id)
        schema = SchemaDefinition.model_validate(
            uow.schemas.require(batch.keypoint_schema_id).schema_definition
        )
        rows = _rows(uow, results, schema)
        changed = [
            row
            for start in range(0, len(rows), UPDATE_SLICE)
            for row in uow.session.execute(
                _BULK_UPDATE,
                {
                    "rows": _rows_document(rows[start : start + UPDATE_SLICE]),
                    "model_version": batch.yolo_model_version,
                    "batch_id": batch.id,
                    "processed": ImageStatus.YOLO_PROCESSED.value,
                    "uploaded": ImageStatus.UPLOADED.value,
                },
            ).all()
        ]
        uow.mark_written()
        loaded = sorted(image_id for image_id, ok in changed if ok)
        failed = sorted(image_id for image_id, ok in changed if not ok)
        # The statement moved the loaded images UPLOADED → YOLO_PROCESSED: the table must allow it
        # (or this unit of work rolls back), and each image's change is recorded.
        record_bulk_change(uow, "Image", loaded, ImageStatus.UPLOADED, ImageStatus.YOLO_PROCESSED)
        chunk.loaded_at = dt.datetime.now(dt.UTC)
        chunk.loaded_count, chunk.failed_count = len(loaded), len(failed)
        # The inference task's own measure of its work on this chunk: every image it processed.
        chunk.processing_time_ms = sum(r.processing_time_ms for r in results)
        loaded_now = set(loaded)
        ms = sum(r.ms for r in rows if r.image_id in loaded_now)
        model_id = (uow.pipeline_runs.require(chunk.run_id).model_spec or {}).get("model_config_id")
        if model_id is not None:  # None: the built-in model, which has no registry row
            record_run(uow, int(model_id), RunTally.of(results), pipeline_chunk_id=chunk.id)
        uow.audit(
            AuditEntry(
                action="CHUNK_INGESTED",
                category=AuditCategory.IMAGE_PROCESSING,
                resource_type="ImageBatch",
                resource_id=batch.id,
                resource_name=batch.batch_name,
                new_values={
                    "run_id": chunk.run_id,
                    "chunk_index": chunk.chunk_index,
                    "loaded": len(loaded),
                    "failed": len(failed),
                    "failed_image_ids": failed,
                    "skipped_image_ids": sorted(set(expected) - set(loaded) - set(failed)),
                    "yolo_model_version": batch.yolo_model_version,
                },
                summary=f"chunk {chunk.chunk_index}: {len(loaded)} pre-annotated, {len(failed)} failed",
                batch_context={"batch_id": batch.id, "batch_name": batch.batch_name},
                processing_time_ms=chunk.processing_time_ms,
                warnings=failure_warnings(rows, set(failed)),
            )
        )
        uow.commit()
    return IngestResult(loaded=len(loaded), failed=len(failed), inference_ms=ms)


def failure_warnings(rows: list[_Row], failed: set[int]) -> list[str]:
    """One line per image the model failed on (the first WARNED_FAILURES), then how many more."""
    lines = [f"image {r.image_id}: {r.error}" for r in rows if r.image_id in failed]
    if len(lines) > WARNED_FAILURES:
        lines = [*lines[:WARNED_FAILURES], f"and {len(lines) - WARNED_FAILURES} more images failed"]
    return lines


def _chunk(uow: UnitOfWork, request: ChunkRequest, *, for_update: bool = False) -> PipelineChunk:
    chunk = uow.pipeline_chunks.by_results_key(request.results_key, for_update=for_update)
    if chunk is None or chunk.batch_id != request.batch_id or chunk.chunk_index != request.chunk_index:
        raise NotFound("PipelineChunk", f"{request.batch_id}/{request.chunk_index} ({request.results_key})")
    return chunk


def _recorded(chunk: PipelineChunk) -> IngestResult:
    return IngestResult(loaded=chunk.loaded_count or 0, failed=chunk.failed_count or 0, already_loaded=True)


def _read_results(storage: Storage, request: ChunkRequest, expected: list[int]) -> list[ImageResult]:
    try:
        data = storage.get(request.results_bucket, request.results_key)
    except ObjectMissing:
        raise ResultsUnusable(f"no results at s3://{request.results_bucket}/{request.results_key}") from None
    try:
        results = [ImageResult.model_validate_json(line) for line in data.splitlines() if line.strip()]
    except ValidationError as error:
        raise ResultsUnusable(
            f"results of chunk {request.chunk_index} are not ImageResult lines: {error}"
        ) from None
    found = [r.image_id for r in results]
    if sorted(found) != sorted(expected):
        raise ResultsUnusable(
            f"results of chunk {request.chunk_index} name images {sorted(set(found) ^ set(expected))[:20]} "
            "that the chunk does not have, or leave some of its images out"
        )
    return results


def _rows(uow: UnitOfWork, results: list[ImageResult], schema: SchemaDefinition) -> list[_Row]:
    sizes = {
        image_id: (width, height)
        for image_id, width, height in uow.session.execute(
            # One array parameter, not one bind parameter per image (PostgreSQL stops at 65,535).
            sa.select(Image.id, Image.width, Image.height).where(
                Image.id == sa.any_(sa.cast(sa.literal([r.image_id for r in results]), ARRAY(sa.BigInteger)))
            )
        )
    }
    rows = []
    for result in results:
        width, height = sizes[result.image_id]
        if result.ok:
            payload = yolo_keypoints(result, schema, width, height)
            confidence = hundredths(result.yolo_confidence)
            rows.append(
                _Row(
                    result.image_id,
                    payload,
                    str(confidence) if confidence is not None else None,
                    result.processing_time_ms,
                    None,
                    True,
                )
            )
        else:
            error = (result.error or "the model could not process this image")[:ERROR_TEXT_LIMIT]
            rows.append(_Row(result.image_id, None, None, result.processing_time_ms, error, False))
    return rows


def _rows_document(rows: list[_Row]) -> str:
    """The rows as the JSON array that json_to_recordset reads (keys are its column names)."""
    return json.dumps(
        [
            {
                "id": r.image_id,
                "keypoints": r.keypoints,
                "confidence": r.confidence,
                "ms": r.ms,
                "error": r.error,
                "ok": r.ok,
            }
            for r in rows
        ],
        separators=(",", ":"),
    )
