"""Where the local stack keeps identities and the credentials of accounts the CLI created."""

from __future__ import annotations

import json
from pathlib import Path

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
