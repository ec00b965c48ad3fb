"""The seed-000 field list and the data model's "Who writes each field" table agree."""

from __future__ import annotations

import ast
from collections import Counter

import pytest

from tests.seed_fields import (
    DATA_MODEL_DOC,
    ROOT,
    TABLES,
    TableError,
    Writer,
    parse_seed,
    parse_who_writes,
    seed_000_fields,
    seed_000_path,
    who_writes,
)

pytestmark = pytest.mark.unit

# What a reading of seed 000 finds: ten entities and their fields, INDEX lines and comments aside.
SEED_000_FIELD_COUNTS = {
    "User": 19,
    "KeypointSchema": 13,
    "ImageBatch": 21,
    "Image": 30,
    "BatchAssignment": 22,
    "Annotation": 28,
    "Verification": 29,
    "MLModelConfig": 22,
    "AuditLog": 24,
    "PerformanceMetrics": 33,
}
CONFORMANCE_TEST = ROOT / "tests" / "e2e" / "test_seed_conformance.py"


def test_the_parser_finds_every_entity_and_field_of_seed_000() -> None:
    entities = parse_seed(seed_000_path().read_text(encoding="utf-8"))

    assert {name: len(fields) for name, fields in entities.items()} == SEED_000_FIELD_COUNTS
    assert list(entities) == list(TABLES)
    assert sum(SEED_000_FIELD_COUNTS.values()) == 241
    for fields in entities.values():
        assert fields[0].name == "id"
        assert fields[0].declaration == "bigint PRIMARY KEY"
        assert len({f.name for f in fields}) == len(fields)


def test_the_parser_reads_types_defaults_and_enums_as_the_seed_writes_them() -> None:
    by_key = {f.key: f for f in seed_000_fields()}

    role = by_key[("User", "role")]
    assert role.enum_values == ("ADMIN", "ANNOTATOR", "VERIFIER")
    assert role.not_null
    assert role.default is None
    accuracy = by_key[("User", "accuracy_score")]
    assert (accuracy.type, accuracy.default, accuracy.not_null) == ("decimal(3,2)", "0.00", False)
    status = by_key[("ImageBatch", "status")]
    assert status.default == "'UPLOADED'"
    assert status.enum_values[-1] == "ARCHIVED"
    assert by_key[("Image", "last_status_change")].default == "NOW()"
    assert by_key[("AuditLog", "ip_address")].type == "inet"
    assert by_key[("PerformanceMetrics", "calculation_version")].default == "'1.0'"
    assert by_key[("Annotation", "original_annotation_id")].type == "bigint"
    assert by_key[("Verification", "decision")].enum_values == (
        "APPROVED", "APPROVED_WITH_CORRECTIONS", "MINOR_REVISION_NEEDED", "MAJOR_REVISION_NEEDED", "REJECTED",
    )  # fmt: skip


def test_the_parser_keeps_comment_and_index_lines_out() -> None:
    text = (
        "```sql\nThing {\n    -- Identity\n    id: bigint PRIMARY KEY,\n"
        '    name: varchar(10) NOT NULL,             -- "a", "b"\n'
        "    size: enum('S', 'M') DEFAULT 'S',\n\n    -- Indexes\n    INDEX idx_thing_name (name),\n"
        "    UNIQUE INDEX idx_u (name, size)\n}\n```\n"
    )

    (fields,) = parse_seed(text).values()

    assert [(f.name, f.type, f.default) for f in fields] == [
        ("id", "bigint", None), ("name", "varchar(10)", None), ("size", "enum('S', 'M')", "'S'"),
    ]  # fmt: skip


def test_every_seed_field_has_exactly_one_row_in_the_who_writes_table() -> None:
    rows = who_writes()
    seed = [f.key for f in seed_000_fields()]

    counts = Counter(row.key for row in rows)
    assert [key for key, n in counts.items() if n > 1] == []
    assert sorted(set(seed) - set(counts)) == []  # a seed field nobody accounts for
    assert sorted(set(counts) - set(seed)) == []  # a row for a field the seed does not have
    assert [row.key for row in rows] == seed  # in the seed's order, so a reader can follow both


def test_every_entry_gives_a_flow_or_a_reason() -> None:
    rows = who_writes()

    assert all(row.note for row in rows if row.writer is not Writer.FLOW)
    assert {row.writer for row in rows} >= {Writer.FLOW, Writer.LEFT_UNSET}


def test_every_flow_the_table_names_is_a_scenario_of_the_conformance_test() -> None:
    module = ast.parse(CONFORMANCE_TEST.read_text(encoding="utf-8"))
    (scenarios,) = [
        node.value
        for node in module.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == "SCENARIOS"
    ]
    assert isinstance(scenarios, ast.Tuple)
    names = {element.id for element in scenarios.elts if isinstance(element, ast.Name)}

    named = {row.flow for row in who_writes() if row.writer is Writer.FLOW}

    assert named - names == set()


def test_a_row_that_says_nothing_usable_is_refused() -> None:
    doc = "# x\n\n## Who writes each field\n\n| entity | field | who writes it |\n|---|---|---|\n"

    with pytest.raises(TableError, match=r"User\.email"):
        parse_who_writes(doc + "| User | `email` | someone, sometime |\n")
    with pytest.raises(TableError, match="left unset"):
        parse_who_writes(doc + "| User | `email` | left unset: |\n")
    with pytest.raises(TableError, match="has no '## Who writes each field' section"):
        parse_who_writes("# nothing here\n")


def test_rows_of_each_kind_are_read_with_their_flow_and_note() -> None:
    doc = (
        "## Who writes each field\n\n| entity | field | who writes it |\n|---|---|---|\n"
        "| User | `email` | flow `people`: `POST /me/register` |\n"
        "| User | `password` | left unset: Cognito holds it |\n"
        "| User | `is_staff` | not shown here: the CLI's bootstrap |\n"
        "\n## Next section\n\n| User | `ignored` | flow `x` |\n"
    )

    rows = parse_who_writes(doc)

    assert [(r.field, r.writer, r.flow, r.note) for r in rows] == [
        ("email", Writer.FLOW, "people", "`POST /me/register`"),
        ("password", Writer.LEFT_UNSET, None, "Cognito holds it"),
        ("is_staff", Writer.NOT_SHOWN, None, "the CLI's bootstrap"),
    ]
    assert DATA_MODEL_DOC.is_file()
