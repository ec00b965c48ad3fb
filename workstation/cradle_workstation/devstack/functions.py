"""The function table's handlers, called in this process as Lambda would call them.

The local stack invokes the same `module.function` the CDK app deploys, with the code folder
(`functions/`) on sys.path and a context object carrying what Powertools reads. Nothing is
imported until a function is first called, so the environment the stack sets is in place.
"""

from __future__ import annotations

import importlib
import sys
import threading
import uuid
from collections.abc import Callable
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID

from cradle_workstation.devstack.apigw import LambdaContext
from cradlepose import function_table
from cradlepose.adapters.aws_call_log import acting_as

ACCOUNT = DEFAULT_ACCOUNT_ID  # the account moto puts every resource in
Handler = Callable[[Any, Any], Any]


def one_at_a_time(handler: Handler) -> Handler:
    """The handler, called by one thread at a time, as one Lambda execution environment runs it.

    The gateway's HTTP server is threaded and a browser sends requests in parallel, but the API's
    Powertools resolver keeps the request being handled (its event, hence the caller's claims) on
    the module-level app object: two requests at once would read each other's.
    """
    lock = threading.Lock()

    def call(event: Any, context: Any) -> Any:
        with lock:
            return handler(event, context)

    return call


def function_name(name: str) -> str:
    """The local Lambda name of a table entry (the cloud's is `cradle-<stage>-<name>`)."""
    return f"cradle-local-{name.replace('_', '-')}"


def _attributed(name: str, handler: Handler) -> Handler:
    """The handler, its AWS calls made as the function `name` (its own role in the cloud)."""

    def call(event: Any, context: Any) -> Any:
        with acting_as(name):
            return handler(event, context)

    return call


class InProcessFunctions:
    def __init__(self, table: function_table.FunctionTable | None = None, region: str = "us-east-1") -> None:
        self.table = table or function_table.load()
        self.region = region
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{function_name(name)}"

    def handler(self, name: str) -> Handler:
        with self._lock:
            if name not in self._handlers:
                spec = self.table.get(name)
                code = str(function_table.DEFAULT_PATH.parents[1] / spec.code)
                if code not in sys.path:
                    sys.path.insert(0, code)
                module = importlib.import_module(spec.module)
                self._handlers[name] = _attributed(name, getattr(module, spec.function))
            return self._handlers[name]

    def invoke(self, name: str, event: Any) -> Any:
        spec = self.table.get(name)
        context = LambdaContext(
            function_name=function_name(name),
            memory_limit_in_mb=spec.memory_mb,
            invoked_function_arn=self.arn(name),
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{function_name(name)}",
        )
        return self.handler(name)(event, context)
