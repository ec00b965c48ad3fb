"""`cradle admin create --stack`: the first admin of a deployed stage, through its bootstrap function
(the operator's AWS credentials; CloudFormation and Lambda stubbed with botocore's Stubber)."""

from __future__ import annotations

import io
import json
from functools import partial
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from rich.console import Console
from typer.testing import CliRunner

from cradle_workstation.cli import admin, cloud_admin
from cradle_workstation.cli.main import app
from cradlepose.accounts import users

pytestmark = pytest.mark.unit

STACK = "Cradle-dev"
FUNCTION = "cradle-dev-bootstrap-admin"
PAYLOAD = {"username": "alice", "email": "alice@hospital.example"}


def _payload(value: Any) -> StreamingBody:
    data = json.dumps(value).encode()
    return StreamingBody(io.BytesIO(data), len(data))


def _clients(
    answer: Any, *, function_error: bool = False, outputs: bool = True
) -> tuple[Any, Any, list[Stubber]]:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    lambda_client = boto3.client("lambda", region_name="us-east-1")
    stacks = Stubber(cloudformation)
    stack: dict[str, Any] = {
        "StackName": STACK,
        "CreationTime": "2026-01-01T00:00:00Z",
        "StackStatus": "CREATE_COMPLETE",
    }
    if outputs:
        stack["Outputs"] = [{"OutputKey": "FunctionBootstrapAdmin", "OutputValue": FUNCTION}]
    stacks.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": STACK})
    invocations = Stubber(lambda_client)
    response: dict[str, Any] = {"StatusCode": 200, "Payload": _payload(answer)}
    if function_error:
        response["FunctionError"] = "Unhandled"
    invocations.add_response(
        "invoke",
        response,
        {
            "FunctionName": FUNCTION,
            "InvocationType": "RequestResponse",
            "Payload": json.dumps(PAYLOAD).encode(),
        },
    )
    stacks.activate()
    invocations.activate()
    return cloudformation, lambda_client, [stacks, invocations]


def _run(monkeypatch: pytest.MonkeyPatch, clients: tuple[Any, Any, list[Stubber]]) -> Any:
    cloudformation, lambda_client, stubbers = clients
    monkeypatch.setattr(admin, "console", Console(width=200))
    monkeypatch.setattr(admin, "err_console", Console(stderr=True, width=200))
    monkeypatch.setattr(
        admin,
        "create_cloud_admin",
        partial(cloud_admin.create_cloud_admin, cloudformation=cloudformation, lambda_client=lambda_client),
    )
    result = CliRunner().invoke(
        app, ["admin", "create", "--username", "alice", "--email", "alice@hospital.example", "--stack", STACK]
    )
    for stubber in stubbers:
        stubber.assert_no_pending_responses()
    return result


def test_the_stack_mode_invokes_the_stages_bootstrap_function(monkeypatch: pytest.MonkeyPatch) -> None:
    created = {"id": 2, "username": "alice", "email": "alice@hospital.example", "role": "ADMIN"}

    result = _run(monkeypatch, _clients(created))

    assert result.exit_code == 0, result.output
    assert "created administrator alice (id 2) in Cradle-dev" in result.output
    assert "temporary password to alice@hospital.example" in result.output


def test_the_functions_refusal_is_reported_and_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    refusal = {"errorType": "Conflict", "errorMessage": "username 'alice' is taken"}

    result = _run(monkeypatch, _clients(refusal, function_error=True))

    assert result.exit_code == 1
    assert "Conflict: username 'alice' is taken" in result.output


def test_a_stack_without_the_function_says_so() -> None:
    cloudformation, lambda_client, _ = _clients({}, outputs=False)
    command = users.NewAdmin(username="alice", email="alice@hospital.example")

    with pytest.raises(cloud_admin.CloudAdminFailed, match="no output FunctionBootstrapAdmin"):
        cloud_admin.create_cloud_admin(
            STACK, command, cloudformation=cloudformation, lambda_client=lambda_client
        )
