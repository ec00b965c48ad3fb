"""A recorder of the AWS calls each principal makes, for the test that checks them against IAM.

Off unless installed: nothing in a Lambda or the container records anything in the cloud. While
installed, every botocore client created in this process gets a `before-parameter-build` hook
(botocore's event with the call's own parameters, once per API call, retries not counted), which writes
(principal, service signing name, operation) to a JSON-lines file. Presigned URLs and POSTs make
no call and are not recorded.

The principal is whoever the cloud would run the code as: the local stack sets it around each
function it invokes (`acting_as`), threads the code starts through a ThreadPoolExecutor inherit
it, and a whole process (the inference container, started by the local stack) takes it from
$CRADLE_AWS_PRINCIPAL through `activate_from_env`. A call with no principal is recorded with the
module that made it (`origin`): the test accepts those only from the harness (the local stack
playing AWS, moto itself, the tests, the demo as a user), and fails loudly on any other.
"""

from __future__ import annotations

import contextvars
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import botocore.session

RECORD_ENV = "CRADLE_RECORD_AWS_CALLS"  # the JSON-lines file to append calls to
PRINCIPAL_ENV = "CRADLE_AWS_PRINCIPAL"  # the principal of every call of this process
TASK_PRINCIPAL = "inference_task"  # the GPU container (chunks and ML jobs), with the ECS task role
_HOOK_ID = "cradle-aws-call-log"
# Frames of these modules are the plumbing between the caller and the call, never its origin.
_PLUMBING = ("botocore", "boto3", "s3transfer", "concurrent", "threading", "contextlib", __name__)

_principal: contextvars.ContextVar[str | None] = contextvars.ContextVar("cradle_aws_principal", default=None)
_process_principal: str | None = None
_lock = threading.Lock()
_recorder: Recorder | None = None


@dataclass(frozen=True)
class AwsCall:
    principal: str | None  # a function of infra/functions.toml, or the container; None: unattributed
    service: str  # the signing name (the IAM prefix): s3, states, cognito-idp, ecs, bedrock, …
    operation: str  # the API operation: PutObject, StartExecution, AdminAddUserToGroup, …
    bucket: str | None = None  # S3 calls: the bucket
    key: str | None = None  # S3 object calls: the key
    target: str | None = None  # other resources named in the call (a state machine ARN)
    origin: str = ""  # unattributed calls: the module that made it
    origin_chain: tuple[str, ...] = ()  # unattributed calls: every module on the stack


@contextmanager
def acting_as(principal: str) -> Iterator[None]:
    """Attribute the calls made in this block (and in threads it submits work to) to `principal`."""
    token = _principal.set(principal)
    try:
        yield
    finally:
        _principal.reset(token)


def current_principal() -> str | None:
    return _principal.get() or _process_principal


class Recorder:
    """Appends one JSON line per call to `path`; several processes may share one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, call: AwsCall) -> None:
        line = json.dumps(asdict(call), sort_keys=True) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line)


def read_calls(path: Path) -> list[AwsCall]:
    if not path.exists():
        return []
    calls = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            data["origin_chain"] = tuple(data.get("origin_chain", ()))
            calls.append(AwsCall(**data))
    return calls


def install(path: Path) -> Recorder:
    """Record every call of every botocore client created from now on; also sets $CRADLE_RECORD_AWS_CALLS
    so that processes started from here record into the same file."""
    global _recorder  # noqa: PLW0603 - one recorder per process
    with _lock:
        if _recorder is not None:
            raise RuntimeError(f"AWS calls are already recorded to {_recorder.path}")
        _recorder = Recorder(path)
        os.environ[RECORD_ENV] = str(path)
        _patch()
    _forget_clients()
    return _recorder


def uninstall() -> None:
    global _recorder  # noqa: PLW0603
    with _lock:
        _recorder = None
        os.environ.pop(RECORD_ENV, None)
        _unpatch()
    _forget_clients()


def activate_from_env() -> bool:
    """For a process started by the local stack: record if $CRADLE_RECORD_AWS_CALLS names a file,
    every call as $CRADLE_AWS_PRINCIPAL. Does nothing (and costs nothing) otherwise."""
    global _process_principal  # noqa: PLW0603
    path = os.environ.get(RECORD_ENV)
    if not path:
        return False
    _process_principal = os.environ.get(PRINCIPAL_ENV) or None
    with _lock:
        global _recorder  # noqa: PLW0603
        if _recorder is None:
            _recorder = Recorder(Path(path))
            _patch()
    return True


# ------------------------------------------------------------------ the hooks

_original_create_client: Callable[..., Any] | None = None
_original_submit: Callable[..., Any] | None = None


def _patch() -> None:
    global _original_create_client, _original_submit  # noqa: PLW0603
    if _original_create_client is not None:
        return
    _original_create_client = botocore.session.Session.create_client
    _original_submit = ThreadPoolExecutor.submit
    create, submit = _original_create_client, _original_submit

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = create(self, *args, **kwargs)
        client.meta.events.register("before-parameter-build", _before_call, unique_id=_HOOK_ID)
        return client

    def submit_in_context(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        context = contextvars.copy_context()
        return submit(self, context.run, fn, *args, **kwargs)

    botocore.session.Session.create_client = create_client
    ThreadPoolExecutor.submit = submit_in_context  # type: ignore[method-assign]


def _unpatch() -> None:
    global _original_create_client, _original_submit  # noqa: PLW0603
    if _original_create_client is not None:
        botocore.session.Session.create_client = _original_create_client
        ThreadPoolExecutor.submit = _original_submit  # type: ignore[method-assign,assignment]
    _original_create_client = _original_submit = None


def _forget_clients() -> None:
    """Clients created before the hooks were in place would escape them."""
    from cradlepose.adapters import aws  # noqa: PLC0415 - aws imports settings; keep this module light

    aws.reset_clients()


def _before_call(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    recorder = _recorder
    if recorder is None or context.get("is_presign_request"):  # a URL is signed, no call is made
        return
    principal = current_principal()
    chain: tuple[str, ...] = ()
    if principal is None:
        chain = _callers()
    service = model.service_model.signing_name
    recorder.record(
        AwsCall(
            principal=principal,
            service=service,
            operation=model.name,
            bucket=params.get("Bucket") if service == "s3" else None,
            key=params.get("Key") if service == "s3" else None,
            target=_target(params),
            origin=chain[0] if chain else "",
            origin_chain=chain,
        )
    )


def _target(params: dict[str, Any]) -> str | None:
    """What else the call names: a state machine, a task definition, a copy's source "bucket/key"."""
    source = params.get("CopySource")
    if isinstance(source, dict):
        return f"{source.get('Bucket')}/{source.get('Key')}"
    found = params.get("stateMachineArn") or params.get("taskDefinition") or source
    return str(found) if found else None


def _callers() -> tuple[str, ...]:
    """The modules on the stack, innermost first, without botocore's and the thread machinery's."""
    modules: list[str] = []
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", "?"))
        if not module.startswith(_PLUMBING) and (not modules or modules[-1] != module):
            modules.append(module)
        frame = frame.f_back
    return tuple(modules)
