"""Pieces every service uses: pages (`common.paging` fills them), and snapshots for the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, PlainSerializer, WithJsonSchema

from cradlepose.db.base import Base
from cradlepose.db.errors import UNIQUE_VIOLATION, sqlstate
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain.audit import AuditEntry, jsonable
from cradlepose.domain.enums import AuditCategory, AuditStatus
from cradlepose.domain.errors import Conflict

T = TypeVar("T")

# Decimal columns go out as JSON numbers (pydantic would write strings).
DecimalNumber = Annotated[
    Decimal, PlainSerializer(float, return_type=float, when_used="json"), WithJsonSchema({"type": "number"})
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    """One page of a list. Pass `next_cursor` back as `cursor` to get the next one."""

    items: list[T]
    next_cursor: str | None = None


def tenths(value: float) -> Decimal:
    """A score given as a JSON number, kept to one decimal place as the columns store it."""
    return Decimal(str(round(value, 1)))


def snapshot(entity: Base, fields: Sequence[str]) -> dict[str, Any]:
    """The named column values of an entity, JSON-ready, for old/new values in the audit log."""
    return {name: jsonable(getattr(entity, name)) for name in fields}


def audit(
    uow: UnitOfWork,
    action: str,
    category: AuditCategory,
    resource_type: str,
    resource_id: int,
    resource_name: str | None = None,
    *,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    summary: str | None = None,
    batch_context: dict[str, Any] | None = None,
    annotation_context: dict[str, Any] | None = None,
    status: AuditStatus = AuditStatus.SUCCESS,
    error: str | None = None,
    processing_time_ms: int | None = None,
) -> None:
    """Add the audit row of one change (or one failure) to the unit of work's transaction."""
    uow.audit(
        AuditEntry(
            action=action,
            category=category,
            resource_type=resource_type,
            resource_id=resource_id,
            resource_name=resource_name,
            old_values=old,
            new_values=new,
            summary=summary,
            batch_context=batch_context,
            annotation_context=annotation_context,
            status=status,
            error_message=error,
            processing_time_ms=processing_time_ms,
        )
    )


def commit_or_conflict(uow: UnitOfWork, clash: str) -> None:
    """Commit; if a unique index refused the change (a concurrent twin), raise Conflict(clash)."""
    try:
        uow.commit()
    except Exception as error:
        if sqlstate(error) == UNIQUE_VIOLATION:
            raise Conflict(clash) from None
        raise
