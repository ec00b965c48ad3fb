"""Where the local stack keeps identities and the credentials of accounts the CLI created."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from cradle_workstation.devstack.admin_signature import AdminCredentials
from cradle_workstation.devstack.identity_provider import (
    POOL_ID,
    LocalIdentityAdapter,
    LocalIdentityProvider,
    write_private,
)

DEFAULT_ISSUER = f"http://127.0.0.1:8000/idp/{POOL_ID}"


def identity_dir(state_dir: Path) -> Path:
    return state_dir / "identity"


def credentials_dir(state_dir: Path) -> Path:
    return state_dir / "credentials"


def adapter(state_dir: Path, issuer: str = DEFAULT_ISSUER) -> LocalIdentityAdapter:
    return LocalIdentityAdapter(LocalIdentityProvider(identity_dir(state_dir), issuer))


def cognito(identity_url: str, admin: AdminCredentials | None = None) -> Any:
    """boto3's cognito-idp client for the local provider. With `admin` (the stack's
    `identity_admin`) it signs Admin* calls with the key they need; without, it carries a
    placeholder key that only the unauthenticated actions (sign-up, sign-in) accept."""
    credentials = admin.client_kwargs() if admin is not None else _PLACEHOLDER_KEY
    return boto3.client(
        "cognito-idp",
        endpoint_url=identity_url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 2}),
        **credentials,
    )


# botocore signs every call; sign-up and sign-in need no credentials, so any key does for them.
_PLACEHOLDER_KEY = {"aws_access_key_id": "anonymous", "aws_secret_access_key": "anonymous"}


def write_credentials(state_dir: Path, username: str, password: str, role: str) -> Path:
    """Save a generated password where only this user can read it (mode 0600)."""
    directory = credentials_dir(state_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)  # the directory may predate this rule; the file is private from birth
    path = directory / f"{username}.json"
    write_private(
        path, json.dumps({"username": username, "password": password, "role": role}, indent=2).encode()
    )
    return path


def read_credentials(state_dir: Path, username: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((credentials_dir(state_dir) / f"{username}.json").read_text())
    return data
