"""docs/workflow.md's table names, for every value of the seed's enums, the flow that produces it."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

import pytest

from cradlepose.domain import enums

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[2] / "docs" / "workflow.md"
HEADING = "## Every status of the seed, and the flow that produces it"

# Seed 000's enumerations as cradlepose.domain.enums defines them (enums.py lists the later seeds'
# after its "datasets, exports, models" marker; Visibility and PipelineRunStatus are Cradle's own).
SEED_000 = (
    enums.Role,
    enums.BatchStatus,
    enums.ImageStatus,
    enums.AssignmentType,
    enums.AssignmentStatus,
    enums.AnnotationStatus,
    enums.DifficultyRating,
    enums.VerificationDecision,
    enums.RejectionReason,
    enums.ClinicalRelevance,
    enums.DiagnosticQuality,
    enums.ModelType,
    enums.DeploymentStatus,
    enums.AuditCategory,
    enums.AuditStatus,
    enums.PeriodType,
)


def _table() -> dict[tuple[str, str], str]:
    text = DOC.read_text()
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("enum", "---") and not set(cells[0]) <= {"-"}:
            rows[(cells[0], cells[1])] = cells[2]
    return rows


def test_the_list_of_seed_enums_is_every_enum_defined_before_the_later_seeds() -> None:
    source = (
        Path(enums.__file__)
        .read_text()
        .split("# ---------------------------------------------------------------- datasets")[0]
    )
    defined = set(re.findall(r"^class (\w+)\(", source, flags=re.MULTILINE))
    assert defined - {"Visibility", "PipelineRunStatus"} == {e.__name__ for e in SEED_000}


@pytest.mark.parametrize("enum", SEED_000, ids=lambda e: e.__name__)
def test_every_member_has_a_producing_flow(enum: type[Enum]) -> None:
    table = _table()
    for member in enum:
        assert (enum.__name__, member.name) in table, (
            f"{enum.__name__}.{member.name} is not in docs/workflow.md"
        )
        assert table[(enum.__name__, member.name)], f"{enum.__name__}.{member.name} names no flow"


def test_the_table_names_nothing_that_is_not_an_enum_member() -> None:
    members = {(e.__name__, m.name) for e in SEED_000 for m in e}
    assert set(_table()) <= members
