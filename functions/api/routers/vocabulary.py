"""The catalogue's vocabularies (seed 002): anatomical areas, modalities, task types, tags."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from api.dependencies import Admin, Researcher
from api.params import ResourceId
from api.problems import documented
from cradlepose.datasets import catalogue
from cradlepose.domain.enums import VocabularyKind

router = Router()
TAGS = ["datasets"]


@router.get(
    "/vocabulary-terms",
    tags=TAGS,
    summary="The catalogue's vocabulary terms (researchers)",
    responses=documented(200, 401, 403, 422),
)
def list_terms(
    me: Researcher, kind: Annotated[VocabularyKind | None, Query()] = None
) -> list[catalogue.TermOut]:
    with me.uow() as uow:
        return catalogue.list_terms(uow, kind)


@router.post(
    "/vocabulary-terms",
    tags=TAGS,
    status_code=201,
    summary="Add a vocabulary term (admin)",
    responses=documented(201, 401, 403, 409, 422),
)
def create_term(me: Admin, body: Annotated[catalogue.TermIn, Body()]) -> catalogue.TermOut:
    with me.uow() as uow:
        return catalogue.create_term(uow, body)


@router.get(
    "/vocabulary-terms/<term_id>",
    tags=TAGS,
    summary="One vocabulary term (researchers)",
    responses=documented(200, 401, 403, 404),
)
def get_term(me: Researcher, term_id: ResourceId) -> catalogue.TermOut:
    with me.uow() as uow:
        return catalogue.get_term(uow, term_id)


@router.patch(
    "/vocabulary-terms/<term_id>",
    tags=TAGS,
    summary="Relabel, redescribe or retire a vocabulary term (admin; its vocabulary and code never change)",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def edit_term(
    me: Admin, term_id: ResourceId, body: Annotated[catalogue.TermEdit, Body()]
) -> catalogue.TermOut:
    with me.uow() as uow:
        return catalogue.edit_term(uow, term_id, body)
