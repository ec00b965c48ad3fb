"""Staged analysis reports: requesting one, the three stages the state machine runs, and failures.

The steps of infra/statemachines/analysis_report.asl.json call `segment`, `convert`, `enhance`
and, from any stage's Catch, `record_failure`. Each stage:

1. moves the job to its status in a transaction of its own (so the status says what runs now);
2. does its work outside any transaction (S3, the text writer), writing nothing to the database;
3. stores its output in one transaction: its fields of the AnalysisResult, all or none.

A stage that fails therefore leaves nothing of itself behind but its status; `record_failure` marks
the job failed at that stage with the error, and removes an overlay the failed stage had stored.
Every step may run twice: a stage whose output is stored answers with it instead of redoing it.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose import __version__
from cradlepose.adapters.storage import Storage
from cradlepose.adapters.text_writers import TextWriter
from cradlepose.adapters.workflow import Workflow
from cradlepose.common.paging import keyset_page
from cradlepose.common.system import SYSTEM
from cradlepose.common.use_cases import Page
from cradlepose.db.models import AnalysisJob, AnalysisResult, Annotation, Image
from cradlepose.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from cradlepose.domain import access
from cradlepose.domain.actor import Actor, RequestContext
from cradlepose.domain.analysis import (
    Provenance,
    SourcePassage,
    StageAction,
    Topic,
    check_citations,
    coverage,
    stage_action,
    topics_for,
)
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.bounds import BIGINT_MAX, DbId
from cradlepose.domain.enums import AnalysisStatus, AnnotationStatus, AuditCategory, AuditStatus, Role
from cradlepose.domain.errors import Conflict, NotFound
from cradlepose.domain.findings import FINDINGS_VERSION, Findings, analyse
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.keypoints import KeypointSet
from cradlepose.domain.status_changes import change_status
from cradlepose.imaging.overlay import draw_skeleton
from cradlepose.reports import analysis_documents, reference_library
from cradlepose.settings import get_settings

ERROR_TEXT_LIMIT = 2000
PASSAGES_PER_TOPIC = 2
READERS = (Role.ADMIN, Role.VERIFIER)


class NoKeypoints(Conflict):
    """The image has neither a verified annotation nor the registered model's keypoints."""


class EmptyLibrary(Conflict):
    """No reference passages are stored: the library was never synced."""


# ------------------------------------------------------------------ what the API shows


class AnalysisJobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_id: int = Field(gt=0, le=BIGINT_MAX, description="the image to analyse")
    annotation_id: DbId | None = Field(
        default=None,
        gt=0,
        description="a verified (APPROVED) annotation of the image whose keypoints to use; by default "
        "the image's latest verified annotation, else the registered model's keypoints",
    )


class AnalysisJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    job_id: uuid.UUID
    user_id: int
    image_id: int
    annotation_id: int | None
    status: AnalysisStatus
    failed_stage: str | None
    error_message: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class AnalysisResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    segmentation_result_key: str | None
    image_description: str | None
    enhanced_report: str | None = Field(description="the report, in Markdown")
    confidence_scores: dict[str, Any] | None
    processing_metrics: dict[str, Any] | None
    keypoints: dict[str, Any] | None
    findings: dict[str, Any] | None
    sources: list[Any] | None
    provenance: dict[str, Any] | None
    created_at: dt.datetime


class AnalysisDetail(AnalysisJobOut):
    result: AnalysisResultOut | None
    overlay_url: str | None = Field(description="a short-lived link to the skeleton overlay (PNG)")


# ------------------------------------------------------------------ requesting and reading


def request_analysis(uow: UnitOfWork, command: AnalysisJobIn) -> AnalysisJobOut:
    """Record the job (status uploaded) with its audit row. The caller starts it after commit."""
    actor = access.require_role(uow.actor, *READERS)
    image = _readable_image(uow, actor, command.image_id)
    if command.annotation_id is not None:
        annotation = uow.annotations.get(command.annotation_id)
        if annotation is None or annotation.image_id != image.id:
            raise NotFound("Annotation", command.annotation_id)
        if annotation.status is not AnnotationStatus.APPROVED:
            raise Conflict(
                f"annotation {annotation.id} is {annotation.status.value}: only a verified (APPROVED) "
                "annotation can be analysed"
            )
    elif _latest_verified(uow, image.id) is None and not image.yolo_keypoints:
        raise NoKeypoints(
            f"image {image.id} has no verified annotation and no keypoints from the pose model yet: "
            "analyse it once the batch pipeline has run"
        )
    settings = get_settings()
    job = AnalysisJob(
        job_id=uuid.uuid4(),
        user_id=actor.user_id if actor.user_id is not None else uow.system_user_id(),
        image_id=image.id,
        annotation_id=command.annotation_id,
        original_image_key=image.storage_path,
        status=AnalysisStatus.UPLOADED,
    )
    if settings.analysis_state_machine_arn:
        job.execution_arn = _execution_arn(settings.analysis_state_machine_arn, job.job_id)
    uow.analysis_jobs.add(job)
    _audit(uow, job, "ANALYSIS_REQUESTED", new={"annotation_id": command.annotation_id})
    uow.commit()
    return AnalysisJobOut.model_validate(job)


def start(
    uow_factory: UnitOfWorkFactory, workflow: Workflow, job_id: uuid.UUID, context: RequestContext
) -> bool:
    """Start the job's execution (named after the job: starting twice is one run). False when no
    state machine is configured; a refusal to start marks the job failed rather than leaving it waiting."""
    arn = get_settings().analysis_state_machine_arn
    if not arn:
        return False
    try:
        workflow.start(arn, str(job_id), {"job_id": str(job_id)})
    except Exception as error:
        record_failure(
            uow_factory, job_id, type(error).__name__, f"the analysis could not be started: {error}", context
        )
        raise
    return True


def get_analysis(uow: UnitOfWork, storage: Storage, job_id: uuid.UUID) -> AnalysisDetail:
    job = readable_job(uow, job_id)
    result = uow.analysis_jobs.result_of(job.job_id)
    overlay_url = None
    if result is not None and result.segmentation_result_key:
        settings = get_settings()
        overlay_url = storage.presigned_get(
            settings.derived_bucket,
            result.segmentation_result_key,
            expires_in=settings.download_url_ttl_seconds,
        )
    detail = AnalysisDetail(
        **AnalysisJobOut.model_validate(job).model_dump(),
        result=AnalysisResultOut.model_validate(result) if result is not None else None,
        overlay_url=overlay_url,
    )
    if overlay_url is not None:  # a link to the image with its keypoints drawn: a read of PHI
        _audit(uow, job, "ANALYSIS_OVERLAY_URL_ISSUED")
        uow.commit()
    return detail


def list_analyses(
    uow: UnitOfWork,
    image_id: int | None,
    status: AnalysisStatus | None,
    cursor: str | None,
    limit: int,
) -> Page[AnalysisJobOut]:
    """Newest first. An admin sees every job, a verifier their own."""
    actor = access.require_role(uow.actor, *READERS)
    query = sa.select(AnalysisJob)
    if actor.role is Role.VERIFIER:
        query = query.where(AnalysisJob.user_id == actor.user_id)
    if image_id is not None:
        query = query.where(AnalysisJob.image_id == image_id)
    if status is not None:
        query = query.where(AnalysisJob.status == status)
    return keyset_page(
        uow.session,
        query,
        order_by=[AnalysisJob.created_at.desc(), AnalysisJob.job_id.desc()],
        cursor=cursor,
        limit=limit,
        to_model=AnalysisJobOut.model_validate,
    )


def readable_job(uow: UnitOfWork, job_id: uuid.UUID) -> AnalysisJob:
    """The job, if the caller may read it (an admin: any; a verifier: their own); else NotFound."""
    actor = access.require_role(uow.actor, *READERS)
    job = uow.analysis_jobs.get(job_id)
    if job is None or (actor.role is Role.VERIFIER and job.user_id != actor.user_id):
        raise NotFound("AnalysisJob", str(job_id))
    return job


def _readable_image(uow: UnitOfWork, actor: Actor, image_id: int) -> Image:
    image = uow.images.get(image_id)
    if image is None or not access.can_analyse_image(actor, image.status):
        raise NotFound("Image", image_id)
    return image


def _latest_verified(uow: UnitOfWork, image_id: int) -> Annotation | None:
    return uow.session.scalar(
        sa.select(Annotation)
        .where(Annotation.image_id == image_id, Annotation.status == AnnotationStatus.APPROVED)
        .order_by(Annotation.id.desc())
        .limit(1)
    )


def _execution_arn(state_machine_arn: str, job_id: uuid.UUID) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{job_id}"


def _audit(
    uow: UnitOfWork,
    job: AnalysisJob,
    action: str,
    *,
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    summary: str | None = None,
    error: str | None = None,
) -> None:
    """Analysis rows are audited against the image they are about, the job named."""
    uow.audit(
        AuditEntry(
            action=action,
            category=AuditCategory.IMAGE_PROCESSING,
            resource_type="Image",
            resource_id=job.image_id,
            resource_name=f"analysis {job.job_id}",
            old_values=old,
            new_values={"job_id": str(job.job_id), **(new or {})},
            summary=summary,
            status=AuditStatus.FAILED if error else AuditStatus.SUCCESS,
            error_message=error,
        )
    )


# ------------------------------------------------------------------ the stages


class StageOutput(BaseModel):
    """What a stage's step returns to the state machine (small: Step Functions caps payloads)."""

    job_id: uuid.UUID
    stage: AnalysisStatus
    status: AnalysisStatus
    ran: bool  # False: a retry answered from what was stored


@dataclass(frozen=True)
class _Begun:
    action: StageAction
    job: AnalysisJob


def _begin(
    uow_factory: UnitOfWorkFactory,
    job_id: uuid.UUID,
    stage: AnalysisStatus,
    context: RequestContext,
    stored: str,
) -> _Begun:
    with uow_factory(SYSTEM, context) as uow:
        job = uow.analysis_jobs.require(job_id, for_update=True)
        result = uow.analysis_jobs.result_of(job.job_id)
        output_stored = (
            job.status is AnalysisStatus.COMPLETED
            if stored == "completed"
            else result is not None and getattr(result, stored) is not None
        )
        action = stage_action(job.status, stage, output_stored=output_stored)
        if action is StageAction.START:
            before = job.status
            change_status(uow, job, stage)
            _audit(
                uow, job, "ANALYSIS_STAGE_STARTED", old={"status": before.value}, new={"status": stage.value}
            )
            uow.commit()
        uow.session.expunge(job)
        return _Begun(action, job)


def _finish(
    uow_factory: UnitOfWorkFactory,
    job_id: uuid.UUID,
    stage: AnalysisStatus,
    context: RequestContext,
    fields: dict[str, Any],
    confidence: float,
    metrics: dict[str, Any],
    provenance: dict[str, Any],
    *,
    complete: bool = False,
) -> None:
    """Store one stage's output, all in one transaction, if the job is still at that stage."""
    with uow_factory(SYSTEM, context) as uow:
        job = uow.analysis_jobs.require(job_id, for_update=True)
        if job.status is not stage:
            raise Conflict(
                f"analysis {job_id} is {job.status.value}; the {stage.value} output was not stored"
            )
        result = uow.analysis_jobs.result_of(job.job_id, for_update=True)
        if result is None:
            result = AnalysisResult(job_id=job.job_id)
            uow.session.add(result)
        for name, value in fields.items():
            setattr(result, name, value)
        result.confidence_scores = {**(result.confidence_scores or {}), stage.value: round(confidence, 3)}
        result.processing_metrics = {**(result.processing_metrics or {}), stage.value: metrics}
        result.provenance = {**(result.provenance or {}), **provenance}
        new: dict[str, Any] = {"stage": stage.value, "confidence": round(confidence, 3)}
        if complete:
            change_status(uow, job, AnalysisStatus.COMPLETED)
            new["status"] = AnalysisStatus.COMPLETED.value
        _audit(uow, job, "ANALYSIS_STAGE_COMPLETED", new=new)
        uow.commit()


def _output(job_id: uuid.UUID, stage: AnalysisStatus, status: AnalysisStatus, ran: bool) -> StageOutput:
    return StageOutput(job_id=job_id, stage=stage, status=status, ran=ran)


def overlay_key(job_id: uuid.UUID) -> str:
    return f"analysis/{job_id}/overlay.png"


def segment(
    uow_factory: UnitOfWorkFactory, storage: Storage, job_id: uuid.UUID, context: RequestContext
) -> StageOutput:
    """Keypoints (verified, else the model's) and the skeleton overlay in the derived bucket."""
    stage = AnalysisStatus.SEGMENTING
    begun = _begin(uow_factory, job_id, stage, context, "segmentation_result_key")
    if begun.action is StageAction.SKIP:
        return _output(job_id, stage, begun.job.status, ran=False)
    started = time.perf_counter()
    settings = get_settings()
    with uow_factory(SYSTEM, context) as uow:
        chosen = _choose_keypoints(uow, begun.job)
    image_bytes = storage.get(settings.uploads_bucket, begun.job.original_image_key)
    overlay = draw_skeleton(image_bytes, chosen.keypoints.keypoints, chosen.connections)
    key = overlay_key(job_id)
    storage.put(
        settings.derived_bucket,
        key,
        overlay,
        content_type="image/png",
        metadata={"analysis-job": str(job_id)},
    )
    _finish(
        uow_factory,
        job_id,
        stage,
        context,
        fields={"segmentation_result_key": key, "keypoints": chosen.keypoints.model_dump(mode="json")},
        confidence=chosen.confidence,
        metrics={
            "ms": _ms(started),
            "keypoints_labelled": len(chosen.keypoints.labelled_ids()),
            "overlay_bytes": len(overlay),
        },
        provenance={"keypoint_source": chosen.source, "pose_model": chosen.pose_model},
    )
    return _output(job_id, stage, stage, ran=True)


@dataclass(frozen=True)
class _ChosenKeypoints:
    keypoints: KeypointSet
    connections: list[tuple[int, int]]
    source: str
    pose_model: str | None
    confidence: float


def _choose_keypoints(uow: UnitOfWork, job: AnalysisJob) -> _ChosenKeypoints:
    image = uow.images.require(job.image_id)
    schema = SchemaDefinition.model_validate(
        uow.schemas.require(uow.batches.require(image.batch_id).keypoint_schema_id).schema_definition
    )
    pose_model = f"YOLO pose {image.yolo_model_version}" if image.yolo_model_version else None
    annotation = (
        uow.annotations.get(job.annotation_id) if job.annotation_id else _latest_verified(uow, image.id)
    )
    if annotation is not None:
        keypoints = KeypointSet.model_validate(annotation.refined_keypoints)
        source = f"verified annotation #{annotation.id} (version {annotation.version})"
        return _ChosenKeypoints(keypoints, schema.connections, source, pose_model, 1.0)
    if not image.yolo_keypoints:
        raise NoKeypoints(f"image {image.id} has no verified annotation and no keypoints from the pose model")
    keypoints = KeypointSet.model_validate(image.yolo_keypoints)
    scores = [k.confidence for k in keypoints.keypoints if k.is_labelled and k.confidence is not None]
    confidence = sum(scores) / len(scores) if scores else float(image.yolo_confidence or 0)
    return _ChosenKeypoints(keypoints, schema.connections, "model prediction", pose_model, confidence)


def convert(
    uow_factory: UnitOfWorkFactory,
    storage: Storage,
    writer: TextWriter,
    job_id: uuid.UUID,
    context: RequestContext,
) -> StageOutput:
    """Findings from the keypoints and their description in plain language."""
    stage = AnalysisStatus.CONVERTING
    begun = _begin(uow_factory, job_id, stage, context, "image_description")
    if begun.action is StageAction.SKIP:
        return _output(job_id, stage, begun.job.status, ran=False)
    started = time.perf_counter()
    with uow_factory(SYSTEM, context) as uow:
        result = _require_result(uow, job_id)
        keypoints = KeypointSet.model_validate(result.keypoints)
        overlay_key_ = result.segmentation_result_key
    findings = analyse(keypoints.keypoints)
    overlay = storage.get(get_settings().derived_bucket, overlay_key_) if overlay_key_ else None
    description = writer.describe(findings, overlay)
    _finish(
        uow_factory,
        job_id,
        stage,
        context,
        fields={"findings": findings.as_document(), "image_description": description.text},
        confidence=findings.confidence,
        metrics={"ms": _ms(started), "writer": description.writer, **description.usage},
        provenance={
            "findings_rules": f"cradle findings rules v{FINDINGS_VERSION}",
            "describer": description.writer,
        },
    )
    return _output(job_id, stage, stage, ran=True)


def enhance(
    uow_factory: UnitOfWorkFactory, writer: TextWriter, job_id: uuid.UUID, context: RequestContext
) -> StageOutput:
    """The report: the findings in context with cited passages of the reference notes."""
    stage = AnalysisStatus.ENHANCING
    begun = _begin(uow_factory, job_id, stage, context, "completed")
    if begun.action is StageAction.SKIP:
        return _output(job_id, stage, begun.job.status, ran=False)
    started = time.perf_counter()
    with uow_factory(SYSTEM, context) as uow:
        result = _require_result(uow, job_id)
        findings = _findings_of(result)
        description = result.image_description or ""
        topics = topics_for(findings)
        library = reference_library.describe_library(uow.session)
        if library.passages == 0:
            raise EmptyLibrary("the reference library is empty: run `cradle db upgrade` (it syncs the notes)")
        sources = _retrieve(uow, topics)
    body = writer.write_context(findings, description, topics, sources)
    check_citations(body, sources)
    cited = [s for s in sources if s.number in set(body.cited)]
    confidence = coverage(topics, cited)
    provenance = {
        "report_writer": body.writer,
        "reference_library": library.describe(),
        "cradle_version": __version__,
    }
    with uow_factory(SYSTEM, context) as uow:
        job = uow.analysis_jobs.require(job_id)
        stored = _require_result(uow, job_id)
        requester = uow.users.require(job.user_id)
        markdown = analysis_documents.markdown_report(
            job,
            stored,
            requested_by=requester.username,
            body=body,
            sources=cited,
            confidence={**(stored.confidence_scores or {}), stage.value: confidence},
            provenance=Provenance.model_validate({**(stored.provenance or {}), **provenance}),
            completed_at=dt.datetime.now(dt.UTC),
        )
    _finish(
        uow_factory,
        job_id,
        stage,
        context,
        fields={"enhanced_report": markdown, "sources": [_source_document(s) for s in cited]},
        confidence=confidence,
        metrics={
            "ms": _ms(started),
            "writer": body.writer,
            "topics": len(topics),
            "passages_offered": len(sources),
            "passages_cited": len(cited),
            **body.usage,
        },
        provenance=provenance,
        complete=True,
    )
    return _output(job_id, stage, AnalysisStatus.COMPLETED, ran=True)


def _retrieve(uow: UnitOfWork, topics: list[Topic]) -> list[SourcePassage]:
    sources: list[SourcePassage] = []
    seen: set[int] = set()
    for topic in topics:
        for found in reference_library.search(uow.session, topic.query, limit=PASSAGES_PER_TOPIC):
            p = found.passage
            if p.id in seen:
                continue
            seen.add(p.id)
            sources.append(
                SourcePassage(len(sources) + 1, p.id, topic.name, p.title, p.body, p.citation, p.content_hash)
            )
    return sources


def _source_document(s: SourcePassage) -> dict[str, Any]:
    return {
        "number": s.number, "passage_id": s.passage_id, "topic": s.topic, "title": s.title,
        "body": s.body, "citation": s.citation, "content_hash": s.content_hash,
    }  # fmt: skip


def _findings_of(result: AnalysisResult) -> Findings:
    # The findings are recomputed from the stored keypoints: the rules are deterministic, and the
    # writer gets the dataclass. The stored document is what the report shows.
    return analyse(KeypointSet.model_validate(result.keypoints).keypoints)


def _require_result(uow: UnitOfWork, job_id: uuid.UUID) -> AnalysisResult:
    result = uow.analysis_jobs.result_of(job_id)
    if result is None:
        raise Conflict(f"analysis {job_id} has no stored result from its earlier stages")
    return result


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


# ------------------------------------------------------------------ failure


def record_failure(
    uow_factory: UnitOfWorkFactory,
    job_id: uuid.UUID,
    error: str,
    cause: str,
    context: RequestContext,
    storage: Storage | None = None,
) -> AnalysisJobOut:
    """Mark the job failed at the stage it was in (idempotent), and remove what that stage left in S3."""
    with uow_factory(SYSTEM, context) as uow:
        job = uow.analysis_jobs.require(job_id, for_update=True)
        if job.status in (AnalysisStatus.FAILED, AnalysisStatus.COMPLETED):
            return AnalysisJobOut.model_validate(job)
        stage = job.status
        result = uow.analysis_jobs.result_of(job.job_id)
        overlay_stored = result is not None and result.segmentation_result_key is not None
        message = f"{error}: {cause}" if cause else error
        change_status(uow, job, AnalysisStatus.FAILED)
        job.failed_stage = stage.value
        job.error_message = message[:ERROR_TEXT_LIMIT]
        _audit(
            uow,
            job,
            "ANALYSIS_FAILED",
            old={"status": stage.value},
            new={"status": "failed", "stage": stage.value},
            error=job.error_message,
        )
        uow.commit()
        out = AnalysisJobOut.model_validate(job)
    if storage is not None and stage is AnalysisStatus.SEGMENTING and not overlay_stored:
        # The overlay may have reached S3 before the stage failed to record it.
        storage.delete(get_settings().derived_bucket, overlay_key(job_id))
    return out


# ------------------------------------------------------------------ the report as a download


class ReportFormat(StrEnum):
    MARKDOWN = "md"
    HTML = "html"


@dataclass(frozen=True)
class ReportDownload:
    content: str
    media_type: str
    filename: str


def download_report(
    uow: UnitOfWork, storage: Storage, job_id: uuid.UUID, fmt: ReportFormat
) -> ReportDownload:
    """The completed report as Markdown or as one self-contained HTML page; the download is audited."""
    job = readable_job(uow, job_id)
    if job.status is not AnalysisStatus.COMPLETED:
        raise Conflict(f"analysis {job_id} is {job.status.value}: its report exists once it is completed")
    result = _require_result(uow, job.job_id)
    markdown = result.enhanced_report or ""
    stem = f"cradle-analysis-image-{job.image_id}-{str(job.job_id)[:8]}"
    if fmt is ReportFormat.HTML:
        key = result.segmentation_result_key
        overlay = storage.get(get_settings().derived_bucket, key) if key else None
        download = ReportDownload(
            analysis_documents.html_page(markdown, overlay, f"Posture report: image {job.image_id}"),
            "text/html; charset=utf-8",
            f"{stem}.html",
        )
    else:
        download = ReportDownload(markdown, "text/markdown; charset=utf-8", f"{stem}.md")
    _audit(
        uow,
        job,
        "ANALYSIS_REPORT_DOWNLOADED",
        new={"format": fmt.value, "bytes": len(download.content.encode())},
    )
    uow.commit()
    return download
