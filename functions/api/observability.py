"""Logger, tracer and metrics: module-level singletons, configured by POWERTOOLS_* variables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="cradle-api")
tracer = Tracer(service="cradle-api")
metrics = Metrics(namespace="Cradle", service="cradle-api")

Handler = TypeVar("Handler", bound=Callable[..., Any])


def traced(handler: Handler) -> Handler:
    """The Lambda handler with the tracer's capture, where tracing is on (the cloud). Disabled (the
    local stack, the benches: POWERTOOLS_TRACE_DISABLED), Powertools still opens and closes a dummy
    X-Ray segment around every request, 23 µs of Python that trace nothing."""
    if tracer.disabled:
        return handler
    captured: Handler = tracer.capture_lambda_handler(capture_response=False)(handler)
    return captured
