"""The two database roles: the migration role owns the schema, the app role only uses it.

Every function but the migration connects as the *app login*, a login role whose only privilege
is membership of the NOLOGIN group `cradle_app`. Migration 0008 grants that group DML on the
tables, SELECT and INSERT (nothing else) on `audit_logs`, and the same on every table later
migrations create (default privileges). The app login owns nothing, so it cannot drop or disable
the append-only trigger, alter or drop a table, or rewrite the audit trail; the owner (the
migration role) can, and only the deploy-time migration connects as it.

The app login is cluster-wide, so the migration run creates or refreshes it (`ensure_app_login`):
locally without a password (the embedded server trusts its unix socket), in the cloud with the
password of its own Secrets Manager secret, which RDS Proxy also holds to log in as it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cradlepose.settings import Settings

APP_GROUP = "cradle_app"
# The local stack's and the tests' app login (the cloud's comes from its secret: CRADLE_DB_APP_USER).
LOCAL_APP_LOGIN = "cradle_api"

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SCRAM_ITERATIONS = 4096


@dataclass(frozen=True)
class AppLogin:
    username: str
    password: str | None = None  # None: no password (the embedded server trusts its socket)

    def __post_init__(self) -> None:
        if not _ROLE_NAME.match(self.username) or self.username == APP_GROUP:
            raise ValueError(f"not a plain role name for the app login: {self.username!r}")


def scram_verifier(password: str, salt: bytes | None = None) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of `password`: what `ALTER ROLE … PASSWORD` stores.

    Sending the verifier instead of the password keeps the password itself out of the statement
    text, so no server log or error message can ever show it.
    """
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${_SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def app_login_from_settings(settings: Settings) -> AppLogin | None:
    """The app login the migration run keeps up to date, or None where none is configured."""
    if not settings.db_app_user:
        return None
    password = None
    if settings.db_app_secret_arn:
        from cradlepose.db.engine import read_secret  # noqa: PLC0415 - the cloud path only

        secret = read_secret(settings, settings.db_app_secret_arn)
        if secret.get("username", settings.db_app_user) != settings.db_app_user:
            raise RuntimeError("the app secret names another user than CRADLE_DB_APP_USER")
        password = str(secret["password"])
    return AppLogin(settings.db_app_user, password)


def ensure_app_login(connection: Connection, login: AppLogin, session_defaults: dict[str, str]) -> None:
    """Create the app login if absent and make it exactly: LOGIN, a member of `cradle_app`, nothing more.

    Run by the migration role (CREATEROLE), after the migrations. Idempotent. Utility statements take
    no bind parameters: the name is checked above, the values are quoted literals, sent as they are
    (`exec_driver_sql`: a verifier's base64 would read as `:name` bind markers to `sa.text`).
    """
    name = f'"{login.username}"'
    powers = connection.execute(
        sa.text(
            "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls"
            " FROM pg_roles WHERE rolname = :n"
        ),
        {"n": login.username},
    ).scalar_one_or_none()
    if powers is None:
        connection.exec_driver_sql(f"CREATE ROLE {name} LOGIN")  # a new role has none of them
    elif powers:
        # Only a superuser may take SUPERUSER, REPLICATION or BYPASSRLS away; the cloud's migration
        # role is not one, so a login that holds them is an operator's mistake to fix by hand.
        raise RuntimeError(f"the app login {login.username!r} holds role attributes it must not have")
    attributes = "LOGIN INHERIT"
    if login.password is not None:
        attributes += f" PASSWORD {_literal(scram_verifier(login.password))}"
    connection.exec_driver_sql(f"ALTER ROLE {name} WITH {attributes}")
    connection.exec_driver_sql(f"GRANT {APP_GROUP} TO {name}")
    others = connection.scalars(
        sa.text(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
            " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :n AND g.rolname <> :group"
        ),
        {"n": login.username, "group": APP_GROUP},
    ).all()
    if others:
        raise RuntimeError(f"the app login {login.username!r} is also a member of {sorted(others)}")
    for setting, value in session_defaults.items():
        connection.exec_driver_sql(f"ALTER ROLE {name} SET {setting} = {_literal(value)}")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
