"""The batch pipeline's state machine: starting runs and answering its task tokens."""

from __future__ import annotations

import json
from typing import Any, Protocol

from botocore.exceptions import ClientError

from cradlepose.adapters.aws import client


class Workflow(Protocol):
    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str: ...

    def succeed(self, task_token: str, output: dict[str, Any]) -> bool: ...

    def fail(self, task_token: str, error: str, cause: str) -> bool: ...

    def heartbeat(self, task_token: str) -> bool: ...


class StepFunctionsWorkflow:
    def __init__(self, sfn: Any | None = None) -> None:
        self._sfn = sfn

    @property
    def sfn(self) -> Any:
        if self._sfn is None:
            self._sfn = client("stepfunctions")
        return self._sfn

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
        """Start an execution named `name`; starting the same name again returns the same run."""
        try:
            response = self.sfn.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload, sort_keys=True)
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
            arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
            return arn
        return str(response["executionArn"])

    def succeed(self, task_token: str, output: dict[str, Any]) -> bool:
        """Answer a waiting task. False when nobody waits on the token any more (answered, timed out)."""
        return self._answer(
            lambda: self.sfn.send_task_success(taskToken=task_token, output=json.dumps(output))
        )

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return self._answer(
            lambda: self.sfn.send_task_failure(taskToken=task_token, error=error[:256], cause=cause[:32768])
        )

    def heartbeat(self, task_token: str) -> bool:
        return self._answer(lambda: self.sfn.send_task_heartbeat(taskToken=task_token))

    @staticmethod
    def _answer(call: Any) -> bool:
        try:
            call()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in (
                "TaskDoesNotExist",
                "TaskTimedOut",
                "InvalidToken",
            ):
                return False
            raise
        return True
