"""Image metadata at intake: given with the batch and each file's form, written by registration,
corrected through PATCH /images/{id}, refused with 422s when wrong."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradle_workstation.devstack.apigw import claims_for
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.enums import Role
from cradlepose.intake import image_metadata
from tests.intake_support import upload_batch
from tests.support import ApiClient, Persona, make_user

pytestmark = pytest.mark.integration

DEFAULTS = {
    "infant_metadata": {"session_type": "clinic", "age_months": 3},
    "acquisition_date": "2025-03-01",
    "source_institution": "Site A",
}


def test_registration_writes_each_files_metadata_over_the_batch_defaults(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    first, second = upload_batch(
        api,
        admin,
        uow_factory,
        {
            "batch_name": "clinic day",
            "image_defaults": DEFAULTS,
            "uploads": {
                "files": [
                    {
                        "filename": "a.jpg",
                        "infant_metadata": {"age_months": 4.5, "sex": "female", "subject_id": "CP-017"},
                        "source_institution": "Site B",
                    },
                    {"filename": "b.jpg"},
                ]
            },
        },
    )
    a = api.get(f"/images/{first}", admin).json
    assert a["infant_metadata"] == {
        "session_type": "clinic",
        "age_months": 4.5,
        "sex": "female",
        "subject_id": "CP-017",
    }
    assert a["acquisition_date"] == "2025-03-01"
    assert a["source_institution"] == "Site B"
    b = api.get(f"/images/{second}", admin).json
    assert b["infant_metadata"] == {"session_type": "clinic", "age_months": 3}
    assert b["source_institution"] == "Site A"
    with engine.connect() as conn:
        registered = conn.scalar(
            sa.text(
                "SELECT new_values FROM audit_logs WHERE action = 'IMAGE_REGISTERED' AND resource_id = :id"
            ),
            {"id": first},
        )
    assert registered["infant_metadata"]["subject_id"] == "CP-017"
    assert registered["acquisition_date"] == "2025-03-01"


def test_more_uploads_carry_metadata_too(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory
) -> None:
    created = api.post(
        "/batches", admin, body={"batch_name": "b", "uploads": {"files": [{"filename": "x.jpg"}]}}
    )
    batch_id = created.json["batch"]["id"]
    forms = api.post(
        f"/batches/{batch_id}/uploads",
        admin,
        body={"files": [{"filename": "late.png", "infant_metadata": {"age_months": 7, "subject_id": "s-9"}}]},
    )
    assert forms.status == 200, forms.body
    with uow_factory() as uow:
        batch = uow.batches.require(batch_id)
        assert image_metadata.for_registration(uow, batch, forms.json[0]["key"])["infant_metadata"] == {
            "age_months": 7,
            "subject_id": "s-9",
        }
        # The first form's file was described by nothing
        first = created.json["uploads"][0]["key"]
        assert image_metadata.for_registration(uow, batch, first)["infant_metadata"] is None


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"infant_metadata": {"subject_id": "Jane Smith"}}, "subject_id"),
        ({"infant_metadata": {"subject_id": "MRN0012345"}}, "subject_id"),
        ({"infant_metadata": {"age_months": -1}}, "age_months"),
        ({"infant_metadata": {"sex": "M"}}, "sex"),
        ({"infant_metadata": {"name": "Jane"}}, "name"),
        ({"acquisition_date": "2999-01-01"}, "acquisition_date"),
        ({"source_institution": "x" * 101}, "source_institution"),
    ],
)
def test_bad_metadata_is_a_422_that_says_where_and_writes_nothing(
    api: ApiClient, admin: Persona, engine: sa.Engine, entry: dict[str, Any], where: str
) -> None:
    for body in (
        {"batch_name": "bad", "uploads": {"files": [{"filename": "a.jpg", **entry}]}},
        {"batch_name": "bad", "uploads": {"count": 1}, "image_defaults": entry},
    ):
        response = api.post("/batches", admin, body=body)
        assert response.status == 422, response.body
        assert any(where in e["location"] for e in response.json["errors"]), response.json
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM image_batches")) == 0
        assert conn.scalar(sa.text("SELECT count(*) FROM upload_manifest_entries")) == 0


def test_two_files_of_the_same_name_keep_their_own_values(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory
) -> None:
    # Two sessions' cameras both named their first picture IMG_0001.jpg
    first, second = upload_batch(
        api,
        admin,
        uow_factory,
        {
            "batch_name": "two sessions",
            "uploads": {
                "files": [
                    {"filename": "IMG_0001.jpg", "infant_metadata": {"subject_id": "CP-1", "age_months": 2}},
                    {"filename": "IMG_0001.jpg", "infant_metadata": {"subject_id": "CP-2", "age_months": 9}},
                ]
            },
        },
    )
    assert api.get(f"/images/{first}", admin).json["infant_metadata"] == {
        "subject_id": "CP-1",
        "age_months": 2,
    }
    assert api.get(f"/images/{second}", admin).json["infant_metadata"] == {
        "subject_id": "CP-2",
        "age_months": 9,
    }


def _demoted(session_factory: sessionmaker[Session], who: Persona, role: Role) -> Persona:
    """The same person after an admin changed their role (a batch's uploader need not stay admin)."""
    with session_factory() as session:
        session.execute(
            sa.text("UPDATE users SET role = :r WHERE id = :id"), {"r": role.value, "id": who.user_id}
        )
        session.commit()
    assert who.claims is not None
    claims = claims_for(who.claims["sub"], who.name, f"{who.name}@example.org", (role.value,))
    return dataclasses.replace(who, claims=claims, role=role)


def test_corrections_admin_uploader_and_others(
    api: ApiClient,
    admin: Persona,
    annotator: Persona,
    session_factory: sessionmaker[Session],
    uow_factory: UnitOfWorkFactory,
    engine: sa.Engine,
) -> None:
    uploader = make_user(session_factory, Role.ADMIN, name="uploader")
    (image_id,) = upload_batch(
        api, uploader, uow_factory, {"batch_name": "c", "image_defaults": DEFAULTS, "uploads": {"count": 1}}
    )
    uploader = _demoted(session_factory, uploader, Role.VERIFIER)

    # The batch's uploader corrects the age while the image is not annotated
    fixed = api.patch(
        f"/images/{image_id}",
        uploader,
        body={"infant_metadata": {"age_months": 5, "subject_id": "CP-2"}, "source_institution": "Site C"},
    )
    assert fixed.status == 200, fixed.body
    merged_infant = {"session_type": "clinic", "age_months": 5, "subject_id": "CP-2"}
    assert fixed.json["infant_metadata"] == merged_infant
    assert fixed.json["source_institution"] == "Site C"
    assert fixed.json["acquisition_date"] == "2025-03-01"  # left out: kept
    with engine.connect() as conn:
        old, new, actor = conn.execute(
            sa.text(
                "SELECT old_values, new_values, user_id FROM audit_logs "
                "WHERE action = 'IMAGE_METADATA_CORRECTED' AND resource_id = :id"
            ),
            {"id": image_id},
        ).one()
    assert old == {"infant_metadata": DEFAULTS["infant_metadata"], "source_institution": "Site A"}
    assert new == {"infant_metadata": merged_infant, "source_institution": "Site C"}
    assert actor == uploader.user_id

    # Anyone else: 403, for this image and for one that does not exist alike
    assert api.patch(f"/images/{image_id}", annotator, body={"source_institution": "X"}).status == 403
    assert api.patch("/images/999999", annotator, body={"source_institution": "X"}).status == 403
    assert api.patch("/images/999999", admin, body={"source_institution": "X"}).status == 404

    # Bad values: 422, nothing changed
    assert (
        api.patch(f"/images/{image_id}", admin, body={"infant_metadata": {"subject_id": "Okafor"}}).status
        == 422
    )
    assert api.patch(f"/images/{image_id}", admin, body={}).status == 422

    # Once annotated, the uploader gets 409 and an admin may still correct (and clear) it
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE images SET status = 'ANNOTATED' WHERE id = :id"), {"id": image_id})
    late = api.patch(f"/images/{image_id}", uploader, body={"source_institution": "Site D"})
    assert late.status == 409, late.body
    cleared = api.patch(
        f"/images/{image_id}",
        admin,
        body={"source_institution": None, "infant_metadata": {"subject_id": None}},
    )
    assert cleared.status == 200
    image = api.get(f"/images/{image_id}", admin).json
    assert image["source_institution"] is None
    assert image["infant_metadata"] == {"session_type": "clinic", "age_months": 5}
