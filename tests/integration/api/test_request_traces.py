"""What each authenticated request leaves behind: `last_login` (at most once a minute) and the
sign-in session in its audit rows (issue 19, "the small fields")."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from tests.support import ApiClient, Persona, unregistered

pytestmark = pytest.mark.integration


def _last_login(engine: sa.Engine, user_id: int | None) -> dt.datetime | None:
    with engine.connect() as conn:
        value: dt.datetime | None = conn.scalar(
            sa.text("SELECT last_login FROM users WHERE id = :id"), {"id": user_id}
        )
        return value


def _set_last_login(engine: sa.Engine, user_id: int | None, value: dt.datetime | None) -> None:
    with engine.begin() as conn:  # the test's clock: the row as a minute-old sign-in left it
        conn.execute(sa.text("UPDATE users SET last_login = :v WHERE id = :id"), {"v": value, "id": user_id})


def test_each_request_stamps_last_login_at_most_once_a_minute(
    api: ApiClient, annotator: Persona, engine: sa.Engine
) -> None:
    _set_last_login(engine, annotator.user_id, None)

    assert api.get("/me", annotator).status == 200
    first = _last_login(engine, annotator.user_id)
    assert first is not None
    assert abs((dt.datetime.now(dt.UTC) - first).total_seconds()) < 60

    # Within the minute: the row is not written again
    assert api.get("/batches", annotator).status == 200
    assert _last_login(engine, annotator.user_id) == first

    # Over a minute later: it is
    earlier = first - dt.timedelta(minutes=2)
    _set_last_login(engine, annotator.user_id, earlier)
    assert api.get("/me", annotator).status == 200
    latest = _last_login(engine, annotator.user_id)
    assert latest is not None
    assert latest > earlier + dt.timedelta(minutes=1)


def test_a_refused_request_still_counts_as_seen_and_me_reports_it(
    api: ApiClient, engine: sa.Engine, admin: Persona
) -> None:
    newcomer = unregistered("lena")
    user_id = api.post("/me/register", newcomer, body={"role": "ANNOTATOR"}).json["id"]
    _set_last_login(engine, user_id, None)

    assert api.get("/batches", newcomer).status == 403  # awaiting approval, but signed in
    assert _last_login(engine, user_id) is not None
    assert api.get("/me", newcomer).json["last_login"] is not None


def test_audit_rows_name_the_sign_in_session(api: ApiClient, admin: Persona, engine: sa.Engine) -> None:
    assert admin.claims is not None
    signed_in = Persona(admin.name, {**admin.claims, "origin_jti": "sign-in-7"}, admin.user_id, admin.role)
    newcomer = unregistered("milo")
    user_id = api.post("/me/register", newcomer, body={"role": "VERIFIER"}).json["id"]

    assert api.post(f"/users/{user_id}/approve", signed_in).status == 200
    refused = api.post("/users/999999999/approve", signed_in)
    assert refused.status == 404

    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT action, session_id FROM audit_logs WHERE user_id = :admin ORDER BY id DESC LIMIT 2"
            ),
            {"admin": admin.user_id},
        ).all()
        registered = conn.scalar(
            sa.text(
                "SELECT session_id FROM audit_logs WHERE action = 'USER_REGISTERED' AND resource_id = :id"
            ),
            {"id": user_id},
        )
    assert {r.session_id for r in rows} == {"jti:sign-in-7"}
    assert {r.action for r in rows} >= {"USER_APPROVED"}
    # A token without origin_jti (the test personas' claims): named by subject and sign-in time
    assert registered is not None
    assert registered.startswith("auth:")


def test_admins_read_the_session_in_the_audit_log(api: ApiClient, admin: Persona) -> None:
    assert admin.claims is not None
    signed_in = Persona(admin.name, {**admin.claims, "origin_jti": "sign-in-9"}, admin.user_id, admin.role)
    newcomer = unregistered("nils")
    user_id = api.post("/me/register", newcomer, body={"role": "VERIFIER"}).json["id"]
    assert api.post(f"/users/{user_id}/approve", signed_in).status == 200

    page = api.get("/audit-logs", admin, query={"action": "USER_APPROVED", "resource_id": user_id})

    assert page.status == 200, page.body
    (row,) = page.json["items"]
    assert row["session_id"] == "jti:sign-in-9"
    assert row["processing_time_ms"] is None  # a request, not a job


def test_the_stamp_costs_a_round_trip_once_a_minute(
    api: ApiClient, annotator: Persona, engine: sa.Engine
) -> None:
    """GET /me is the SELECT that finds the caller and its COMMIT; the UPDATE of last_login only
    when it is due; the profile is the row found, not read again (issue 21)."""
    sent: list[str] = []

    def statement(*args: object) -> None:
        sent.append(str(args[2]).split()[0])

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine, "commit", lambda _conn: sent.append("COMMIT"))
    sa.event.listen(engine, "rollback", lambda _conn: sent.append("ROLLBACK"))
    try:
        counts = []
        for stale in (True, False):  # a stamp written, then one skipped within the minute
            if stale:
                _set_last_login(engine, annotator.user_id, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
            sent.clear()
            assert api.get("/me", annotator).status == 200
            counts.append(list(sent))
    finally:
        sa.event.remove(engine, "before_cursor_execute", statement)
    assert counts == [["SELECT", "UPDATE", "COMMIT"], ["SELECT", "COMMIT"]]


def test_me_shows_the_row_as_its_own_request_left_it(
    api: ApiClient, annotator: Persona, engine: sa.Engine
) -> None:
    # GET /me answers from the row the sign-in read (no second read): the stamp it wrote is in it
    _set_last_login(engine, annotator.user_id, None)
    shown = api.get("/me", annotator).json
    stored = _last_login(engine, annotator.user_id)
    assert stored is not None
    assert dt.datetime.fromisoformat(shown["last_login"]) == stored
    # Within the minute nothing is written, and the profile shows what is stored
    assert dt.datetime.fromisoformat(api.get("/me", annotator).json["last_login"]) == stored


def test_a_deactivated_user_is_refused_on_their_next_request(
    api: ApiClient, annotator: Persona, admin: Persona, engine: sa.Engine
) -> None:
    assert api.get("/batches", annotator).status == 200
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET is_active = false WHERE id = :id"), {"id": annotator.user_id})
    assert api.get("/batches", annotator).status == 403  # the row is read per request, never cached
    profile = api.get("/me", annotator)  # one's own profile stays readable, as the row now is
    assert profile.status == 200
    assert profile.json["is_active"] is False
