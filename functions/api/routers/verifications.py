"""Verification: claim the next annotation of a queue, decide on it, or give it back."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from api.dependencies import Admin, Researcher, Worker
from api.observability import metrics
from api.params import Cursor, Limit, ResourceId
from api.problems import documented
from cradlepose import metric_names
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.domain.enums import VerificationDecision
from cradlepose.workflow import annotations as annotation_service
from cradlepose.workflow import claims, verifications

router = Router()
TAGS = ["verifications"]
APPROVING = frozenset({VerificationDecision.APPROVED, VerificationDecision.APPROVED_WITH_CORRECTIONS})


@router.post(
    "/verifications/next",
    tags=TAGS,
    summary="Claim the next annotation to verify (queue: submitted, second_opinion, escalated for admins)",
    responses=documented(200, 401, 403, 422),
)
def claim_next(
    me: Researcher, queue: Annotated[verifications.Queue, Query()] = verifications.Queue.SUBMITTED
) -> verifications.NextReview:
    with me.uow() as uow:
        return verifications.NextReview(item=verifications.claim_next(uow, queue))


@router.post(
    "/annotations/<annotation_id>/verifications",
    tags=TAGS,
    status_code=201,
    summary="Record your decision on an annotation you claimed",
    responses=documented(201, 401, 403, 404, 409, 422),
)
def decide(
    me: Researcher, annotation_id: ResourceId, body: Annotated[verifications.VerificationIn, Body()]
) -> verifications.DecisionOut:
    with me.uow() as uow:
        decided = verifications.decide(uow, annotation_id, body)
    # Counted once committed: the admin dashboard's "verified" and "approved" lines.
    metrics.add_metric(name=metric_names.VERIFICATIONS, unit="Count", value=1)
    if body.decision in APPROVING:
        metrics.add_metric(name=metric_names.APPROVALS, unit="Count", value=1)
    return decided


@router.post(
    "/annotations/<annotation_id>/release",
    tags=TAGS,
    summary="Give a claimed annotation back to its queue",
    responses=documented(200, 401, 403, 404, 409),
)
def release(me: Researcher, annotation_id: ResourceId) -> annotation_service.AnnotationOut:
    with me.uow() as uow:
        return verifications.release(uow, annotation_id)


@router.get(
    "/annotations/<annotation_id>/verifications",
    tags=TAGS,
    summary="The decisions on an annotation",
    responses=documented(200, 401, 403, 404),
)
def list_for_annotation(me: Worker, annotation_id: ResourceId) -> list[verifications.VerificationOut]:
    with me.uow() as uow:
        return verifications.list_for_annotation(uow, annotation_id)


@router.get(
    "/verifications/<verification_id>/internal-notes",
    tags=TAGS,
    summary="A verification's internal notes (admin)",
    responses=documented(200, 401, 403, 404),
)
def get_internal_notes(me: Admin, verification_id: ResourceId) -> verifications.InternalNotesOut:
    with me.uow() as uow:
        return verifications.internal_notes(uow, verification_id)


@router.put(
    "/verifications/<verification_id>/internal-notes",
    tags=TAGS,
    summary="Write or clear a verification's internal notes (admin; audited)",
    responses=documented(200, 401, 403, 404, 422),
)
def put_internal_notes(
    me: Admin, verification_id: ResourceId, body: Annotated[verifications.InternalNotesIn, Body()]
) -> verifications.InternalNotesOut:
    with me.uow() as uow:
        return verifications.set_internal_notes(uow, verification_id, body)


@router.get(
    "/claims",
    tags=TAGS,
    summary="Open verification claims, each with when it lapses (admin)",
    responses=documented(200, 401, 403, 422),
)
def list_claims(me: Admin, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> Page[claims.ClaimOut]:
    with me.uow() as uow:
        return claims.list_claims(uow, cursor, limit)


@router.post(
    "/claims/<image_id>/release",
    tags=TAGS,
    summary="Release anyone's claim: the image goes back to its queue (admin)",
    responses=documented(200, 401, 403, 404),
)
def release_claim(me: Admin, image_id: ResourceId) -> claims.ClaimOut:
    with me.uow() as uow:
        return claims.release_claim(uow, image_id)


@router.post(
    "/claims/<image_id>/renew",
    tags=TAGS,
    summary="Keep your claim: its idle time starts again",
    responses=documented(200, 401, 403, 404, 409),
)
def renew_claim(me: Researcher, image_id: ResourceId) -> claims.ClaimOut:
    with me.uow() as uow:
        return claims.renew(uow, image_id)
