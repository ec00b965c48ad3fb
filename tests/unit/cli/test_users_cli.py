"""`cradle users invite`: what it sends the API and what it says, against a fake API over httpx."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from cradle_workstation.cli import remote, users
from cradle_workstation.cli.client import CradleClient
from cradle_workstation.cli.main import app
from cradle_workstation.cli.profiles import Profile

pytestmark = pytest.mark.unit


class FakeApi:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, body))
        if body and body.get("username") == "taken":
            return httpx.Response(
                409, json={"title": "Conflict with the current state", "detail": "username 'taken' is taken"}
            )
        return httpx.Response(201, json={"id": 12, **(body or {})})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    server = FakeApi()
    monkeypatch.setattr(users, "console", Console(width=200))
    monkeypatch.setattr(remote, "err_console", Console(stderr=True, width=200))
    profile = Profile("local", "http://api.test", None, "client", "us-east-1")
    monkeypatch.setattr(remote, "_store", lambda config_dir: SimpleNamespace(load=lambda name: profile))
    monkeypatch.setattr(
        remote,
        "CradleClient",
        lambda url, token: CradleClient(url, None, transport=httpx.MockTransport(server)),
    )
    return server


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_invite_posts_the_invitation_and_says_where_the_password_went(fake: FakeApi) -> None:
    result = invoke(
        "users", "invite", "--email", "vera@example.org", "--username", "vera", "--role", "verifier",
        "--expertise", "pediatric_physiotherapy",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert fake.requests == [
        ("POST", "/invitations", {"email": "vera@example.org", "username": "vera", "role": "VERIFIER",
                                         "verification_expertise": "pediatric_physiotherapy"}),
    ]  # fmt: skip
    assert "invited vera as VERIFIER (id 12)" in result.output
    assert "vera@example.org" in result.output


def test_a_refused_invitation_exits_1_with_the_problem(fake: FakeApi) -> None:
    result = invoke(
        "users", "invite", "--email", "t@example.org", "--username", "taken", "--role", "ANNOTATOR"
    )

    assert result.exit_code == 1
    assert "username 'taken' is taken" in result.output


def test_an_unknown_role_is_refused_before_any_request(fake: FakeApi) -> None:
    result = invoke("users", "invite", "--email", "t@example.org", "--username", "x", "--role", "ROOT")

    assert result.exit_code == 2
    assert fake.requests == []
