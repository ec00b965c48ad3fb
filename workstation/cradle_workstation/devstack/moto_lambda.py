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
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from moto.awslambda import models as lambda_models

from cradle_workstation.devstack.moto_patches import MotoPatch

log = logging.getLogger(__name__)

Invoke = Callable[[Any], Any]  # event -> result, the handler with its context bound


class InProcessLambdas(MotoPatch):
    """Route moto Lambda invocations of the named functions to in-process callables."""

    written_for = "5.2.5"
    refusal = "moto's Lambda is already adapted by another local stack in this process"

    def __init__(self, functions: Mapping[str, Invoke]) -> None:
        super().__init__()
        self.functions = dict(functions)  # moto function name -> invoke

    def _install(self) -> None:
        original: Callable[..., Any] = lambda_models.LambdaFunction.invoke
        adapter = self

        def invoke(fn: Any, body: Any, request_headers: Any, response_headers: dict[str, str]) -> bytes:
            target = adapter.functions.get(fn.function_name)
            if target is None:
                result: bytes = original(fn, body, request_headers, response_headers)
                return result
            return adapter.call(fn.function_name, target, body, response_headers)

        self.replace(lambda_models.LambdaFunction, "invoke", invoke)

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
