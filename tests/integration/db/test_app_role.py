"""The app cannot erase its own audit trail: it connects as a role that owns nothing.

Every function connects as the app login (a member of `cradle_app`, migration 0008); only the
deploy-time migration connects as the owner. As the app: UPDATE/DELETE/TRUNCATE on audit_logs,
dropping or disabling the append-only trigger, altering or dropping a table all fail with
"permission denied" / "must be owner", before the trigger is even asked.
"""

from __future__ import annotations

import base64
import json

import boto3
import pytest
import sqlalchemy as sa
from moto import mock_aws
from pydantic import SecretStr
from sqlalchemy.exc import DBAPIError

from cradlepose.db import migrate, roles
from cradlepose.db.engine import create_engine
from cradlepose.db.models import AuditLog, User
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.enums import AuditCategory, Role
from cradlepose.settings import Settings

pytestmark = pytest.mark.integration

CONTEXT = RequestContext(ip_address="10.0.0.1", user_agent="pytest", endpoint="/test", method="POST")

FORBIDDEN_TO_THE_APP = [
    "UPDATE audit_logs SET action = 'FORGED'",
    "DELETE FROM audit_logs",
    "TRUNCATE audit_logs",
    "DROP TRIGGER audit_logs_no_update ON audit_logs",
    "DROP TRIGGER audit_logs_no_truncate ON audit_logs",
    "ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_no_update",
    "ALTER TABLE audit_logs DISABLE TRIGGER ALL",
    "DROP FUNCTION cradle_audit_log_is_append_only() CASCADE",
    "ALTER TABLE audit_logs ADD COLUMN forged text",
    "ALTER TABLE users ADD COLUMN forged text",
    "DROP TABLE audit_logs CASCADE",
    "DROP TABLE images CASCADE",
    "TRUNCATE images CASCADE",
    "CREATE TABLE forged (id int)",
    "UPDATE alembic_version SET version_num = '0001'",
    "ALTER ROLE cradle_app LOGIN",
]


def _audited_user(uow_factory: UnitOfWorkFactory, username: str) -> int:
    with uow_factory(None, CONTEXT) as uow:
        user = uow.users.add(User(username=username, email=f"{username}@example.org", role=Role.ANNOTATOR))
        uow.audit(
            AuditEntry(
                action="USER_CREATED",
                category=AuditCategory.USER_MANAGEMENT,
                resource_type="user",
                resource_id=user.id,
                new_values={"username": username},
            )
        )
        uow.commit()
        return user.id


def _audit_fingerprint(engine: sa.Engine) -> tuple[int, str]:
    with engine.connect() as conn:
        count = conn.scalar(sa.text("SELECT count(*) FROM audit_logs"))
        actions = conn.scalar(sa.text("SELECT string_agg(action, ',' ORDER BY id) FROM audit_logs"))
    return int(count or 0), str(actions)


def test_the_engine_connects_as_the_app_login_which_owns_nothing(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        user = conn.scalar(sa.text("SELECT current_user"))
        owned = conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND pg_has_role(current_user, c.relowner, 'USAGE')"
            )
        )
        attributes = conn.execute(
            sa.text(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles"
                " WHERE rolname = current_user"
            )
        ).one()
    assert user == roles.LOCAL_APP_LOGIN
    assert owned == 0
    assert tuple(attributes) == (False, False, False, False)


@pytest.mark.parametrize("statement", FORBIDDEN_TO_THE_APP)
def test_the_app_cannot_rewrite_the_audit_trail_or_the_schema(
    uow_factory: UnitOfWorkFactory, engine: sa.Engine, owner_engine: sa.Engine, statement: str
) -> None:
    # Given an audit trail with a row in it
    _audited_user(uow_factory, "ada")
    before = _audit_fingerprint(owner_engine)

    # When the app's own connection tries to rewrite it or the schema that guards it
    with engine.connect() as conn, pytest.raises(DBAPIError) as refused:
        conn.execute(sa.text(statement))

    # Then the database refuses for want of privilege (not the trigger: the app never gets that far)
    message = str(refused.value.orig)
    assert "permission denied" in message or "must be owner" in message, message
    # and the trail and its guards are whole
    assert _audit_fingerprint(owner_engine) == before
    with owner_engine.connect() as conn:
        triggers = set(
            conn.scalars(
                sa.text(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_logs'::regclass"
                    " AND NOT tgisinternal AND tgenabled <> 'D'"
                )
            )
        )
    assert triggers == {"audit_logs_no_update", "audit_logs_no_truncate"}


def test_the_app_writes_and_reads_audit_rows_and_every_other_table(
    uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    user_id = _audited_user(uow_factory, "grace")
    with uow_factory(None, CONTEXT) as uow:
        user = uow.session.get(User, user_id)
        assert user is not None
        user.is_approved = True
        uow.audit(
            AuditEntry(
                action="USER_APPROVED",
                category=AuditCategory.USER_MANAGEMENT,
                resource_type="user",
                resource_id=user_id,
            )
        )
        uow.commit()
    with engine.connect() as conn:
        actions = conn.scalars(sa.select(AuditLog.action).where(AuditLog.resource_id == user_id)).all()
        tables = conn.scalars(
            sa.text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
                " AND c.relname NOT IN ('audit_logs', 'alembic_version') AND NOT c.relispartition"
                " AND NOT (has_table_privilege(c.oid, 'SELECT') AND has_table_privilege(c.oid, 'INSERT')"
                " AND has_table_privilege(c.oid, 'UPDATE') AND has_table_privilege(c.oid, 'DELETE'))"
            )
        ).all()
    assert sorted(actions) == ["USER_APPROVED", "USER_CREATED"]
    assert tables == [], "tables the app cannot use"


def test_tables_of_later_migrations_are_the_apps_to_use_but_not_to_alter(
    owner_engine: sa.Engine, engine: sa.Engine
) -> None:
    # Given a table a later migration creates, as the owner
    with owner_engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE later_table (id bigint GENERATED BY DEFAULT AS IDENTITY, v text)"))

    # Then the app may use it (default privileges) but not change its shape
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO later_table (v) VALUES ('x')"))
        conn.execute(sa.text("UPDATE later_table SET v = 'y'"))
        conn.execute(sa.text("DELETE FROM later_table"))
    with engine.connect() as conn, pytest.raises(DBAPIError, match="must be owner"):
        conn.execute(sa.text("DROP TABLE later_table"))


def test_the_owner_is_still_stopped_by_the_trigger(
    uow_factory: UnitOfWorkFactory, owner_engine: sa.Engine
) -> None:
    _audited_user(uow_factory, "alan")
    for statement in ("DELETE FROM audit_logs", "TRUNCATE audit_logs"):
        with owner_engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(sa.text(statement))


def test_a_migration_run_makes_the_app_login_exactly_a_member_with_the_session_defaults(
    owner_database_url: str,
) -> None:
    # Given a second app login with a password (as the cloud's, from its secret)
    login = roles.AppLogin("cradle_api_pw_test", password="s3cret-'quoted'")
    settings = Settings(
        database_url=SecretStr(owner_database_url), db_statement_timeout_ms=4321, stage="test"
    )
    owner = create_engine(settings)

    # When the migration run keeps it up to date, twice (idempotent)
    migrate.upgrade(owner, settings=settings, app_login=login)
    migrate.upgrade(owner, settings=settings, app_login=login)

    # Then it is a member of cradle_app only, has the role's session defaults and a SCRAM verifier
    with owner.connect() as conn:
        groups = conn.scalars(
            sa.text(
                "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
                " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :n"
            ),
            {"n": login.username},
        ).all()
        defaults = conn.scalar(
            sa.text(
                "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole"
                " WHERE r.rolname = :n AND s.setdatabase = 0"
            ),
            {"n": login.username},
        )
        stored = conn.scalar(
            sa.text("SELECT rolpassword FROM pg_authid WHERE rolname = :n"), {"n": login.username}
        )
        conn.execute(sa.text(f"DROP OWNED BY {login.username}"))
        conn.execute(sa.text(f"DROP ROLE {login.username}"))
        conn.commit()
    owner.dispose()
    assert groups == [roles.APP_GROUP]
    assert sorted(defaults) == ["TimeZone=UTC", "statement_timeout=4321"]
    assert stored.startswith("SCRAM-SHA-256$4096:")
    assert "s3cret" not in stored


def test_a_login_with_powers_is_refused(owner_engine: sa.Engine) -> None:
    with owner_engine.begin() as conn:
        conn.execute(sa.text("CREATE ROLE cradle_api_too_strong LOGIN CREATEROLE"))
    try:
        with owner_engine.begin() as conn, pytest.raises(RuntimeError, match="must not have"):
            roles.ensure_app_login(conn, roles.AppLogin("cradle_api_too_strong"), {})
    finally:
        with owner_engine.begin() as conn:
            conn.execute(sa.text("DROP ROLE cradle_api_too_strong"))


def test_the_verifier_is_the_one_postgres_computes(owner_engine: sa.Engine) -> None:
    # Given a verifier PostgreSQL computed itself from a password
    with owner_engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL password_encryption = 'scram-sha-256'"))
        conn.exec_driver_sql("CREATE ROLE cradle_scram_probe PASSWORD 'correct horse'")
        theirs = conn.scalar(
            sa.text("SELECT rolpassword FROM pg_authid WHERE rolname = 'cradle_scram_probe'")
        )
        conn.exec_driver_sql("DROP ROLE cradle_scram_probe")
    salt = base64.b64decode(theirs.split(":")[1].split("$")[0])

    # Then ours, with the same salt, is the same string
    assert roles.scram_verifier("correct horse", salt) == theirs


def test_the_cloud_migration_sets_the_app_login_password_from_its_secret(owner_database_url: str) -> None:
    # Given the app login's secret, as CDK creates it (moto's Secrets Manager)
    password = "pw-from-the-secret"
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(
            Name="cradle-test/database-app",
            SecretString=json.dumps({"username": "cradle_api_cloud", "password": password}),
        )["ARN"]
        settings = Settings(
            database_url=SecretStr(owner_database_url),
            db_app_user="cradle_api_cloud",
            db_app_secret_arn=arn,
            stage="test",
        )
        owner = create_engine(settings)

        # When the migrate function's run upgrades (it reads the secret itself)
        migrate.upgrade(owner, settings=settings)

    # Then the login exists with a verifier of exactly that password
    with owner.begin() as conn:
        stored = conn.scalar(sa.text("SELECT rolpassword FROM pg_authid WHERE rolname = 'cradle_api_cloud'"))
        conn.exec_driver_sql("DROP OWNED BY cradle_api_cloud")
        conn.exec_driver_sql("DROP ROLE cradle_api_cloud")
    owner.dispose()
    salt = base64.b64decode(stored.split(":")[1].split("$")[0])
    assert stored == roles.scram_verifier(password, salt)
