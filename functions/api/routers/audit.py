"""The audit log (admins)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from api.dependencies import Admin
from api.params import Cursor, IdFilter, Limit
from api.problems import documented
from cradlepose.accounts import audit_log as audit
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.domain.enums import AuditCategory, AuditStatus
from cradlepose.domain.validation import parse

router = Router()


@router.get(
    "/audit-logs",
    tags=["audit"],
    summary="Search the audit log, newest first (admin)",
    responses=documented(200, 401, 403, 422),
)
def list_audit_logs(
    me: Admin,
    user_id: IdFilter = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    category: Annotated[AuditCategory | None, Query()] = None,
    status: Annotated[AuditStatus | None, Query()] = None,
    resource_type: Annotated[str | None, Query(max_length=50)] = None,
    resource_id: IdFilter = None,
    since: Annotated[dt.datetime | None, Query()] = None,
    until: Annotated[dt.datetime | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[audit.AuditLogOut]:
    filters = parse(
        audit.AuditFilters,
        {
            "user_id": user_id,
            "action": action,
            "category": category,
            "status": status,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "since": since,
            "until": until,
        },
    )
    with me.uow() as uow:
        return audit.list_audit_logs(uow, filters, cursor, limit)
