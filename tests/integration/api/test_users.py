"""Registration, approval, roles and deactivation through the API, with their audit rows."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support import ApiClient, Persona, unregistered

pytestmark = pytest.mark.integration


def _audit_actions(engine: sa.Engine, resource_id: int) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.scalars(
                sa.text(
                    "SELECT action FROM audit_logs WHERE resource_type = 'User' AND resource_id = :id ORDER BY id"
                ),
                {"id": resource_id},
            )
        )


def test_register_then_wait_for_approval(api: ApiClient, admin: Persona, engine: sa.Engine) -> None:
    newcomer = unregistered("nora")

    # Given a signed-in identity that Cradle does not know yet
    assert api.get("/me", newcomer).status == 403

    # When it registers as an annotator
    registered = api.post(
        "/me/register", newcomer, body={"role": "ANNOTATOR", "annotation_specialty": "full_body"}
    )

    # Then the account exists but is not approved, and it may only read its own profile
    assert registered.status == 201, registered.body
    user = registered.json
    assert user["username"] == "nora"
    assert user["email"] == "nora@example.org"
    assert user["is_approved"] is False
    assert api.get("/me", newcomer).json["id"] == user["id"]
    refused = api.get("/batches", newcomer)
    assert refused.status == 403
    assert "awaiting approval" in refused.json["detail"]
    assert api.post("/me/register", newcomer, body={"role": "ANNOTATOR"}).status == 409

    # When an admin approves it, the annotator can work
    approved = api.post(f"/users/{user['id']}/approve", admin)
    assert approved.status == 200, approved.body
    assert approved.json["is_approved"] is True
    assert api.get("/batches", newcomer).status == 200
    assert _audit_actions(engine, user["id"]) == ["USER_REGISTERED", "USER_APPROVED"]


def test_only_admins_approve_and_the_refusal_is_audited(
    api: ApiClient, annotator: Persona, verifier: Persona, engine: sa.Engine
) -> None:
    newcomer = unregistered("olga")
    user_id = api.post("/me/register", newcomer, body={"role": "VERIFIER"}).json["id"]

    refused = api.post(f"/users/{user_id}/approve", annotator)

    assert refused.status == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "only ADMIN" in refused.json["detail"]
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT status, http_status, user_id, error_message FROM audit_logs "
                "WHERE action LIKE 'POST %' ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert row.status == "FAILED"
    assert row.http_status == 403
    assert row.user_id == annotator.user_id


def test_role_change_reject_and_deactivate(api: ApiClient, admin: Persona, annotator: Persona) -> None:
    assert annotator.user_id is not None
    changed = api.put(f"/users/{annotator.user_id}/role", admin, body={"role": "VERIFIER"})
    assert changed.status == 200
    assert changed.json["role"] == "VERIFIER"
    assert api.put(f"/users/{annotator.user_id}/role", admin, body={"role": "VERIFIER"}).status == 409
    assert api.put(f"/users/{annotator.user_id}/role", admin, body={"role": "ROOT"}).status == 422

    deactivated = api.post(f"/users/{annotator.user_id}/deactivate", admin)
    assert deactivated.status == 200
    assert deactivated.json["is_active"] is False
    refused = api.get("/batches", annotator)
    assert refused.status == 403
    assert "deactivated" in refused.json["detail"]
    assert api.get("/me", annotator).status == 200  # one's own profile stays readable

    assert api.post(f"/users/{annotator.user_id}/reactivate", admin).status == 200
    assert api.get("/batches", annotator).status == 200

    pending = api.post("/me/register", unregistered("pat"), body={"role": "ANNOTATOR"}).json
    rejected = api.post(f"/users/{pending['id']}/reject", admin, body={"reason": "not part of the study"})
    assert rejected.status == 200
    assert rejected.json["is_active"] is False
    assert api.post(f"/users/{pending['id']}/approve", admin).status == 409


def test_admins_cannot_lock_themselves_out(api: ApiClient, admin: Persona) -> None:
    assert api.post(f"/users/{admin.user_id}/deactivate", admin).status == 409
    assert api.put(f"/users/{admin.user_id}/role", admin, body={"role": "ANNOTATOR"}).status == 409


def test_list_users_filters_and_pages(api: ApiClient, admin: Persona) -> None:
    for i in range(5):
        api.post("/me/register", unregistered(f"pending{i}"), body={"role": "ANNOTATOR"})

    first = api.get("/users", admin, query={"is_approved": False, "limit": 3})
    assert first.status == 200, first.body
    second = api.get(
        "/users", admin, query={"is_approved": False, "limit": 3, "cursor": first.json["next_cursor"]}
    )

    names = [u["username"] for u in first.json["items"] + second.json["items"]]
    assert sorted(names) == [f"pending{i}" for i in range(5)]
    assert second.json["next_cursor"] is None
    assert api.get("/users", admin, query={"cursor": "not-a-cursor"}).status == 422
