"""The audit log's retention: month partitions made ahead, months past the period dropped.

The database holds the policy (migration 0012, cradlepose.db.audit_partitions): this runs it now,
as whoever calls it (the app login in the cloud and locally), and audits a run that changed
something in the same transaction. Called by the scheduled function `audit_partitions` and by
`cradle db audit-partitions`.
"""

from __future__ import annotations

from cradlepose.common.system import SYSTEM
from cradlepose.db import audit_partitions
from cradlepose.db.audit_partitions import Maintenance
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.enums import AuditCategory, AuditStatus


def maintain_partitions(uow_factory: UnitOfWorkFactory, context: RequestContext) -> Maintenance:
    """Rows found in the default partition (a month that was not created in time) make the audit
    row PARTIAL with a warning: their month's partition cannot be created until an operator moves
    them (docs/retention.md)."""
    with uow_factory(SYSTEM, context) as uow:
        done = audit_partitions.maintain(uow.session.connection())
        if done.created or done.dropped or done.rows_in_default:
            uow.audit(
                AuditEntry(
                    action="AUDIT_PARTITIONS_MAINTAINED",
                    category=AuditCategory.SYSTEM,
                    resource_type="AuditLog",
                    resource_id=0,
                    new_values={"created": done.created, "dropped": done.dropped},
                    summary=f"created {len(done.created)}, dropped {len(done.dropped)} month partitions "
                    f"(kept: {audit_partitions.KEEP_MONTHS} months)",
                    status=AuditStatus.PARTIAL if done.rows_in_default else AuditStatus.SUCCESS,
                    warnings=[
                        f"{done.rows_in_default} audit rows are in {audit_partitions.DEFAULT_PARTITION}"
                    ]
                    if done.rows_in_default
                    else [],
                )
            )
        uow.commit()
    return done
