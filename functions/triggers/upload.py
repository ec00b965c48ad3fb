"""S3 ObjectCreated (through EventBridge) → register the uploaded image.

Thin: parse the event, call `intake.uploads.register_upload`, start the batch pipeline when
the last expected image arrived, count what happened. Safe to run twice for the same event.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from cradlepose import metric_names
from cradlepose.adapters.storage import S3Storage, Storage
from cradlepose.adapters.workflow import StepFunctionsWorkflow, Workflow
from cradlepose.bootstrap import default_uow_factory
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.uploads import loggable_key
from cradlepose.intake import uploads
from cradlepose.preannotation import pipeline
from triggers.observability import logger, metrics, tracer

_METRIC = {
    uploads.Outcome.REGISTERED: metric_names.IMAGES_REGISTERED,
    uploads.Outcome.REJECTED: metric_names.UPLOADS_REJECTED,
    uploads.Outcome.DUPLICATE: "DuplicateUploadEvents",
    uploads.Outcome.IGNORED: "IgnoredUploadEvents",
}


def handle(
    event: S3EventBridgeNotificationEvent,
    uow_factory: UnitOfWorkFactory | None = None,
    storage: Storage | None = None,
    workflow: Workflow | None = None,
) -> dict[str, Any]:
    """The work of one event; adapters are parameters so tests can pass their own."""
    uow_factory = uow_factory or default_uow_factory()
    storage = storage or S3Storage()
    key = event.detail.object.key
    # The key ends with the uploader's file name, which may name a patient: logs get it without.
    logger.append_keys(object_key=loggable_key(key))
    result = uploads.register_upload(uow_factory, storage, key)
    metrics.add_metric(name=_METRIC[result.outcome], unit="Count", value=1)
    logger.info(
        "upload handled",
        extra={"outcome": result.outcome.value, "reason": result.reason, "image_id": result.image_id},
    )
    execution = None
    if result.run_to_start is not None:
        execution = pipeline.start_run(uow_factory, workflow or StepFunctionsWorkflow(), result.run_to_start)
    return {
        "outcome": result.outcome.value,
        "key": key,
        "image_id": result.image_id,
        "reason": result.reason,
        "pipeline_execution": execution,
    }


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=S3EventBridgeNotificationEvent)
def lambda_handler(event: S3EventBridgeNotificationEvent, context: LambdaContext) -> dict[str, Any]:
    return handle(event)
