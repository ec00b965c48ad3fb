"""The table of objects that expire (`infra/retention.toml`), read by the CDK app and the local stack."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PATH = Path(__file__).resolve().parents[4] / "infra" / "retention.toml"


class Ages(BaseModel):
    """Days after creation, per stage; `local` is the local stack's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    local: int = Field(ge=1)
    dev: int = Field(ge=1)
    prod: int = Field(ge=1)


class ExpiryRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,254}$")
    bucket: Literal["uploads", "derived", "results", "exports", "models"]
    prefix: str
    why: str
    days: Ages

    def days_for(self, stage: str) -> int:
        ages: dict[str, int] = self.days.model_dump()
        if stage not in ages:
            raise KeyError(f"{self.id}: no age for stage {stage!r} in infra/retention.toml")
        return ages[stage]


class RetentionTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: list[ExpiryRule]

    def for_bucket(self, bucket: str) -> list[ExpiryRule]:
        return [rule for rule in self.rule if rule.bucket == bucket]


def load(path: Path = DEFAULT_PATH) -> RetentionTable:
    with path.open("rb") as handle:
        return RetentionTable.model_validate(tomllib.load(handle))
