"""Driving a running local stack from tests: its own database, signing in, the API over HTTP,
uploads through the presigned forms."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests

from cradle_workstation.devstack.identity_provider import CLIENT_ID
from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradle_workstation.devstack.stack import LocalStack, LocalStackConfig


@contextmanager
def stack_database(postgres: EmbeddedPostgres, template: str) -> Iterator[str]:
    """A migrated database of its own, which outlives a stack (restarts keep it)."""
    name = f"stack_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = postgres.create_database(name, template=template)
    try:
        yield url
    finally:
        postgres.drop_database(name)


@contextmanager
def running_stack(
    postgres: EmbeddedPostgres, template: str, state_dir: Path, **config: Any
) -> Iterator[LocalStack]:
    """A local stack on a database of its own, without the web UI; `config` sets the rest of
    LocalStackConfig (chunk size, heartbeat, waits, schedules)."""
    with stack_database(postgres, template) as url:
        settings = LocalStackConfig(state_dir=state_dir, database_url=url, web_root=None, **config)
        with LocalStack(settings) as running:
            yield running


def wait_for(condition: Callable[[], Any], timeout_s: float = 60.0, every_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s")
        time.sleep(every_s)


@dataclass
class ApiSession:
    """The API over HTTP with an ID token from the local identity provider, as the CLI would call it."""

    base: str
    token: str

    @classmethod
    def sign_in(cls, stack: LocalStack) -> ApiSession:
        assert stack.admin_username is not None
        credentials = json.loads((stack.credentials_dir / f"{stack.admin_username}.json").read_text())
        cognito = boto3.client(
            "cognito-idp", endpoint_url=stack.identity_url, region_name="us-east-1",
            aws_access_key_id="local", aws_secret_access_key="local",
        )  # fmt: skip
        result = cognito.initiate_auth(
            ClientId=CLIENT_ID,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": credentials["username"], "PASSWORD": credentials["password"]},
        )
        return cls(stack.api_url, result["AuthenticationResult"]["IdToken"])

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(
            method,
            f"{self.base}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def create_batch(self, names: list[str], **fields: Any) -> dict[str, Any]:
        response = self.call(
            "POST", "/batches", {"batch_name": f"batch-{uuid.uuid4().hex[:6]}",
                                 "uploads": {"files": [{"filename": n} for n in names]}, **fields},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def batch(self, batch_id: int) -> dict[str, Any]:
        response = self.call("GET", f"/batches/{batch_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def wait_for_status(self, batch_id: int, status: str, timeout_s: float = 60.0) -> dict[str, Any]:
        found: dict[str, Any] = wait_for(
            lambda: (b := self.batch(batch_id))["status"] == status and b, timeout_s
        )
        return found


def upload(form: dict[str, Any], data: bytes, filename: str, content_type: str = "image/jpeg") -> None:
    """The browser's part: the form's fields and the file, straight to S3 (moto) over HTTP."""
    response = requests.post(
        form["url"], data=form["fields"], files={"file": (filename, data, content_type)}, timeout=30
    )
    assert response.status_code == 204, response.text
