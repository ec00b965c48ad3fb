"""Where the CLI talks to, and the tokens it holds: profiles in ~/.config/cradle/.

    [profiles.local]
    api_url = "http://127.0.0.1:8000/api"
    identity_url = "http://127.0.0.1:8000/idp"      # Cognito's endpoint, or the local provider's
    client_id = "cradle-local-client"
    region = "us-east-1"

Tokens live beside it, one file per profile, readable only by the user (0600).
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path.home() / ".config" / "cradle"
LOCAL = "local"


@dataclass(frozen=True)
class Profile:
    name: str
    api_url: str
    identity_url: str | None
    client_id: str
    region: str = "us-east-1"


@dataclass
class Tokens:
    id_token: str
    refresh_token: str | None
    expires_at: float
    username: str

    @property
    def expired(self) -> bool:
        return time.time() > self.expires_at - 60


class ProfileStore:
    def __init__(self, directory: Path = DEFAULT_DIR) -> None:
        self.directory = directory

    @property
    def config_path(self) -> Path:
        return self.directory / "config.toml"

    def load(self, name: str) -> Profile:
        profiles = self._all()
        if name not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            hint = "run `cradle dev` or `cradle configure`"
            raise KeyError(f"no profile {name!r} in {self.config_path} (known: {known}); {hint}")
        return profiles[name]

    def save(self, profile: Profile) -> None:
        profiles = self._all()
        profiles[profile.name] = profile
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = []
        for p in profiles.values():
            lines.append(f"[profiles.{p.name}]")
            for key, value in asdict(p).items():
                if key != "name" and value is not None:
                    lines.append(f"{key} = {json.dumps(value)}")
            lines.append("")
        self.config_path.write_text("\n".join(lines))

    def tokens(self, name: str) -> Tokens | None:
        path = self._tokens_path(name)
        if not path.exists():
            return None
        return Tokens(**json.loads(path.read_text()))

    def save_tokens(self, name: str, tokens: Tokens) -> None:
        path = self._tokens_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(tokens), handle)

    def forget_tokens(self, name: str) -> None:
        self._tokens_path(name).unlink(missing_ok=True)

    def _tokens_path(self, name: str) -> Path:
        return self.directory / "tokens" / f"{name}.json"

    def _all(self) -> dict[str, Profile]:
        if not self.config_path.exists():
            return {}
        raw: dict[str, Any] = tomllib.loads(self.config_path.read_text()).get("profiles", {})
        # TOML has no null: a profile saved without an identity URL (AWS's Cognito) has no such key.
        return {name: Profile(name=name, **{"identity_url": None, **values}) for name, values in raw.items()}
