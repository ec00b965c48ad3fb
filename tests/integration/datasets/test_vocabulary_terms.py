"""An admin relabels and retires a vocabulary term: each change is audited with its old and new
values, a retired term no longer describes a new dataset, and bad edits change nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration


def _audits(engine: sa.Engine, term_id: int) -> list[tuple[str, dict[str, object], dict[str, object]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT action, old_values, new_values FROM audit_logs"
                " WHERE resource_type = 'VocabularyTerm' AND resource_id = :t AND action LIKE 'VOCABULARY%' ORDER BY id"
            ),
            {"t": term_id},
        )
        return [(r[0], r[1], r[2]) for r in rows]


def test_an_admin_relabels_and_retires_a_term_and_each_change_is_audited(
    api: ApiClient, admin: Persona, verifier: Persona, engine: sa.Engine
) -> None:
    with engine.connect() as conn:
        schema_id = conn.scalar(sa.text("SELECT id FROM keypoint_schemas WHERE name = 'infant-pose-17'"))
    created = api.post("/vocabulary-terms", admin, body={"kind": "TAG", "code": "cot", "name": "Cot"})
    assert created.status == 201, created.body
    term = created.json
    url = f"/vocabulary-terms/{term['id']}"

    # A verifier reads it but may not change it
    assert api.get(url, verifier).json["name"] == "Cot"
    assert api.patch(url, verifier, body={"name": "Crib"}).status == 403

    # Relabelled: the answer and the audit row say what it was and what it is
    relabelled = api.patch(url, admin, body={"name": "Crib", "description": "a baby's bed"})
    assert relabelled.status == 200, relabelled.body
    assert (relabelled.json["name"], relabelled.json["code"]) == ("Crib", "cot")

    # Retired: it stays listed, inactive, and a new dataset cannot be described with it
    retired = api.patch(url, admin, body={"is_active": False})
    assert retired.json["is_active"] is False
    answer = api.post(
        "/datasets",
        admin,
        body={"name": "cots", "keypoint_schema_id": schema_id, "catalogue": {"tags": ["cot"]}},
    )
    assert answer.status == 422, answer.body

    # A retired term is not edited until it is brought back; nothing is written
    assert api.patch(url, admin, body={"name": "Bassinet"}).status == 409
    back = api.patch(url, admin, body={"is_active": True, "name": "Bassinet"})
    assert (back.status, back.json["name"], back.json["is_active"]) == (200, "Bassinet", True)

    assert _audits(engine, term["id"]) == [
        ("VOCABULARY_TERM_CREATED", None, {"kind": "TAG", "code": "cot", "name": "Cot", "description": None}),
        (
            "VOCABULARY_TERM_UPDATED",
            {"name": "Cot", "description": None},
            {"name": "Crib", "description": "a baby's bed"},
        ),
        ("VOCABULARY_TERM_RETIRED", {"is_active": True}, {"is_active": False}),
        (
            "VOCABULARY_TERM_UPDATED",
            {"name": "Crib", "is_active": False},
            {"name": "Bassinet", "is_active": True},
        ),
    ]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),  # nothing to change
        ({"name": ""}, 422),
        ({"name": None}, 422),  # a term always has a label
        ({"is_active": None}, 422),
        ({"code": "other"}, 422),  # a term's code never changes: datasets name it
        ({"kind": "TAG"}, 422),
    ],
)
def test_a_bad_edit_is_a_problem_and_changes_nothing(
    api: ApiClient, admin: Persona, engine: sa.Engine, body: dict[str, object], status: int
) -> None:
    term = api.post("/vocabulary-terms", admin, body={"kind": "TAG", "code": "mat", "name": "Mat"}).json
    answer = api.patch(f"/vocabulary-terms/{term['id']}", admin, body=body)
    assert answer.status == status, answer.body
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert api.get(f"/vocabulary-terms/{term['id']}", admin).json == term
    assert [a for a, _, _ in _audits(engine, term["id"])] == ["VOCABULARY_TERM_CREATED"]


def test_an_unknown_term_is_404(api: ApiClient, admin: Persona) -> None:
    assert api.patch("/vocabulary-terms/987654", admin, body={"name": "x"}).status == 404
