"""The first administrator of a deployed stage, created with the operator's AWS credentials.

The database is reachable only from inside the VPC, so the command line does not talk to it: it
finds the stage's `bootstrap_admin` function (the stack output `FunctionBootstrapAdmin`) and
invokes it; the function creates the Cognito user (ADMIN group, e-mailed a temporary password)
and the database row together (accounts.users.bootstrap_admin).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cradlepose.accounts import users

BOOTSTRAP_OUTPUT = "FunctionBootstrapAdmin"


class CloudAdminFailed(Exception):
    """The stack, its function, or the function's answer said no; the message says why."""


def bootstrap_function(cloudformation: Any, stack_name: str) -> str:
    """The name of the stage's bootstrap-admin function, from the stack's outputs."""
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if BOOTSTRAP_OUTPUT not in outputs:
        raise CloudAdminFailed(
            f"stack {stack_name!r} has no output {BOOTSTRAP_OUTPUT}; is it a Cradle stack?"
        )
    return str(outputs[BOOTSTRAP_OUTPUT])


def create_cloud_admin(
    stack_name: str,
    command: users.NewAdmin,
    *,
    region: str | None = None,
    cloudformation: Any | None = None,
    lambda_client: Any | None = None,
) -> dict[str, Any]:
    """Invoke the stage's bootstrap function; returns the created user as the function answers it."""
    try:
        session = boto3.session.Session(region_name=region)
        cloudformation = cloudformation or session.client("cloudformation")
        lambda_client = lambda_client or session.client("lambda")
        function = bootstrap_function(cloudformation, stack_name)
        response = lambda_client.invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            Payload=json.dumps({"username": command.username, "email": str(command.email)}).encode(),
        )
    except (BotoCoreError, ClientError) as error:  # no credentials, no such stack, not allowed
        raise CloudAdminFailed(str(error)) from None
    answer = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        failure = answer if isinstance(answer, dict) else {}
        raise CloudAdminFailed(
            f"{function} refused: {failure.get('errorType', 'error')}: {failure.get('errorMessage', answer)}"
        )
    if not isinstance(answer, dict):
        raise CloudAdminFailed(f"{function} answered {answer!r}, not a user")
    return answer
