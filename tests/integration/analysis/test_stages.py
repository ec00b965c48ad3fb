"""The three stages as the state machine runs them: to `completed` with every result field filled, a
failure at each stage recorded at that stage with nothing of it half-written, and retried steps."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.adapters.storage import ObjectMissing, S3Storage
from cradlepose.adapters.text_writers import DeterministicComposer, WriterFailed
from cradlepose.db.models import AnalysisJob, AnalysisResult, AuditLog
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import Actor, RequestContext
from cradlepose.domain.analysis import DISCLAIMER, StageOrderViolation
from cradlepose.domain.enums import AnalysisStatus
from cradlepose.domain.findings import Findings
from cradlepose.reports import analysis
from cradlepose.reports.reference_library import SyncResult
from tests.integration.analysis.conftest import SUPINE, AnalysedImage, approve, keypoints
from tests.support import Persona

pytestmark = pytest.mark.integration

CONTEXT = RequestContext(user_agent="tests", endpoint="states:test", method="STATES")
RESULT_FIELDS = (
    "segmentation_result_key", "image_description", "enhanced_report", "confidence_scores",
    "processing_metrics", "keypoints", "findings", "sources", "provenance",
)  # fmt: skip


def actor(persona: Persona) -> Actor:
    return Actor(user_id=persona.user_id, username=persona.name, role=persona.role, is_approved=True)


def request(uow_factory: UnitOfWorkFactory, who: Persona, image: AnalysedImage, **kwargs: Any) -> uuid.UUID:
    with uow_factory(actor(who), CONTEXT) as uow:
        job = analysis.request_analysis(uow, analysis.AnalysisJobIn(image_id=image.image_id, **kwargs))
    return job.job_id


def run_all(uow_factory: UnitOfWorkFactory, job_id: uuid.UUID, writer: Any = None) -> None:
    storage, writer = S3Storage(), writer or DeterministicComposer()
    analysis.segment(uow_factory, storage, job_id, CONTEXT)
    analysis.convert(uow_factory, storage, writer, job_id, CONTEXT)
    analysis.enhance(uow_factory, writer, job_id, CONTEXT)


def job_and_result(sf: sessionmaker[Session], job_id: uuid.UUID) -> tuple[AnalysisJob, AnalysisResult | None]:
    with sf() as session:
        job = session.get(AnalysisJob, job_id)
        assert job is not None
        result = session.scalar(sa.select(AnalysisResult).where(AnalysisResult.job_id == job_id))
        session.expunge_all()
        return job, result


def test_an_image_goes_through_every_stage_to_completed(
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    infant_image: AnalysedImage,
    library: SyncResult,
) -> None:
    # Given a requested analysis of an image with the model's keypoints
    job_id = request(uow_factory, admin, infant_image)

    # When the state machine runs its three stages
    run_all(uow_factory, job_id)

    # Then the job is completed and every result field is filled
    job, result = job_and_result(session_factory, job_id)
    assert job.status is AnalysisStatus.COMPLETED
    assert job.error_message is None
    assert job.updated_at > job.created_at  # kept by the database's trigger
    assert result is not None
    assert all(getattr(result, name) for name in RESULT_FIELDS), [
        n for n in RESULT_FIELDS if not getattr(result, n)
    ]
    scores = result.confidence_scores or {}
    assert set(scores) == {"segmenting", "converting", "enhancing"}
    assert scores["segmenting"] == pytest.approx(0.8)
    assert set(result.processing_metrics or {}) == {"segmenting", "converting", "enhancing"}
    # and the overlay is a PNG in the derived bucket
    overlay = boto3.client("s3").get_object(Bucket="cradle-derived", Key=result.segmentation_result_key)
    assert overlay["Body"].read()[:8] == b"\x89PNG\r\n\x1a\n"
    # and the findings are those of the keypoints: supine, the bent right knee flagged
    findings = result.findings or {}
    assert findings["posture"] == "supine"
    assert any(a["measure"] == "knee" and a["flagged"] for a in findings["asymmetries"])
    # and the report states the models and versions, each stage's confidence, and what it is not
    report = result.enhanced_report or ""
    assert DISCLAIMER in report
    assert "model prediction" in report
    assert "YOLO pose yolo11n-pose" in report
    assert "cradle findings rules v1" in report
    assert "cradle deterministic composer" in report
    assert f"revision {library.revision}" in report
    for stage in ("segmenting", "converting", "enhancing"):
        assert f"| {stage} | {scores[stage]:.2f} |" in report
    # and every passage it cites is listed with its source
    assert result.sources
    for source in result.sources:
        assert f"[{source['number']}]" in report
        assert source["citation"] in report


def test_verified_keypoints_are_preferred_to_the_models(
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    annotator: Persona,
    infant_image: AnalysedImage,
    library: SyncResult,
) -> None:
    # Given a verified annotation in which the right knee is straight again
    straight = {**SUPINE, "right_knee": (290, 360), "right_ankle": (285, 430)}
    annotation_id = approve(session_factory, infant_image, annotator, keypoints(straight, confidence=1.0))

    job_id = request(uow_factory, admin, infant_image)
    run_all(uow_factory, job_id)

    _, result = job_and_result(session_factory, job_id)
    assert result is not None
    assert (result.confidence_scores or {})["segmenting"] == 1.0
    assert (result.provenance or {})["keypoint_source"] == f"verified annotation #{annotation_id} (version 1)"
    assert not any(a["flagged"] for a in (result.findings or {})["asymmetries"] if a["measure"] == "knee")


class FailingWriter(DeterministicComposer):
    def __init__(self, fail_in: str) -> None:
        self.fail_in = fail_in

    def describe(self, findings: Findings, overlay_png: bytes | None) -> Any:
        if self.fail_in == "converting":
            raise WriterFailed("the describer answered with nothing usable")
        return super().describe(findings, overlay_png)

    def write_context(self, findings: Findings, description: str, topics: Any, sources: Any) -> Any:
        if self.fail_in == "enhancing":
            raise WriterFailed("the report writer answered with nothing usable")
        return super().write_context(findings, description, topics, sources)


STAGE_FIELDS = {
    "segmenting": ("segmentation_result_key", "keypoints"),
    "converting": ("image_description", "findings"),
    "enhancing": ("enhanced_report", "sources"),
}


@pytest.mark.parametrize("stage", ["segmenting", "converting", "enhancing"])
def test_a_failure_is_recorded_at_its_stage_with_nothing_half_written(
    stage: str,
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    infant_image: AnalysedImage,
    library: SyncResult,
) -> None:
    # Given an analysis whose `stage` will fail: the image vanished, or the writer answers badly
    job_id = request(uow_factory, admin, infant_image)
    storage, writer = S3Storage(), FailingWriter(stage)
    if stage == "segmenting":
        boto3.client("s3").delete_object(Bucket="cradle-uploads", Key=infant_image.storage_path)

    # When the stages run until one raises, and the state machine's Catch records the failure
    with pytest.raises((ObjectMissing, WriterFailed)) as raised:
        run_all(uow_factory, job_id, writer)
    analysis.record_failure(
        uow_factory, job_id, type(raised.value).__name__, str(raised.value), CONTEXT, storage
    )

    # Then the job failed at that stage, with its error
    job, result = job_and_result(session_factory, job_id)
    assert job.status is AnalysisStatus.FAILED
    assert job.failed_stage == stage
    assert job.error_message is not None
    assert str(raised.value) in job.error_message
    # and the stages before it are stored whole, the failed one not at all
    stages = list(STAGE_FIELDS)
    for earlier in stages[: stages.index(stage)]:
        assert result is not None
        assert all(getattr(result, name) for name in STAGE_FIELDS[earlier])
        assert earlier in (result.confidence_scores or {})
    for name in STAGE_FIELDS[stage]:
        assert result is None or getattr(result, name) is None
    assert result is None or stage not in (result.confidence_scores or {})
    # and the failure is in the audit log
    with session_factory() as session:
        failed = session.scalars(sa.select(AuditLog).where(AuditLog.action == "ANALYSIS_FAILED")).all()
        assert [row.new_values["stage"] for row in failed] == [stage]  # type: ignore[index]
    # and no later stage will run on it
    with pytest.raises(StageOrderViolation):
        analysis.enhance(uow_factory, DeterministicComposer(), job_id, CONTEXT)


def test_recording_the_same_failure_twice_changes_nothing(
    uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], admin: Persona,
    infant_image: AnalysedImage, library: SyncResult,
) -> None:  # fmt: skip
    job_id = request(uow_factory, admin, infant_image)
    analysis.segment(uow_factory, S3Storage(), job_id, CONTEXT)
    first = analysis.record_failure(uow_factory, job_id, "States.Timeout", "took too long", CONTEXT)
    second = analysis.record_failure(uow_factory, job_id, "Other", "a second catch", CONTEXT)
    assert first.error_message == second.error_message == "States.Timeout: took too long"
    assert first.failed_stage == "segmenting"


def test_a_retried_step_answers_from_what_is_stored(
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    infant_image: AnalysedImage,
    library: SyncResult,
) -> None:
    job_id = request(uow_factory, admin, infant_image)
    first = analysis.segment(uow_factory, S3Storage(), job_id, CONTEXT)
    again = analysis.segment(uow_factory, S3Storage(), job_id, CONTEXT)
    assert first.ran
    assert not again.ran
    run_all(uow_factory, job_id)  # segment a third time (skipped), then the rest
    assert not analysis.convert(uow_factory, S3Storage(), DeterministicComposer(), job_id, CONTEXT).ran
    with session_factory() as session:
        started = session.scalars(
            sa.select(AuditLog.new_values).where(AuditLog.action == "ANALYSIS_STAGE_COMPLETED")
        ).all()
    assert [row["stage"] for row in started] == ["segmenting", "converting", "enhancing"]


def test_an_empty_reference_library_fails_the_enhancing_stage(
    uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], admin: Persona,
    infant_image: AnalysedImage,
) -> None:  # fmt: skip
    job_id = request(uow_factory, admin, infant_image)
    storage = S3Storage()
    analysis.segment(uow_factory, storage, job_id, CONTEXT)
    analysis.convert(uow_factory, storage, DeterministicComposer(), job_id, CONTEXT)
    with pytest.raises(analysis.EmptyLibrary, match="cradle db upgrade"):
        analysis.enhance(uow_factory, DeterministicComposer(), job_id, CONTEXT)
