"""moto's Lambda, adapted to run Cradle's handlers in this process (written for moto 5.2.5).

Why: Step Functions' ASL interpreter in moto (`moto.stepfunctions.parser`) runs a
`arn:aws:states:::lambda:invoke` task by calling the Lambda API of the same moto server. moto's
own Lambda then either runs the function's code in Docker (`LambdaBackend`) or, without Docker,
answers with the event it was given (`LambdaSimpleBackend`). The local stack has no Docker and
wants the real handlers, so every function of the table is registered in moto's Lambda under
its name and this module swaps what an invocation of those functions does.

What it patches, while installed (a context manager, undone on exit):
`moto.awslambda.models.LambdaFunction.invoke(self, body, request_headers, response_headers)`.
For a function it knows, it parses the JSON `body`, calls the handler in this thread, and
returns the JSON result, as Lambda's Invoke answers. An exception becomes Lambda's error payload
`{"errorType", "errorMessage", "stackTrace"}` with `X-Amz-Function-Error: Unhandled`, which the
interpreter turns into the state's error name (`TransientError`, `ResultsUnusable`, …), so the
definition's Retry and Catch behave as in AWS. Functions it does not know keep moto's behaviour.

Requires moto's Docker-less default: `lambda.use_docker` left True so requests reach
`LambdaBackend` (whose `get_function` finds the registered function), never the echoing
`LambdaSimpleBackend`; the patched method never touches Docker.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
import warnings
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import moto
from moto.awslambda import models as lambda_models

log = logging.getLogger(__name__)

WRITTEN_FOR = "5.2.5"
Invoke = Callable[[Any], Any]  # event -> result, the handler with its context bound

_lock = threading.Lock()
_installed: InProcessLambdas | None = None


class InProcessLambdas:
    """Route moto Lambda invocations of the named functions to in-process callables."""

    def __init__(self, functions: Mapping[str, Invoke]) -> None:
        self.functions = dict(functions)  # moto function name -> invoke
        self._original: Callable[..., Any] | None = None

    def __enter__(self) -> InProcessLambdas:
        global _installed  # noqa: PLW0603 - one patch of one moto class per process
        if moto.__version__ != WRITTEN_FOR:
            warnings.warn(
                f"moto_lambda was written for moto {WRITTEN_FOR}, not {moto.__version__}", stacklevel=2
            )
        with _lock:
            if _installed is not None:
                raise RuntimeError("moto's Lambda is already adapted by another local stack in this process")
            self._original = lambda_models.LambdaFunction.invoke
            adapter = self

            def invoke(fn: Any, body: Any, request_headers: Any, response_headers: dict[str, str]) -> bytes:
                target = adapter.functions.get(fn.function_name)
                if target is None:
                    assert adapter._original is not None
                    result: bytes = adapter._original(fn, body, request_headers, response_headers)
                    return result
                return adapter.call(fn.function_name, target, body, response_headers)

            lambda_models.LambdaFunction.invoke = invoke  # type: ignore[method-assign,assignment]
            _installed = self
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        global _installed  # noqa: PLW0603
        with _lock:
            if self._original is not None:
                lambda_models.LambdaFunction.invoke = self._original  # type: ignore[method-assign]
                self._original = None
            _installed = None

    @staticmethod
    def call(name: str, target: Invoke, body: Any, response_headers: dict[str, str]) -> bytes:
        raw = body.decode() if isinstance(body, bytes) else body
        event = json.loads(raw) if raw else {}
        try:
            result = target(event)
        except Exception as error:
            log.warning("function %s failed: %s: %s", name, type(error).__name__, error)
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(
                {
                    "errorType": type(error).__name__,
                    "errorMessage": str(error),
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
            ).encode()
        return json.dumps(result, default=str).encode()
