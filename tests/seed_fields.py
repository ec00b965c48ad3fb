"""Seed 000's entities and fields, read from the seed itself, and the "Who writes each field" table
of docs/data-model.md that says, for each of them, which flow writes it.

The seed (`../shared/seeds/000_*.txt`) declares each entity as a block of pseudo-SQL:

    User {
        -- Identity & Authentication
        id: bigint PRIMARY KEY,
        role: enum('ADMIN', 'ANNOTATOR', 'VERIFIER') NOT NULL,
        is_approved: boolean DEFAULT false,
        INDEX idx_user_role_approved (role, is_approved),
    }

Field lines are `name: declaration,` with an optional `-- comment`; comment lines and index lines
are not fields. Seed field names are Cradle's column names, and each entity is one table
(`TABLES`), so the conformance test can read the database with what the seed says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_MODEL_DOC = ROOT / "docs" / "data-model.md"
WHO_WRITES_HEADING = "## Who writes each field"

# The entity blocks of seed 000, in its order, and the table Cradle keeps each in.
TABLES = {
    "User": "users",
    "KeypointSchema": "keypoint_schemas",
    "ImageBatch": "image_batches",
    "Image": "images",
    "BatchAssignment": "batch_assignments",
    "Annotation": "annotations",
    "Verification": "verifications",
    "MLModelConfig": "ml_model_configs",
    "AuditLog": "audit_logs",
    "PerformanceMetrics": "performance_metrics",
}

_BLOCK = re.compile(r"^```sql\n(?P<entity>\w+) \{\n(?P<body>.*?)^\}\n```", re.MULTILINE | re.DOTALL)
_FIELD = re.compile(r"^\s+(?P<name>[a-z][a-z0-9_]*): (?P<declaration>.+?),?\s*(?:--.*)?$")
_DEFAULT = re.compile(r"\bDEFAULT (?P<value>'[^']*'|\S+)")
_TYPE = re.compile(r"^(?P<type>enum\([^)]*\)|\w+(?:\(\d+(?:,\d+)?\))?)")


def seed_000_path() -> Path:
    """The seed file: `shared/seeds` beside the checkout (`../shared/seeds`), or beside a folder
    above it (a worktree in `../wt/<name>` shares the main checkout's)."""
    candidates = [folder / "shared" / "seeds" for folder in ROOT.parents[:3]]
    for folder in candidates:
        found = sorted(folder.glob("000_*.txt"))
        if found:
            return found[0]
    raise FileNotFoundError(f"no 000_*.txt seed in {', '.join(str(c) for c in candidates)}")


@dataclass(frozen=True)
class SeedField:
    entity: str
    name: str
    declaration: str  # the seed's text, e.g. "decimal(3,2) DEFAULT 0.00"

    @property
    def type(self) -> str:
        """`bigint`, `varchar(150)`, `decimal(3,2)`, `enum('A', 'B')`, `json`, …"""
        match = _TYPE.match(self.declaration)
        assert match, self.declaration
        return match["type"]

    @property
    def default(self) -> str | None:
        """The seed's default as written (`false`, `0.00`, `'UPLOADED'`, `NOW()`), or None."""
        match = _DEFAULT.search(self.declaration)
        return match["value"] if match else None

    @property
    def not_null(self) -> bool:
        return "NOT NULL" in self.declaration or "PRIMARY KEY" in self.declaration

    @property
    def enum_values(self) -> tuple[str, ...]:
        return tuple(re.findall(r"'([^']*)'", self.type)) if self.type.startswith("enum(") else ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.entity, self.name)


def parse_seed(text: str) -> dict[str, list[SeedField]]:
    """Every entity block of the seed and its fields, in the seed's order."""
    entities: dict[str, list[SeedField]] = {}
    for block in _BLOCK.finditer(text):
        fields = []
        for line in block["body"].splitlines():
            match = _FIELD.match(line)
            if match:
                fields.append(SeedField(block["entity"], match["name"], match["declaration"]))
        entities[block["entity"]] = fields
    return entities


def seed_000_fields() -> list[SeedField]:
    return [f for fields in parse_seed(seed_000_path().read_text(encoding="utf-8")).values() for f in fields]


# ------------------------------------------------------------------ the doc's table


class Writer(StrEnum):
    FLOW = "flow"  # a flow of the conformance test writes it; the test proves it
    LEFT_UNSET = "left unset"  # deliberately never written; the reason says why
    NOT_SHOWN = "not shown here"  # a flow writes it, but the walk cannot show a non-default value


@dataclass(frozen=True)
class WhoWrites:
    entity: str
    field: str
    writer: Writer
    flow: str | None  # the conformance test's scenario, for Writer.FLOW
    note: str  # how the flow writes it, or why it is left unset / not shown

    @property
    def key(self) -> tuple[str, str]:
        return (self.entity, self.field)


_ROW = re.compile(r"^\|\s*(?P<entity>[^|]+?)\s*\|\s*`?(?P<field>[^|`]+?)`?\s*\|\s*(?P<who>.+?)\s*\|\s*$")
_FLOW = re.compile(r"^flow `(?P<flow>[a-z][a-z0-9_]*)`(?::\s*(?P<note>.*))?$")
_LEFT_UNSET = re.compile(r"^left unset:\s*(?P<note>\S.*)$")
_NOT_SHOWN = re.compile(r"^not shown here:\s*(?P<note>\S.*)$")


class TableError(ValueError):
    """A row of the table that says nothing the conformance test can use."""


def parse_who_writes(markdown: str) -> list[WhoWrites]:
    """The rows of the "Who writes each field" section: `| entity | field | who writes it |`,
    where the last cell is ``flow `scenario`: how``, `left unset: why` or `not shown here: why`."""
    heading = re.search(rf"^{re.escape(WHO_WRITES_HEADING)}$", markdown, re.MULTILINE)
    if heading is None:
        raise TableError(f"docs/data-model.md has no '{WHO_WRITES_HEADING}' section")
    section = markdown[heading.end() :]
    end = re.search(r"^## ", section, re.MULTILINE)
    section = section if end is None else section[: end.start()]
    rows = []
    for line in section.splitlines():
        match = _ROW.match(line)
        if not match or match["entity"] in ("entity", "") or set(match["entity"]) <= set("-: "):
            continue
        who = match["who"]
        if flow := _FLOW.match(who):
            rows.append(
                WhoWrites(match["entity"], match["field"], Writer.FLOW, flow["flow"], flow["note"] or "")
            )
        elif unset := _LEFT_UNSET.match(who):
            rows.append(WhoWrites(match["entity"], match["field"], Writer.LEFT_UNSET, None, unset["note"]))
        elif not_shown := _NOT_SHOWN.match(who):
            rows.append(WhoWrites(match["entity"], match["field"], Writer.NOT_SHOWN, None, not_shown["note"]))
        else:
            raise TableError(
                f"{match['entity']}.{match['field']}: '{who}' is none of flow `name`: …, left unset: …, "
                "not shown here: …"
            )
    return rows


def who_writes() -> list[WhoWrites]:
    return parse_who_writes(DATA_MODEL_DOC.read_text(encoding="utf-8"))
