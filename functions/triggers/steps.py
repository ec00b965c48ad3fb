"""What every state-machine task and scheduled job handler shares.

- Powertools around the work (the logger's context, metrics flushed, a trace segment).
- The request context of the step for the audit log (`states:<State>`, the Lambda request id).
- Errors that are worth retrying become `TransientError`, the name the state machine's Retry
  lists (infra/statemachines/batch_pipeline.asl.json): Lambda reports an exception's class name
  as the error, so the name is the contract. Everything else fails the task as itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from cradlepose.adapters.inference import InferenceNotStarted
from cradlepose.common.system import step_context
from cradlepose.domain.actor import RequestContext
from triggers.observability import logger, metrics, tracer

Event = dict[str, Any]
Work = Callable[[Event, RequestContext], dict[str, Any]]
Handler = Callable[[Event, LambdaContext], dict[str, Any]]

RETRYABLE_AWS_CODES = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
     "ServiceUnavailable", "ServiceUnavailableException", "InternalError", "InternalFailure", "SlowDown",
     # Bedrock: the model was busy or still loading
     "ModelTimeoutException", "ModelNotReadyException"}
)  # fmt: skip


class TransientError(Exception):
    """A failure that may pass if the step runs again (a dropped connection, throttling, no GPU yet)."""


@contextmanager
def transient_errors() -> Iterator[None]:
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        raise TransientError(f"database unavailable: {error.orig or error}") from error
    except DBAPIError as error:
        if error.connection_invalidated:
            raise TransientError(f"database connection lost: {error.orig or error}") from error
        raise
    except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as error:
        raise TransientError(f"AWS unreachable: {error}") from error
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in RETRYABLE_AWS_CODES:
            raise TransientError(f"AWS busy: {error}") from error
        raise
    except InferenceNotStarted as error:
        raise TransientError(str(error)) from error


def step(name: str, work: Work, *, endpoint: str = "states", kind: str = "STATES") -> Handler:
    """The Lambda entry point of one step: `work(event, request context)` inside Powertools."""

    @logger.inject_lambda_context(log_event=False)
    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False)
    @functools.wraps(work)
    def handler(event: Event, context: LambdaContext) -> dict[str, Any]:
        logger.append_keys(step=name, batch_id=event.get("batch_id") if isinstance(event, dict) else None)
        with transient_errors():
            return work(event, step_context(f"{endpoint}:{name}", context.aws_request_id, kind=kind))

    return handler
