"""The background work of datasets and models, on schedules (EventBridge Scheduler; timers locally).

- `pack_collections`: pending collections and dataset exports are streamed into ZIPs in S3.
- `expire_collections`: archives past their retention are deleted and their collections EXPIRED.
- `import_datasets`: checked COCO keypoints archives become batches, all or nothing.
- `ml_jobs`: queued training and inference jobs are started (an ECS GPU task; the local stack's
  CPU runner), running ones followed through their reports in S3.

Each is idempotent and takes its work item by item, each in its own transaction, so a run that
stops half-way leaves nothing half-done and the next run carries on.
"""

from __future__ import annotations

from typing import Any

from cradlepose.adapters.job_runner import JobRunner, runner_from_settings
from cradlepose.adapters.storage import S3Storage, StreamingStorage
from cradlepose.bootstrap import default_uow_factory
from cradlepose.datasets import collections, dataset_imports
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.models import job_worker
from triggers.observability import logger, metrics
from triggers.steps import Event, step


def _factory(uow_factory: UnitOfWorkFactory | None) -> UnitOfWorkFactory:
    return uow_factory or default_uow_factory()


def run_pack_collections(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    storage: StreamingStorage | None = None,
) -> dict[str, Any]:
    finished = collections.pack_pending(_factory(uow_factory), storage or S3Storage(), context=context)
    metrics.add_metric(name="CollectionsPacked", unit="Count", value=len(finished))
    logger.info("collections packed", extra={"collections": finished})
    return {"packed": finished}


def run_expire_collections(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    storage: StreamingStorage | None = None,
) -> dict[str, Any]:
    expired = collections.expire_due(_factory(uow_factory), storage or S3Storage(), context=context)
    logger.info("collections expired", extra={"collections": expired})
    return {"expired": expired}


def run_import_datasets(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    storage: StreamingStorage | None = None,
) -> dict[str, Any]:
    finished = dataset_imports.process_pending(_factory(uow_factory), storage or S3Storage(), context=context)
    logger.info("imports processed", extra={"imports": finished})
    return {"imported": finished}


def run_ml_jobs(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    storage: StreamingStorage | None = None,
    runner: JobRunner | None = None,
) -> dict[str, Any]:
    result = job_worker.run(
        _factory(uow_factory), storage or S3Storage(), runner or runner_from_settings(), context=context
    )
    metrics.add_metric(name="MlJobsStarted", unit="Count", value=len(result.started))
    logger.info("ml jobs", extra={"started": result.started, "finished": result.finished})
    return {"started": result.started, "updated": result.updated, "finished": result.finished}


pack_collections = step("pack_collections", run_pack_collections, endpoint="schedule", kind="SCHEDULE")
expire_collections = step("expire_collections", run_expire_collections, endpoint="schedule", kind="SCHEDULE")
import_datasets = step("import_datasets", run_import_datasets, endpoint="schedule", kind="SCHEDULE")
ml_jobs = step("ml_jobs", run_ml_jobs, endpoint="schedule", kind="SCHEDULE")
