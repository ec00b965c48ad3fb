"""Reading the audit log (admins): filters on person, action, resource and time, newest first."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cradlepose.common.paging import keyset_page
from cradlepose.common.use_cases import Page
from cradlepose.db.models import AuditLog
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.enums import AuditCategory, AuditStatus


class AuditLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int | None
    action: str
    action_category: AuditCategory
    resource_type: str
    resource_id: int
    resource_name: str | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    change_summary: str | None
    session_id: str | None = Field(description="the sign-in the request's token belongs to (docs/api.md)")
    ip_address: str
    user_agent: str | None
    api_endpoint: str | None
    request_method: str | None
    request_id: str | None
    http_status: int | None
    action_duration_ms: int | None
    processing_time_ms: int | None = Field(description="a job's, chunk's or import's own measure of its work")
    status: AuditStatus
    error_message: str | None
    warning_messages: list[str] | None = Field(
        description="what a person should know of an action that succeeded: an upload's quality issues "
        "or duplicate link, the images a pre-annotation chunk failed on, …"
    )
    created_at: dt.datetime

    @field_validator("ip_address", mode="before")
    @classmethod
    def _text(cls, value: object) -> str:
        return str(value)


class AuditFilters(BaseModel):
    user_id: int | None = None
    action: str | None = Field(default=None, max_length=100)
    category: AuditCategory | None = None
    status: AuditStatus | None = None
    resource_type: str | None = Field(default=None, max_length=50)
    resource_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AuditFilters:
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")
        return self


def list_audit_logs(
    uow: UnitOfWork, filters: AuditFilters, cursor: str | None, limit: int
) -> Page[AuditLogOut]:
    access.require_admin(uow.actor)
    query = sa.select(AuditLog)
    if filters.user_id is not None:
        query = query.where(AuditLog.user_id == filters.user_id)
    if filters.action is not None:
        query = query.where(AuditLog.action == filters.action)
    if filters.category is not None:
        query = query.where(AuditLog.action_category == filters.category)
    if filters.status is not None:
        query = query.where(AuditLog.status == filters.status)
    if filters.resource_type is not None:
        query = query.where(AuditLog.resource_type == filters.resource_type)
    if filters.resource_id is not None:
        query = query.where(AuditLog.resource_id == filters.resource_id)
    if filters.since is not None:
        query = query.where(AuditLog.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditLog.created_at < filters.until)
    return keyset_page(
        uow.session,
        query,
        order_by=[AuditLog.id.desc()],
        cursor=cursor,
        limit=limit,
        to_model=AuditLogOut.model_validate,
    )
