"""Analysis reports on one image: request, follow, read, download (admins and verifiers)."""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from api.dependencies import Researcher, storage, workflow
from api.observability import metrics
from api.params import Cursor, IdFilter, Limit
from api.problems import documented
from cradlepose.adapters.storage import Storage
from cradlepose.adapters.workflow import Workflow
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.domain.enums import AnalysisStatus
from cradlepose.reports import analysis

router = Router()
TAGS = ["analyses"]
StorageDep = Annotated[Storage, Depends(storage)]
JobId = Annotated[uuid.UUID, Path(description="the analysis job's id")]


@router.post(
    "/analyses",
    tags=TAGS,
    status_code=202,
    summary="Ask for a posture report on one image; it runs in the background (admin, verifier)",
    responses=documented(202, 401, 403, 404, 409, 422),
)
def request_analysis(
    me: Researcher,
    flow: Annotated[Workflow, Depends(workflow)],
    body: Annotated[analysis.AnalysisJobIn, Body()],
) -> analysis.AnalysisJobOut:
    with me.uow() as uow:
        job = analysis.request_analysis(uow, body)
    started = analysis.start(me.uow_factory, flow, job.job_id, me.context)
    metrics.add_metric(name="AnalysesRequested", unit="Count", value=1)
    if not started:
        return job
    with me.uow() as uow:
        return analysis.AnalysisJobOut.model_validate(analysis.readable_job(uow, job.job_id))


@router.get(
    "/analyses",
    tags=TAGS,
    summary="Analyses, newest first: all of them for an admin, your own for a verifier",
    responses=documented(200, 401, 403, 422),
)
def list_analyses(
    me: Researcher,
    image_id: IdFilter = None,
    status: Annotated[AnalysisStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[analysis.AnalysisJobOut]:
    with me.uow() as uow:
        return analysis.list_analyses(uow, image_id, status, cursor, limit)


@router.get(
    "/analyses/<job_id>",
    tags=TAGS,
    summary="An analysis: its status, the stage that failed, and every stage's results",
    responses=documented(200, 401, 403, 404, 422),
)
def get_analysis(me: Researcher, job_id: JobId, files: StorageDep) -> analysis.AnalysisDetail:
    with me.uow() as uow:
        return analysis.get_analysis(uow, files, job_id)


@router.get(
    "/analyses/<job_id>/report",
    tags=TAGS,
    summary="Download the report: Markdown, or one self-contained HTML page with the overlay",
    responses={
        200: {
            "description": "The report",
            "content": {
                "text/markdown": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
        **{k: v for k, v in documented(200, 401, 403, 404, 409, 422).items() if k != 200},
    },
)
def download_report(
    me: Researcher,
    job_id: JobId,
    files: StorageDep,
    format: Annotated[
        analysis.ReportFormat, Query(description="md (default) or html")
    ] = analysis.ReportFormat.MARKDOWN,
) -> Response[str]:
    with me.uow() as uow:
        report = analysis.download_report(uow, files, job_id, format)
    return Response(
        status_code=200,
        content_type=report.media_type,
        body=report.content,
        headers={"Content-Disposition": f'attachment; filename="{report.filename}"'},
    )
