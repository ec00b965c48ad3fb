"""The analysis report's task steps (infra/statemachines/analysis_report.asl.json).

Each handler reads the job id from its state's Payload and calls one stage of
reports.analysis; a stage whose output is already stored answers with it, so a retried or
replayed task changes nothing. A writer whose answer could not be used is retried like any
transient failure: a model's next answer may fit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from cradlepose.adapters.storage import S3Storage, Storage
from cradlepose.adapters.text_writers import TextWriter, WriterFailed, writer_from_settings
from cradlepose.bootstrap import default_uow_factory
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.step_errors import describe_error
from cradlepose.reports import analysis
from triggers.observability import logger
from triggers.steps import Event, TransientError, step


class _JobInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    job_id: uuid.UUID


class _FailureInput(_JobInput):
    error: dict[str, Any] | None = None


def _uow(uow_factory: UnitOfWorkFactory | None) -> UnitOfWorkFactory:
    return uow_factory or default_uow_factory()


def _written(stage: Callable[[], analysis.StageOutput]) -> dict[str, Any]:
    try:
        output = stage()
    except WriterFailed as error:
        raise TransientError(f"the text writer's answer was unusable: {error}") from error
    logger.info(
        "stage", extra={"stage": output.stage.value, "ran": output.ran, "status": output.status.value}
    )
    return output.model_dump(mode="json")


def run_segment(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    storage: Storage | None = None,
) -> dict[str, Any]:
    job_id = _JobInput.model_validate(event).job_id
    return _written(lambda: analysis.segment(_uow(uow_factory), storage or S3Storage(), job_id, context))


def run_convert(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    storage: Storage | None = None,
    writer: TextWriter | None = None,
) -> dict[str, Any]:
    job_id = _JobInput.model_validate(event).job_id
    return _written(
        lambda: analysis.convert(
            _uow(uow_factory), storage or S3Storage(), writer or writer_from_settings(), job_id, context
        )
    )


def run_enhance(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    writer: TextWriter | None = None,
) -> dict[str, Any]:
    job_id = _JobInput.model_validate(event).job_id
    return _written(
        lambda: analysis.enhance(_uow(uow_factory), writer or writer_from_settings(), job_id, context)
    )


def run_record_failure(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    storage: Storage | None = None,
) -> dict[str, Any]:
    data = _FailureInput.model_validate(event)
    job = analysis.record_failure(
        _uow(uow_factory), data.job_id, describe_error(data.error), "", context, storage or S3Storage()
    )
    logger.warning("analysis failed", extra={"job_id": str(job.job_id), "error": job.error_message})
    return job.model_dump(mode="json")


segment = step("Segment", run_segment)
convert = step("Convert", run_convert)
enhance = step("Enhance", run_enhance)
record_failure = step("RecordFailure", run_record_failure)
