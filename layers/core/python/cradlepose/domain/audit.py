"""What the audit log records about one action, independent of how it is stored."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cradlepose.domain.enums import AuditCategory, AuditStatus


@dataclass(frozen=True)
class AuditEntry:
    action: str
    category: AuditCategory
    resource_type: str
    resource_id: int
    resource_name: str | None = None
    old_values: dict[str, Any] | None = None
    new_values: dict[str, Any] | None = None
    summary: str | None = None
    status: AuditStatus = AuditStatus.SUCCESS
    error_message: str | None = None
    http_status: int | None = None
    warnings: list[str] = field(default_factory=list)
    batch_context: dict[str, Any] | None = None
    annotation_context: dict[str, Any] | None = None
    system_context: dict[str, Any] | None = None
    # How long the work this row records took where it ran (a job, a chunk, an import), when known.
    processing_time_ms: int | None = None


def jsonable(value: Any) -> Any:
    """Values as they go into the JSONB columns of the audit log."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values differ, before and after."""
    keys = [k for k in new if old.get(k) != new.get(k)]
    return {k: jsonable(old.get(k)) for k in keys}, {k: jsonable(new[k]) for k in keys}
