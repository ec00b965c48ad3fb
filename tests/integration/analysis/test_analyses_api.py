"""Analyses through the API: request (the execution started, named after the job), follow, read the
results, download the report as Markdown and as a self-contained HTML page; RBAC and audit rows."""

from __future__ import annotations

import base64
import re
import uuid

import boto3
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.adapters.storage import S3Storage
from cradlepose.adapters.text_writers import DeterministicComposer
from cradlepose.db.models import AuditLog
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.analysis import DISCLAIMER
from cradlepose.reports import analysis
from cradlepose.reports.reference_library import SyncResult
from tests.integration.analysis.conftest import AnalysedImage
from tests.integration.analysis.test_stages import CONTEXT
from tests.support import ApiClient, Persona, make_user

pytestmark = pytest.mark.integration


def _run(uow_factory: UnitOfWorkFactory, job_id: str) -> None:
    """What the state machine does once started (moto records executions; it does not run them here)."""
    key, storage, writer = uuid.UUID(job_id), S3Storage(), DeterministicComposer()
    analysis.segment(uow_factory, storage, key, CONTEXT)
    analysis.convert(uow_factory, storage, writer, key, CONTEXT)
    analysis.enhance(uow_factory, writer, key, CONTEXT)


def _actions(session_factory: sessionmaker[Session]) -> list[str]:
    with session_factory() as session:
        return list(
            session.scalars(
                sa.select(AuditLog.action).where(AuditLog.action.like("ANALYSIS%")).order_by(AuditLog.id)
            )
        )


def test_request_follow_read_and_download(
    api: ApiClient,
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    verifier: Persona,
    infant_image: AnalysedImage,
    library: SyncResult,
) -> None:
    # A verifier asks for a report on an approved image
    with session_factory() as session:
        session.execute(
            sa.text("UPDATE images SET status = 'APPROVED' WHERE id = :i"), {"i": infant_image.image_id}
        )
        session.commit()
    asked = api.post("/analyses", verifier, body={"image_id": infant_image.image_id})
    assert asked.status == 202, asked.body
    job = asked.json
    assert job["status"] == "uploaded"
    assert job["user_id"] == verifier.user_id

    # The execution is started under the job's id
    sfn = boto3.client("stepfunctions")
    machine = next(
        m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "cradle-analysis-report"
    )
    executions = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    assert [e["name"] for e in executions] == [job["job_id"]]

    # Before it completes, there is no report to download
    early = api.get(f"/analyses/{job['job_id']}/report", verifier)
    assert early.status == 409
    assert "completed" in early.json["detail"]

    _run(uow_factory, job["job_id"])

    detail = api.get(f"/analyses/{job['job_id']}", verifier)
    assert detail.status == 200
    assert detail.json["status"] == "completed"
    assert detail.json["result"]["findings"]["posture"] == "supine"
    assert detail.json["overlay_url"].startswith("https://")
    listed = api.get("/analyses", verifier, query={"image_id": str(infant_image.image_id)})
    assert [j["job_id"] for j in listed.json["items"]] == [job["job_id"]]

    markdown = api.get(f"/analyses/{job['job_id']}/report", verifier)
    assert markdown.status == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert re.match(
        r'attachment; filename="cradle-analysis-image-\d+-\w{8}\.md"', markdown.headers["content-disposition"]
    )
    assert DISCLAIMER in (markdown.body or "")

    page = api.get(f"/analyses/{job['job_id']}/report", verifier, query={"format": "html"})
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    body = page.body or ""
    assert body.startswith("<!doctype html>")
    # self-contained: the overlay inline, no external resources
    inline = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', body)
    assert inline
    assert base64.b64decode(inline.group(1))[:4] == b"\x89PNG"
    assert not re.search(r'(src|href)="https?://', body)
    assert "<table>" in body
    assert DISCLAIMER in body

    # Requests, each stage and each download are in the audit log
    assert _actions(session_factory) == [
        "ANALYSIS_REQUESTED",
        "ANALYSIS_STAGE_STARTED", "ANALYSIS_STAGE_COMPLETED",
        "ANALYSIS_STAGE_STARTED", "ANALYSIS_STAGE_COMPLETED",
        "ANALYSIS_STAGE_STARTED", "ANALYSIS_STAGE_COMPLETED",
        "ANALYSIS_OVERLAY_URL_ISSUED",  # the detail's overlay link: a PHI read (docs/security.md)
        "ANALYSIS_REPORT_DOWNLOADED", "ANALYSIS_REPORT_DOWNLOADED",
    ]  # fmt: skip


def test_a_verifier_sees_only_their_own_analyses(
    api: ApiClient,
    session_factory: sessionmaker[Session],
    admin: Persona,
    verifier: Persona,
    infant_image: AnalysedImage,
) -> None:
    job = api.post("/analyses", admin, body={"image_id": infant_image.image_id}).json
    other = make_user(session_factory, verifier.role, name="vera")  # type: ignore[arg-type]
    assert api.get(f"/analyses/{job['job_id']}", other).status == 404
    assert api.get("/analyses", other).json["items"] == []
    assert api.get(f"/analyses/{job['job_id']}", admin).status == 200


def test_bad_requests_are_refused_and_leave_nothing(
    api: ApiClient, session_factory: sessionmaker[Session], admin: Persona, infant_image: AnalysedImage
) -> None:
    for body, status in (
        ({"image_id": 999_999}, 404),
        ({"image_id": infant_image.image_id, "annotation_id": 999_999}, 404),
        ({"image_id": "x"}, 422),
        ({"image_id": infant_image.image_id, "colour": "red"}, 422),
    ):
        response = api.post("/analyses", admin, body=body)
        assert response.status == status, (body, response.body)
        assert response.headers["content-type"] == "application/problem+json"
    assert api.get("/analyses/not-a-uuid", admin).status == 422
    assert api.get(f"/analyses/{uuid.uuid4()}", admin).status == 404
    with session_factory() as session:
        assert session.scalar(sa.text("SELECT count(*) FROM analysis_jobs")) == 0


def test_an_image_without_keypoints_cannot_be_analysed(
    api: ApiClient, session_factory: sessionmaker[Session], admin: Persona, infant_image: AnalysedImage
) -> None:
    with session_factory() as session:
        session.execute(sa.text("UPDATE images SET yolo_keypoints = NULL"))
        session.commit()
    response = api.post("/analyses", admin, body={"image_id": infant_image.image_id})
    assert response.status == 409
    assert "pipeline" in response.json["detail"]
