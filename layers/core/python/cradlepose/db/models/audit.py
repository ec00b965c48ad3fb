from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, pg_enum
from cradlepose.domain.enums import AuditCategory, AuditStatus


class AuditLog(Base):
    """Append-only: the database rejects UPDATE, DELETE and TRUNCATE on this table (see migration).

    Partitioned by month on `created_at` (migration 0012; cradlepose.db.audit_partitions): the
    primary key is (id, created_at), as a partitioned table's must include the partition key;
    `id` alone stays unique in practice (one identity sequence for every partition).

    Beyond the seed: `request_id` (the API Gateway / Lambda request id that ties the row to
    the logs and traces) and `http_status` (what the caller was answered).
    """

    __tablename__ = "audit_logs"

    id: Mapped[BigIntPK]

    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(sa.String(100))
    action_category: Mapped[AuditCategory] = mapped_column(pg_enum(AuditCategory, "audit_category"))

    resource_type: Mapped[str] = mapped_column(sa.String(50))
    resource_id: Mapped[int] = mapped_column(sa.BigInteger)
    resource_name: Mapped[str | None] = mapped_column(sa.String(255))

    old_values: Mapped[dict[str, Any] | None]
    new_values: Mapped[dict[str, Any] | None]
    change_summary: Mapped[str | None] = mapped_column(sa.Text)

    session_id: Mapped[str | None] = mapped_column(sa.String(100))
    ip_address: Mapped[str] = mapped_column(pg.INET)
    user_agent: Mapped[str | None] = mapped_column(sa.Text)
    api_endpoint: Mapped[str | None] = mapped_column(sa.String(200))
    request_method: Mapped[str | None] = mapped_column(sa.String(10))
    request_id: Mapped[str | None] = mapped_column(sa.String(100))
    http_status: Mapped[int | None] = mapped_column(sa.SmallInteger)

    action_duration_ms: Mapped[int | None]
    processing_time_ms: Mapped[int | None]

    status: Mapped[AuditStatus] = mapped_column(
        pg_enum(AuditStatus, "audit_status"),
        server_default=AuditStatus.SUCCESS.value,
        default=AuditStatus.SUCCESS,
    )
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    warning_messages: Mapped[list[Any] | None]

    batch_context: Mapped[dict[str, Any] | None]
    annotation_context: Mapped[dict[str, Any] | None]
    system_context: Mapped[dict[str, Any] | None]

    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), primary_key=True
    )

    __table_args__ = (
        sa.Index("idx_audit_user_action", "user_id", "action"),
        sa.Index("idx_audit_resource", "resource_type", "resource_id"),
        sa.Index("idx_audit_created", "created_at"),
        sa.Index("idx_audit_action_category", "action_category"),
        sa.Index("idx_audit_status", "status"),
        sa.CheckConstraint("action_duration_ms >= 0", name="action_duration_ms_non_negative"),
        sa.CheckConstraint("processing_time_ms >= 0", name="processing_time_ms_non_negative"),
        sa.CheckConstraint("http_status BETWEEN 100 AND 599", name="http_status_range"),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )
