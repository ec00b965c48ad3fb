"""Helpers shared by integration and e2e tests: personas, the in-process API client, AWS in moto."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from sqlalchemy.orm import Session, sessionmaker

from cradle_workstation.devstack.apigw import LambdaContext, claims_for, proxy_event
from cradlepose.db.models import User
from cradlepose.domain.enums import Role

ROOT = Path(__file__).resolve().parents[1]
BUCKETS = ("cradle-uploads", "cradle-derived", "cradle-results", "cradle-exports")


@dataclass(frozen=True)
class Persona:
    """Someone calling the API: the token's claims, and the Cradle user behind them (if any)."""

    name: str
    claims: dict[str, str] | None
    user_id: int | None = None
    role: Role | None = None


ANONYMOUS = Persona("anonymous", None)


def make_user(
    session_factory: sessionmaker[Session],
    role: Role,
    *,
    approved: bool = True,
    active: bool = True,
    name: str | None = None,
    max_concurrent_batches: int = 2,
) -> Persona:
    username = name or f"{role.value.lower()}-{uuid.uuid4().hex[:8]}"
    subject = str(uuid.uuid4())
    email = f"{username}@example.org"
    with session_factory() as session:
        user = User(
            username=username,
            email=email,
            role=role,
            is_approved=approved,
            is_active=active,
            identity_subject=subject,
            max_concurrent_batches=max_concurrent_batches,
        )
        session.add(user)
        session.commit()
        user_id = user.id
    return Persona(username, claims_for(subject, username, email, (role.value,)), user_id, role)


def unregistered(name: str = "newcomer") -> Persona:
    subject = str(uuid.uuid4())
    return Persona(name, claims_for(subject, name, f"{name}@example.org"))


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: str | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class ApiClient:
    """Calls the API Lambda's real entry point with API Gateway proxy events."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler

    def call(self, method: str, path: str, as_: Persona = ANONYMOUS, **kwargs: Any) -> ApiResponse:
        event = proxy_event(method, path, claims=as_.claims, **kwargs)
        raw = self.handler(event, LambdaContext())
        headers = {k.lower(): v for k, v in (raw.get("headers") or {}).items()}
        for key, values in (raw.get("multiValueHeaders") or {}).items():
            headers.setdefault(key.lower(), values[0])
        return ApiResponse(raw["statusCode"], headers, raw.get("body"), raw)

    def get(self, path: str, as_: Persona = ANONYMOUS, **kwargs: Any) -> ApiResponse:
        return self.call("GET", path, as_, **kwargs)

    def post(self, path: str, as_: Persona = ANONYMOUS, **kwargs: Any) -> ApiResponse:
        return self.call("POST", path, as_, **kwargs)

    def put(self, path: str, as_: Persona = ANONYMOUS, **kwargs: Any) -> ApiResponse:
        return self.call("PUT", path, as_, **kwargs)

    def patch(self, path: str, as_: Persona = ANONYMOUS, **kwargs: Any) -> ApiResponse:
        return self.call("PATCH", path, as_, **kwargs)

    def delete(self, path: str, as_: Persona = ANONYMOUS, **kwargs: Any) -> ApiResponse:
        return self.call("DELETE", path, as_, **kwargs)


def create_buckets(region: str = "us-east-1") -> None:
    s3 = boto3.client("s3", region_name=region)
    for bucket in BUCKETS:
        s3.create_bucket(Bucket=bucket)


def create_state_machine(
    region: str = "us-east-1", definition: str = "batch_pipeline", name: str = "cradle-batch-pipeline"
) -> str:
    """A state machine of infra/statemachines in moto, its placeholders filled with dummy function ARNs."""
    import re  # noqa: PLC0415

    text = (ROOT / "infra" / "statemachines" / f"{definition}.asl.json").read_text()
    filled = re.sub(
        r"\$\{(\w+)\}", lambda m: f"arn:aws:lambda:{region}:000000000000:function:{m.group(1)}", text
    )
    sfn = boto3.client("stepfunctions", region_name=region)
    arn: str = sfn.create_state_machine(
        name=name, definition=filled, roleArn="arn:aws:iam::000000000000:role/sfn"
    )["stateMachineArn"]
    return arn
