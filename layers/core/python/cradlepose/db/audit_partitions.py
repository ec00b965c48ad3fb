"""The audit log's monthly partitions (migration 0012): what the retention job calls, and the names.

`audit_logs` is range-partitioned on `created_at`, one partition per calendar month in UTC
(`audit_logs_y2026m12`) and a default partition that should stay empty. The database keeps the
policy: `cradle_maintain_audit_partitions()` (SECURITY DEFINER, the only one the app role may
execute) creates the partitions of this month and the next MONTHS_AHEAD, and detaches and drops
the month partitions that ended more than KEEP_MONTHS months before this month began. The app
role can neither pick the time nor the period, so it cannot drop a month the policy keeps; no
role can UPDATE, DELETE or TRUNCATE a row in between (the append-only triggers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

# What migration 0012 wrote into cradle_maintain_audit_partitions(); docs/retention.md says why.
MONTHS_AHEAD = 3
KEEP_MONTHS = 72

PARENT = "audit_logs"
DEFAULT_PARTITION = "audit_logs_default"
_PARTITION = re.compile(r"^audit_logs_(y\d{4}m\d{2}|default)$")


def is_partition(table_name: str | None) -> bool:
    """A partition of audit_logs: part of the parent's definition, not a table of the models."""
    return table_name is not None and bool(_PARTITION.match(table_name))


@dataclass(frozen=True)
class Maintenance:
    created: list[str]
    dropped: list[str]
    rows_in_default: int  # rows no month partition took: should be 0 (a month was not created in time)


def maintain(connection: Connection) -> Maintenance:
    """Run the policy now, in the connection's transaction (the caller commits)."""
    rows = connection.execute(
        sa.text("SELECT action, partition_name FROM cradle_maintain_audit_partitions()")
    ).all()
    in_default = connection.scalar(sa.text("SELECT cradle_audit_rows_in_default()"))
    return Maintenance(
        created=[r.partition_name for r in rows if r.action == "created"],
        dropped=[r.partition_name for r in rows if r.action == "dropped"],
        rows_in_default=int(in_default or 0),
    )
