"""The batch pipeline's own steps: mark processing, plan chunks, summarize, record a failure.

Each step is one transaction with its audit rows, and each may run twice with the same outcome
(Step Functions retries tasks, and a resumed execution replays them):

- mark_processing: UPLOADED → YOLO_PROCESSING with the start time and the run's model; a no-op
  once the batch is processing or beyond.
- plan_chunks: the run's plan is written once (the images still UPLOADED, in id order, in chunks
  of `pipeline_chunk_size`); later calls return the same chunks, minus those already loaded, and
  write the same manifests again. The chunk list goes to S3 as one JSON array (the Distributed
  Map's ItemReader reads it); the state machine gets only its location and counts.
- summarize: confidence, failures, quality check, then YOLO_COMPLETED and READY_FOR_ANNOTATION;
  a no-op once the batch is past processing.
- record_failure: the run FAILED with the step and the cause; a batch still processing goes back
  to UPLOADED, so completing it again (POST /batches/{id}/complete) resumes it with a new run that
  plans only the images still without a result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, TypeAdapter
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import aggregate_order_by

from cradlepose.adapters.storage import Storage
from cradlepose.common.system import SYSTEM
from cradlepose.common.use_cases import audit
from cradlepose.db.models import Image, ImageBatch, PipelineChunk, PipelineRun
from cradlepose.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.batch_summary import hundredths, quality_check_passed
from cradlepose.domain.enums import AuditCategory, AuditStatus, BatchStatus, ImageStatus, PipelineRunStatus
from cradlepose.domain.errors import Conflict
from cradlepose.domain.inference import ChunkImage, ChunkManifest, ModelSpec
from cradlepose.domain.pipeline import (
    ChunkItem,
    ObjectLocation,
    PlanOutput,
    PrefixLocation,
    chunk_list_key,
    execution_name,
    manifest_key,
    map_results_prefix,
    model_label,
    results_key,
)
from cradlepose.domain.status_changes import change_status
from cradlepose.domain.step_errors import describe_error
from cradlepose.models.model_specs import spec_for_batch
from cradlepose.preannotation.pipeline import OPEN
from cradlepose.settings import get_settings

MANIFEST_CONTENT_TYPE = "application/json"
_CHUNK_LIST = TypeAdapter(list[ChunkItem])


class NotThisRun(Conflict):
    """The execution is not the batch's open pipeline run (started by hand, or superseded)."""


class ChunksPending(Conflict):
    """Summarize was asked for while chunks of the run still have no loaded results."""


class MarkResult(BaseModel):
    status: BatchStatus
    model_version: str | None
    changed: bool


class Plan(BaseModel):
    """The chunks still to infer (the contents of the chunk list) and what the state machine gets."""

    chunks: list[ChunkItem]
    image_count: int
    output: PlanOutput


class Summary(BaseModel):
    model_config = ConfigDict(frozen=True)
    auto_assign: bool
    status: BatchStatus


class FailureRecord(BaseModel):
    recorded: bool
    run_status: PipelineRunStatus | None
    batch_status: BatchStatus
    failed_step: str | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ------------------------------------------------------------------ mark processing


def mark_processing(
    uow_factory: UnitOfWorkFactory, batch_id: int, execution_id: str, context: RequestContext
) -> MarkResult:
    with uow_factory(SYSTEM, context) as uow:
        batch = uow.batches.require(batch_id, for_update=True)
        run = _run_of_execution(uow, batch, execution_id)
        changed = False
        if run.status is PipelineRunStatus.REQUESTED:  # the execution got here before start_run's bookkeeping
            change_status(uow, run, PipelineRunStatus.RUNNING)
            run.execution_arn = execution_id
            run.started_at = run.started_at or _now()
            _audit(
                uow, batch, "PIPELINE_STARTED", new={"attempt": run.attempt, "execution_arn": execution_id}
            )
            changed = True
        if batch.status is BatchStatus.UPLOADED:
            spec = spec_for_batch(uow, batch)
            old = batch.status
            change_status(uow, batch, BatchStatus.YOLO_PROCESSING)
            batch.yolo_processing_started = _now()
            batch.yolo_model_version = model_label(spec.name, spec.version)
            run.model_spec = spec.model_dump(mode="json")
            _audit(
                uow,
                batch,
                "BATCH_PROCESSING_STARTED",
                old={"status": old},
                new={
                    "status": batch.status,
                    "yolo_model_version": batch.yolo_model_version,
                    "model_config_id": spec.model_config_id,
                    "attempt": run.attempt,
                },
            )
            changed = True
        if changed:
            uow.commit()
        return MarkResult(status=batch.status, model_version=batch.yolo_model_version, changed=changed)


def _run_of_execution(uow: UnitOfWork, batch: ImageBatch, execution_id: str) -> PipelineRun:
    run = uow.pipeline_runs.by_execution_name(execution_name(execution_id), for_update=True)
    if run is None or run.batch_id != batch.id:
        raise NotThisRun(f"execution {execution_name(execution_id)!r} is no pipeline run of batch {batch.id}")
    if run.status not in OPEN:
        raise NotThisRun(f"run {run.attempt} of batch {batch.id} is already {run.status.value}")
    return run


def _open_run(uow: UnitOfWork, batch: ImageBatch) -> PipelineRun:
    run = uow.pipeline_runs.open_for(batch.id)
    if run is None:
        raise NotThisRun(f"batch {batch.id} has no open pipeline run")
    return run


# ------------------------------------------------------------------ plan chunks


def plan_chunks(
    uow_factory: UnitOfWorkFactory,
    storage: Storage,
    batch_id: int,
    execution_id: str,
    context: RequestContext,
) -> Plan:
    settings = get_settings()
    with uow_factory(SYSTEM, context) as uow:
        batch = uow.batches.require(batch_id, for_update=True)
        run = _open_run(uow, batch)
        chunks = uow.pipeline_chunks.of_run(run.id)
        if not chunks and batch.status is BatchStatus.YOLO_PROCESSING:
            chunks = _write_plan(uow, batch, run, settings.pipeline_chunk_size)
            uow.commit()
        pending = [c for c in chunks if c.loaded_at is None]
        spec = _run_spec(uow, batch, run)
        # By batch, not `id IN (…)`: one bind parameter per image would pass PostgreSQL's 65,535.
        query = sa.select(Image.id, Image.storage_path).where(Image.batch_id == batch_id)
        paths: dict[int, str] = dict(uow.session.execute(query).all())
        manifests = [
            ChunkManifest(
                batch_id=batch_id,
                chunk_index=chunk.chunk_index,
                bucket=settings.uploads_bucket,
                images=[ChunkImage(image_id=i, key=paths[i]) for i in chunk.image_ids],
                model=spec,
                output_bucket=settings.results_bucket,
                output_key=chunk.results_key,
            )
            for chunk in pending
        ]
        items = [
            ChunkItem(
                batch_id=batch_id,
                run_id=chunk.run_id,
                chunk_index=chunk.chunk_index,
                image_count=len(chunk.image_ids),
                manifest_bucket=settings.results_bucket,
                manifest_key=chunk.manifest_key,
                results_bucket=settings.results_bucket,
                results_key=chunk.results_key,
                heartbeat_seconds=settings.inference_heartbeat_seconds,
                execution_id=execution_id,
            )
            for chunk in pending
        ]
        attempt = run.attempt
    for item, manifest in zip(items, manifests, strict=True):
        storage.put(
            item.manifest_bucket,
            item.manifest_key,
            manifest.model_dump_json().encode(),
            content_type=MANIFEST_CONTENT_TYPE,
        )
    # Written after the manifests: the Map never reads an item whose manifest is not there yet.
    chunk_list = ObjectLocation(bucket=settings.results_bucket, key=chunk_list_key(batch_id, attempt))
    storage.put(
        chunk_list.bucket,
        chunk_list.key,
        _CHUNK_LIST.dump_json(items),
        content_type=MANIFEST_CONTENT_TYPE,
    )
    image_count = sum(item.image_count for item in items)
    output = PlanOutput(
        chunk_list=chunk_list,
        chunk_count=len(items),
        image_count=image_count,
        max_concurrency=settings.inference_max_tasks,
        map_results=PrefixLocation(
            bucket=settings.results_bucket, prefix=map_results_prefix(batch_id, attempt)
        ),
    )
    return Plan(chunks=items, image_count=image_count, output=output)


def _write_plan(uow: UnitOfWork, batch: ImageBatch, run: PipelineRun, size: int) -> list[PipelineChunk]:
    """The run's chunks, written by one INSERT … SELECT that numbers the images in the database.

    The image ids never travel through Python or as bind parameters: a statement with one
    parameter per image (or per chunk) outgrows PostgreSQL's 65,535 at scale. The keys come from
    the domain's functions and travel as two array parameters, joined to the chunks by position.
    """
    uploaded = (Image.batch_id == batch.id, Image.status == ImageStatus.UPLOADED)
    images = int(uow.session.scalar(sa.select(sa.func.count()).where(*uploaded)) or 0)
    count = -(-images // size)  # the batch row is locked and UPLOADED images stay so while we plan
    numbered = (
        sa.select(Image.id, ((sa.func.row_number().over(order_by=Image.id) - 1) // size).label("chunk_index"))
        .where(*uploaded)
        .subquery("numbered")
    )
    key_lists = (
        sa.bindparam(name, [key(batch.id, run.attempt, i) for i in range(count)], type_=pg.ARRAY(sa.String))
        for name, key in (("manifest_keys", manifest_key), ("results_keys", results_key))
    )
    keys = (
        sa.func.unnest(*key_lists)
        .table_valued("manifest_key", "results_key", with_ordinality="position")
        .render_derived("keys")
    )
    grouped = (
        sa.select(
            numbered.c.chunk_index,
            sa.func.array_agg(aggregate_order_by(numbered.c.id, numbered.c.id)).label("image_ids"),
        )
        .group_by(numbered.c.chunk_index)
        .subquery("grouped")
    )
    plan = sa.select(
        sa.literal(run.id, sa.BigInteger),
        sa.literal(batch.id, sa.BigInteger),
        grouped.c.chunk_index,
        grouped.c.image_ids,
        keys.c.manifest_key,
        keys.c.results_key,
    ).join_from(grouped, keys, keys.c.position == grouped.c.chunk_index + 1)
    columns = ["run_id", "batch_id", "chunk_index", "image_ids", "manifest_key", "results_key"]
    written = len(
        uow.session.execute(
            sa.insert(PipelineChunk).from_select(columns, plan).returning(PipelineChunk.id)
        ).all()
    )
    if written != count:  # the keys and the chunks must pair one to one
        raise RuntimeError(f"planned {written} chunks of batch {batch.id}, expected {count}")
    _audit(
        uow,
        batch,
        "PIPELINE_PLANNED",
        new={"attempt": run.attempt, "images": images, "chunks": count, "chunk_size": size},
    )
    return list(uow.pipeline_chunks.of_run(run.id))


def _run_spec(uow: UnitOfWork, batch: ImageBatch, run: PipelineRun) -> ModelSpec:
    if run.model_spec is not None:
        return ModelSpec.model_validate(run.model_spec)
    return spec_for_batch(uow, batch)


# ------------------------------------------------------------------ summarize


def summarize(uow_factory: UnitOfWorkFactory, batch_id: int, context: RequestContext) -> Summary:
    with uow_factory(SYSTEM, context) as uow:
        batch = uow.batches.require(batch_id, for_update=True)
        if batch.status is BatchStatus.YOLO_PROCESSING:
            run = _open_run(uow, batch)
            unloaded = [c.chunk_index for c in uow.pipeline_chunks.of_run(run.id) if c.loaded_at is None]
            if unloaded:
                raise ChunksPending(f"chunks {unloaded[:20]} of batch {batch.id} have no loaded results")
            _complete_processing(uow, batch)
            uow.commit()
        wanted = (batch.upload_metadata or {}).get("auto_assign") is True
        return Summary(
            auto_assign=wanted and batch.status is BatchStatus.READY_FOR_ANNOTATION, status=batch.status
        )


def _complete_processing(uow: UnitOfWork, batch: ImageBatch) -> None:
    stats = uow.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(Image.image_quality_score >= batch.min_image_quality_score),
            sa.func.avg(Image.yolo_confidence),
            sa.func.count().filter(Image.yolo_error.is_not(None), Image.status == ImageStatus.UPLOADED),
        ).where(Image.batch_id == batch.id)
    ).one()
    total, passing, average, failed = int(stats[0]), int(stats[1]), stats[2], int(stats[3])
    batch.avg_yolo_confidence = hundredths(average)
    batch.failed_yolo_count = failed
    batch.quality_check_passed = quality_check_passed(passing, total)
    batch.yolo_processing_completed = _now()
    change_status(uow, batch, BatchStatus.YOLO_COMPLETED)
    _audit(
        uow,
        batch,
        "BATCH_PRE_ANNOTATED",
        # Some images failed inference (they are annotated by hand): the step succeeded only in part.
        status=AuditStatus.PARTIAL if failed else AuditStatus.SUCCESS,
        old={"status": BatchStatus.YOLO_PROCESSING},
        new={
            "status": batch.status,
            "avg_yolo_confidence": batch.avg_yolo_confidence,
            "failed_yolo_count": failed,
            "quality_check_passed": batch.quality_check_passed,
            "images": total,
            "images_meeting_min_quality": passing,
        },
    )
    change_status(uow, batch, BatchStatus.READY_FOR_ANNOTATION)
    _audit(
        uow,
        batch,
        "BATCH_READY_FOR_ANNOTATION",
        old={"status": BatchStatus.YOLO_COMPLETED},
        new={"status": batch.status},
    )


# ------------------------------------------------------------------ record failure


def record_failure(
    uow_factory: UnitOfWorkFactory,
    batch_id: int,
    execution_id: str,
    error: Mapping[str, Any] | None,
    context: RequestContext,
) -> FailureRecord:
    message = describe_error(error)
    with uow_factory(SYSTEM, context) as uow:
        batch = uow.batches.require(batch_id, for_update=True)
        run = uow.pipeline_runs.by_execution_name(execution_name(execution_id), for_update=True)
        if run is None or run.batch_id != batch.id or run.status not in OPEN:
            # Not the batch's open run: nothing of the batch's current state is this execution's to change.
            return FailureRecord(
                recorded=False,
                run_status=run.status if run else None,
                batch_status=batch.status,
                failed_step=None,
            )
        step = failed_step(uow, batch, run, error)
        change_status(uow, run, PipelineRunStatus.FAILED, reason=message)
        run.finished_at = _now()
        run.failed_step, run.error = step, message
        uow.audit(
            AuditEntry(
                action="PIPELINE_FAILED",
                category=AuditCategory.IMAGE_PROCESSING,
                resource_type="ImageBatch",
                resource_id=batch.id,
                resource_name=batch.batch_name,
                new_values={"attempt": run.attempt, "failed_step": step},
                status=AuditStatus.FAILED,
                error_message=message,
                batch_context={"batch_id": batch.id, "batch_name": batch.batch_name},
            )
        )
        for wait in uow.pipeline_waits.parked(batch.id, for_update=True):
            if wait.run_id == run.id:  # its execution is over: nobody will answer the token
                wait.released_at, wait.released_status = _now(), batch.status
        if batch.status is BatchStatus.YOLO_PROCESSING:
            change_status(uow, batch, BatchStatus.UPLOADED)
            _audit(
                uow,
                batch,
                "BATCH_PROCESSING_ABANDONED",
                old={"status": BatchStatus.YOLO_PROCESSING},
                new={"status": batch.status},
                summary="resumable: complete the batch again to start a new run",
            )
        uow.commit()
        return FailureRecord(
            recorded=True, run_status=run.status, batch_status=batch.status, failed_step=step
        )


def failed_step(uow: UnitOfWork, batch: ImageBatch, run: PipelineRun, error: Mapping[str, Any] | None) -> str:
    """The state that failed, read from how far the run got (the Catch passes only the error)."""
    if batch.status is BatchStatus.UPLOADED:
        return "MarkProcessing"
    if batch.status is not BatchStatus.YOLO_PROCESSING:
        return "WaitForPeople"
    chunks = uow.pipeline_chunks.of_run(run.id)
    if not chunks:
        return "PlanChunks"
    unloaded = [c.chunk_index for c in chunks if c.loaded_at is None]
    if not unloaded:
        return "Summarize"
    name = (error or {}).get("Error", "")
    # A task silent or too long is RunInference's; the Map's own errors (ItemReaderFailed,
    # ExceedToleratedFailureThreshold, …) and the chunk steps' are the Map's.
    timed_out = name in {"States.Timeout", "States.HeartbeatTimeout"}
    state = "PreAnnotate/RunInference" if timed_out else "PreAnnotate"
    listed = ", ".join(map(str, unloaded[:10])) + (" …" if len(unloaded) > 10 else "")
    return f"{state} (chunks {listed} not loaded)"[:100]


def _audit(
    uow: UnitOfWork,
    batch: ImageBatch,
    action: str,
    *,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    summary: str | None = None,
    status: AuditStatus = AuditStatus.SUCCESS,
) -> None:
    context = {"batch_id": batch.id, "batch_name": batch.batch_name}
    audit(uow, action, AuditCategory.IMAGE_PROCESSING, "ImageBatch", batch.id, batch.batch_name,
          old=old, new=new, summary=summary, batch_context=context, status=status)  # fmt: skip
