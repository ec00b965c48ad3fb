"""Assignments: admins assign batches (by hand or by policy); annotators work through theirs."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from api.dependencies import Admin, Annotator, Worker
from api.params import Cursor, IdFilter, Limit, ResourceId
from api.problems import documented
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.domain.enums import AssignmentStatus, AssignmentType
from cradlepose.workflow import annotations as annotation_service
from cradlepose.workflow import assignments, handover

router = Router()
TAGS = ["assignments"]


@router.post(
    "/batches/<batch_id>/assignments",
    tags=TAGS,
    status_code=201,
    summary="Assign a ready batch to an annotator (admin)",
    responses=documented(201, 401, 403, 404, 409, 422),
)
def assign(
    me: Admin, batch_id: ResourceId, body: Annotated[assignments.AssignmentIn, Body()]
) -> assignments.AssignmentOut:
    with me.uow() as uow:
        return assignments.assign_batch(uow, batch_id, body)


@router.post(
    "/batches/<batch_id>/auto-assign",
    tags=TAGS,
    summary="Assign a ready batch with the auto-assign policy (admin)",
    responses=documented(200, 401, 403, 404, 409),
)
def auto_assign(me: Admin, batch_id: ResourceId) -> assignments.AutoAssigned:
    with me.uow() as uow:
        return assignments.AutoAssigned(assignment=assignments.auto_assign_batch(uow, batch_id))


@router.post(
    "/auto-assignments",
    tags=TAGS,
    summary="Hand out pooled assignments, then assign every ready batch, highest priority first (admin)",
    responses=documented(200, 401, 403),
)
def auto_assign_all(me: Admin) -> assignments.AutoAssignResult:
    # Pooled work first: it was started already and waits on nobody else.
    with me.uow() as uow:
        from_pool = handover.assign_pool(uow)
    with me.uow() as uow:
        result = assignments.auto_assign_all(uow)
    return result.model_copy(update={"from_pool": from_pool})


@router.post(
    "/assignments/<assignment_id>/unassign",
    tags=TAGS,
    summary="Take an open assignment from its annotator; its remaining work goes to the pool (admin)",
    responses=documented(200, 401, 403, 404, 409),
)
def unassign(me: Admin, assignment_id: ResourceId) -> assignments.HandedOver:
    with me.uow() as uow:
        return handover.unassign(uow, assignment_id)


@router.post(
    "/assignments/<assignment_id>/reassign",
    tags=TAGS,
    summary="Give an open assignment's remaining work, with its drafts, to another annotator (admin)",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def reassign(
    me: Admin, assignment_id: ResourceId, body: Annotated[handover.Reassignment, Body()]
) -> assignments.HandedOver:
    with me.uow() as uow:
        return handover.reassign(uow, assignment_id, body)


@router.get(
    "/assignments",
    tags=TAGS,
    summary="Your assignments (admins: everyone's)",
    responses=documented(200, 401, 403, 422),
)
def list_assignments(
    me: Worker,
    status: Annotated[AssignmentStatus | None, Query()] = None,
    assignment_type: Annotated[AssignmentType | None, Query()] = None,
    annotator_id: IdFilter = None,
    batch_id: IdFilter = None,
    in_pool: Annotated[bool | None, Query(description="admins: only pooled (true) or held (false)")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[assignments.AssignmentOut]:
    filters = assignments.AssignmentFilters(
        status=status,
        assignment_type=assignment_type,
        annotator_id=annotator_id,
        batch_id=batch_id,
        in_pool=in_pool,
    )
    with me.uow() as uow:
        return assignments.list_assignments(uow, filters, cursor, limit)


@router.get(
    "/assignments/<assignment_id>",
    tags=TAGS,
    summary="One assignment",
    responses=documented(200, 401, 403, 404),
)
def get_assignment(me: Worker, assignment_id: ResourceId) -> assignments.AssignmentOut:
    with me.uow() as uow:
        return assignments.get_assignment(uow, assignment_id)


@router.post(
    "/assignments/<assignment_id>/acknowledge",
    tags=TAGS,
    summary="Acknowledge an assignment (annotator)",
    responses=documented(200, 401, 403, 404, 409),
)
def acknowledge(me: Annotator, assignment_id: ResourceId) -> assignments.AssignmentOut:
    with me.uow() as uow:
        return assignments.acknowledge(uow, assignment_id)


@router.post(
    "/assignments/<assignment_id>/start",
    tags=TAGS,
    summary="Start working (annotator)",
    responses=documented(200, 401, 403, 404, 409),
)
def start(me: Annotator, assignment_id: ResourceId) -> assignments.AssignmentOut:
    with me.uow() as uow:
        return assignments.start(uow, assignment_id)


@router.post(
    "/assignments/<assignment_id>/pause",
    tags=TAGS,
    summary="Pause: the clock stops (annotator)",
    responses=documented(200, 401, 403, 404, 409),
)
def pause(me: Annotator, assignment_id: ResourceId) -> assignments.AssignmentOut:
    with me.uow() as uow:
        return assignments.pause(uow, assignment_id)


@router.post(
    "/assignments/<assignment_id>/resume",
    tags=TAGS,
    summary="Resume: the clock runs (annotator)",
    responses=documented(200, 401, 403, 404, 409),
)
def resume(me: Annotator, assignment_id: ResourceId) -> assignments.AssignmentOut:
    with me.uow() as uow:
        return assignments.resume(uow, assignment_id)


@router.patch(
    "/assignments/<assignment_id>",
    tags=TAGS,
    summary="Self-assessment: difficulty and confidence (annotator)",
    responses=documented(200, 401, 403, 404, 422),
)
def self_assess(
    me: Annotator, assignment_id: ResourceId, body: Annotated[assignments.Finishing, Body()]
) -> assignments.AssignmentOut:
    with me.uow() as uow:
        return assignments.report(uow, assignment_id, body)


@router.get(
    "/assignments/<assignment_id>/next-image",
    tags=TAGS,
    summary="The next image to annotate, with YOLO's keypoints and any draft or revision feedback",
    responses=documented(200, 401, 403, 404),
)
def next_image(me: Annotator, assignment_id: ResourceId) -> annotation_service.NextImage:
    with me.uow() as uow:
        return annotation_service.NextImage(item=annotation_service.next_image(uow, assignment_id))
