"""Scheduled jobs (EventBridge Scheduler in the cloud, timers in the local stack)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from cradlepose import metric_names
from cradlepose.accounts import audit_retention
from cradlepose.bootstrap import default_uow_factory
from cradlepose.common.system import SYSTEM
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.enums import PeriodType
from cradlepose.workflow import metrics as performance
from cradlepose.workflow import overdue
from triggers.observability import logger, metrics
from triggers.steps import Event, step


def run_overdue_sweep(
    event: Event, context: RequestContext, uow_factory: UnitOfWorkFactory | None = None
) -> dict[str, Any]:
    """Late assignments of every batch become OVERDUE; the dashboard's gauges are emitted."""
    factory = uow_factory or default_uow_factory()
    marked = overdue.mark_overdue(factory, context)
    gauges = overdue.gauges(factory, context)
    for status, count in gauges.batches_in_status.items():
        # One metric per status, each with its own `status` dimension (the dashboard reads them so).
        with single_metric(
            name=metric_names.BATCHES_IN_STATUS,
            unit=MetricUnit.Count,
            value=count,
            namespace=metric_names.NAMESPACE,
        ) as metric:
            metric.add_dimension(name="service", value=metric_names.TRIGGERS)
            metric.add_dimension(name=metric_names.STATUS_DIMENSION, value=status.value)
    metrics.add_metric(
        name=metric_names.IMAGES_AWAITING_ANNOTATION,
        unit=MetricUnit.Count,
        value=gauges.images_awaiting_annotation,
    )
    metrics.add_metric(
        name=metric_names.IMAGES_AWAITING_VERIFICATION,
        unit=MetricUnit.Count,
        value=gauges.images_awaiting_verification,
    )
    logger.info("overdue sweep", extra={"overdue": len(marked)})
    return {"overdue": marked, **gauges.model_dump(mode="json")}


def run_metrics_rollup(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Nightly: every period (day, week, month, quarter) containing the day that just ended, each
    rewritten whole by `workflow.metrics.rollup` in its own transaction (so a rerun is harmless)."""
    factory = uow_factory or default_uow_factory()
    day = (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=1)
    done = []
    for period in PeriodType:
        with factory(SYSTEM, context) as uow:
            done.append(performance.rollup(uow, period, day).model_dump(mode="json"))
    logger.info("metrics rolled up", extra={"day": day.isoformat(), "periods": len(done)})
    return {"day": day.isoformat(), "rollups": done}


def run_audit_partitions(
    event: Event, context: RequestContext, uow_factory: UnitOfWorkFactory | None = None
) -> dict[str, Any]:
    """Daily: the audit log's month partitions ahead are created and the months past the retention
    period (docs/retention.md) detached and dropped (accounts.audit_retention)."""
    done = audit_retention.maintain_partitions(uow_factory or default_uow_factory(), context)
    if done.rows_in_default:
        logger.warning("audit rows in the default partition", extra={"rows": done.rows_in_default})
    logger.info(
        "audit partitions", extra={"partitions_created": done.created, "partitions_dropped": done.dropped}
    )
    return {"created": done.created, "dropped": done.dropped, "rows_in_default": done.rows_in_default}


overdue_sweep = step("overdue_sweep", run_overdue_sweep, endpoint="schedule", kind="SCHEDULE")
metrics_rollup = step("metrics_rollup", run_metrics_rollup, endpoint="schedule", kind="SCHEDULE")
audit_partitions_job = step("audit_partitions", run_audit_partitions, endpoint="schedule", kind="SCHEDULE")
