"""The catalogue of datasets (seed 002): vocabulary terms, the terms of each dataset, and search.

Every dataset is described with seed 002's vocabularies: one anatomical area, any number of
modalities, task types and tags (terms named by their `code`). Search takes free text (over the
name, description, source and the names of the dataset's terms) and term filters.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.common.use_cases import audit, commit_or_conflict, snapshot
from cradlepose.db.models import Dataset, DatasetTerm, VocabularyTerm
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.bounds import NOT_NULL, Patch
from cradlepose.domain.enums import AuditCategory, DatasetOrigin, VocabularyKind
from cradlepose.domain.errors import Conflict, FieldProblem, NotFound, ValidationFailed

CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class TermOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: VocabularyKind
    code: str
    name: str
    description: str | None
    is_active: bool


class TermIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: VocabularyKind
    code: str = Field(min_length=1, max_length=50, pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)


class TermEdit(Patch):
    """A term's label and description, or its retirement. Its vocabulary and code never change:
    datasets and saved searches name a term by its code."""

    name: Annotated[str | None, NOT_NULL] = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    is_active: Annotated[bool | None, NOT_NULL] = Field(
        default=None, description="false retires the term: datasets keep it, new descriptions cannot use it"
    )


_EDITABLE = ("name", "description", "is_active")


class CatalogueTerms(BaseModel):
    """A dataset's description in seed 002's vocabularies, by term code."""

    model_config = ConfigDict(extra="forbid")

    anatomical_area: str | None = Field(default=None, max_length=50)
    modalities: list[str] = Field(default_factory=list, max_length=20)
    task_types: list[str] = Field(default_factory=list, max_length=20)
    tags: list[str] = Field(default_factory=list, max_length=50)


class CatalogueQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=200, description="free text over the catalogue")
    anatomical_area: str | None = None
    modality: str | None = None
    task_type: str | None = None
    tag: str | None = None
    origin: DatasetOrigin | None = None
    schema_id: int | None = None
    include_inactive: bool = False


_FIELD_KIND = {
    "modalities": VocabularyKind.MODALITY,
    "task_types": VocabularyKind.TASK_TYPE,
    "tags": VocabularyKind.TAG,
}


def list_terms(uow: UnitOfWork, kind: VocabularyKind | None) -> list[TermOut]:
    access.require_researcher(uow.actor)
    query = sa.select(VocabularyTerm).order_by(VocabularyTerm.kind, VocabularyTerm.code)
    if kind is not None:
        query = query.where(VocabularyTerm.kind == kind)
    return [TermOut.model_validate(t) for t in uow.session.scalars(query)]


def create_term(uow: UnitOfWork, command: TermIn) -> TermOut:
    access.require_admin(uow.actor)
    exists = uow.session.scalar(
        sa.select(VocabularyTerm.id).where(
            VocabularyTerm.kind == command.kind, VocabularyTerm.code == command.code
        )
    )
    if exists is not None:
        raise Conflict(f"the {command.kind.value} vocabulary already has {command.code!r}")
    term = VocabularyTerm(**command.model_dump())
    uow.session.add(term)
    uow.flush()
    audit(
        uow,
        "VOCABULARY_TERM_CREATED",
        AuditCategory.SYSTEM,
        "VocabularyTerm",
        term.id,
        f"{term.kind.value}:{term.code}",
        new=command.model_dump(mode="json"),
    )
    commit_or_conflict(uow, f"the {command.kind.value} vocabulary got {command.code!r} at the same time")
    return TermOut.model_validate(term)


def get_term(uow: UnitOfWork, term_id: int) -> TermOut:
    access.require_researcher(uow.actor)
    return TermOut.model_validate(_term(uow, term_id))


def edit_term(uow: UnitOfWork, term_id: int, command: TermEdit) -> TermOut:
    """Relabel, redescribe, retire or bring back a term; the audit row holds old and new values."""
    access.require_admin(uow.actor)
    values = command.model_dump(exclude_unset=True)
    if not values:
        raise ValidationFailed.single("(body)", "nothing to change")
    term = _term(uow, term_id, for_update=True)
    if not term.is_active and not values.get("is_active", False):
        # A retired term reads as it was when it was retired; bring it back to change it.
        raise Conflict(f"term {term.kind.value}:{term.code} is retired: set is_active true to edit it")
    before = snapshot(term, _EDITABLE)
    for name, value in values.items():
        setattr(term, name, value)
    after = snapshot(term, _EDITABLE)
    old = {k: v for k, v in before.items() if after[k] != v}
    if old:
        retired = before["is_active"] and not term.is_active
        audit(
            uow,
            "VOCABULARY_TERM_RETIRED" if retired else "VOCABULARY_TERM_UPDATED",
            AuditCategory.SYSTEM,
            "VocabularyTerm",
            term.id,
            f"{term.kind.value}:{term.code}",
            old=old,
            new={k: after[k] for k in old},
        )
        uow.commit()
    return TermOut.model_validate(term)


def _term(uow: UnitOfWork, term_id: int, *, for_update: bool = False) -> VocabularyTerm:
    term = uow.session.get(VocabularyTerm, term_id, with_for_update=for_update)
    if term is None:
        raise NotFound("VocabularyTerm", term_id)
    return term


def resolve(uow: UnitOfWork, terms: CatalogueTerms, prefix: str = "catalogue") -> list[VocabularyTerm]:
    """The active terms named, or ValidationFailed naming each unknown code."""
    wanted: list[tuple[str, VocabularyKind, str]] = []
    if terms.anatomical_area is not None:
        wanted.append((f"{prefix}.anatomical_area", VocabularyKind.ANATOMICAL_AREA, terms.anatomical_area))
    for field, kind in _FIELD_KIND.items():
        wanted += [(f"{prefix}.{field}[{i}]", kind, code) for i, code in enumerate(getattr(terms, field))]
    if not wanted:
        return []
    rows = uow.session.scalars(
        sa.select(VocabularyTerm).where(
            VocabularyTerm.is_active, VocabularyTerm.code.in_({code for _, _, code in wanted})
        )
    ).all()
    by_key = {(t.kind, t.code): t for t in rows}
    problems = [
        FieldProblem(where, f"no active {kind.value} term has code {code!r}")
        for where, kind, code in wanted
        if (kind, code) not in by_key
    ]
    if problems:
        raise ValidationFailed(problems)
    return list({by_key[(kind, code)].id: by_key[(kind, code)] for _, kind, code in wanted}.values())


def set_terms(uow: UnitOfWork, dataset: Dataset, terms: list[VocabularyTerm]) -> None:
    uow.session.execute(sa.delete(DatasetTerm).where(DatasetTerm.dataset_id == dataset.id))
    for term in terms:
        uow.session.add(DatasetTerm(dataset_id=dataset.id, term_id=term.id))
    uow.flush()


def terms_of(uow: UnitOfWork, dataset_ids: list[int]) -> dict[int, CatalogueTerms]:
    result: dict[int, dict[str, Any]] = defaultdict(lambda: {"modalities": [], "task_types": [], "tags": []})
    if dataset_ids:
        rows = uow.session.execute(
            sa.select(DatasetTerm.dataset_id, VocabularyTerm.kind, VocabularyTerm.code)
            .join(VocabularyTerm, VocabularyTerm.id == DatasetTerm.term_id)
            .where(DatasetTerm.dataset_id.in_(dataset_ids))
            .order_by(VocabularyTerm.kind, VocabularyTerm.code)
        ).all()
        field_of = {kind: field for field, kind in _FIELD_KIND.items()}
        for dataset_id, kind, code in rows:
            if kind is VocabularyKind.ANATOMICAL_AREA:
                result[dataset_id]["anatomical_area"] = code
            else:
                result[dataset_id][field_of[kind]].append(code)
    return {i: CatalogueTerms(**result[i]) for i in dataset_ids}


def matching(query: CatalogueQuery) -> sa.Select[Any]:
    """The ids of the datasets the query finds."""
    statement = sa.select(Dataset.id)
    if not query.include_inactive:
        statement = statement.where(Dataset.is_active)
    if query.origin is not None:
        statement = statement.where(Dataset.origin == query.origin)
    if query.schema_id is not None:
        statement = statement.where(Dataset.keypoint_schema_id == query.schema_id)
    for kind, code in (
        (VocabularyKind.ANATOMICAL_AREA, query.anatomical_area),
        (VocabularyKind.MODALITY, query.modality),
        (VocabularyKind.TASK_TYPE, query.task_type),
        (VocabularyKind.TAG, query.tag),
    ):
        if code is not None:
            statement = statement.where(Dataset.id.in_(_with_term(kind, code)))
    text = (query.text or "").strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        named = (
            sa.select(DatasetTerm.dataset_id)
            .join(VocabularyTerm, VocabularyTerm.id == DatasetTerm.term_id)
            .where(sa.or_(VocabularyTerm.name.ilike(pattern), VocabularyTerm.code.ilike(pattern)))
        )
        statement = statement.where(
            sa.or_(
                Dataset.name.ilike(pattern),
                Dataset.description.ilike(pattern),
                Dataset.source_url.ilike(pattern),
                Dataset.id.in_(named),
            )
        )
    return statement


def _with_term(kind: VocabularyKind, code: str) -> sa.Select[Any]:
    return (
        sa.select(DatasetTerm.dataset_id)
        .join(VocabularyTerm, VocabularyTerm.id == DatasetTerm.term_id)
        .where(VocabularyTerm.kind == kind, VocabularyTerm.code == code)
    )
