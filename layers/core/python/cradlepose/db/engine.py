"""Engines over pg8000: one per execution environment, created on first use.

Locally the URL comes from settings (the embedded PostgreSQL listens on a unix socket:
`postgresql+pg8000://postgres@/cradle?unix_sock=/path/.s.PGSQL.5432`). In the cloud the
Lambda connects to RDS Proxy over TLS, with a password from Secrets Manager or an IAM token.
A Lambda serves one request at a time, so its pool holds one connection (`pool_size=1`),
pinged before use when it sat idle, because the environment may sleep between invocations.

A connection runs no statement of its own when it opens: a `SET` would pin the client's session
to one database connection at RDS Proxy for its whole life, and every Lambda's would. The session
settings Cradle relies on (`SESSION_DEFAULTS`: statement timeout, UTC) are the role's own defaults
instead (`ALTER ROLE … SET`, applied by every migration run, `cradlepose.db.migrate`), which
PostgreSQL gives each new session, the proxy's pooled ones included.

Per request (bench/request_overhead.py): a connection is pinged when it is checked out after
sitting idle for over `PING_AFTER_IDLE_S` (an environment that slept, a proxy that may have
dropped it), not on every checkout, which cost two round trips per unit of work (pg8000 opens a
transaction for the ping); a connection that fails anyway is invalidated by SQLAlchemy and the
next checkout gets a new one. And pg8000's rewriting of `%s` placeholders into `$1`, a Python
scan of the statement character by character (0.3 ms for a users row select), is done once per
distinct statement text (`fewer_pg8000_round_trips`).
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import time
from functools import lru_cache
from typing import Any

import pg8000.converters
import pg8000.core
import pg8000.legacy
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.settings import Settings, get_settings

PING_AFTER_IDLE_S = 5.0  # a connection used this recently is not pinged again before use
_LAST_USED = "cradle_last_used"  # monotonic seconds, in the pool record's info

_lock = threading.Lock()
_engine: Engine | None = None
_session_factory: sessionmaker[Session] | None = None


def _json_serializer(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def session_defaults(settings: Settings) -> dict[str, str]:
    """The session settings every connection must have, as the role's defaults (never a SET)."""
    return {"statement_timeout": str(int(settings.db_statement_timeout_ms)), "TimeZone": "UTC"}


def url_from_settings(settings: Settings) -> URL:
    if settings.database_url is not None:
        return sa.make_url(settings.database_url.get_secret_value())
    if not settings.db_host:
        raise RuntimeError("no database configured: set CRADLE_DATABASE_URL or CRADLE_DB_HOST")
    user, password = settings.db_user, None
    if settings.db_secret_arn and not settings.db_iam_auth:
        secret = read_secret(settings, settings.db_secret_arn)
        user, password = secret.get("username", user), secret["password"]
    return URL.create(
        "postgresql+pg8000",
        username=user,
        password=password,
        host=settings.db_host,
        port=settings.db_port,
        database=settings.db_name,
    )


def read_secret(settings: Settings, arn: str) -> dict[str, Any]:
    import boto3  # noqa: PLC0415 - only the cloud path needs it, and only once per environment

    client = boto3.client("secretsmanager", region_name=settings.aws_region)
    value: dict[str, Any] = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
    return value


def migration_settings(settings: Settings) -> Settings:
    """The settings to migrate with: the migration role's URL where one is set apart from the app's.

    In the cloud the migrate function is itself configured as the owner (CRADLE_DB_USER), so its
    settings are already the migration's; locally CRADLE_MIGRATION_DATABASE_URL names the owner.
    """
    if settings.migration_database_url is None:
        return settings
    return settings.model_copy(update={"database_url": settings.migration_database_url})


def create_engine(settings: Settings | None = None, **overrides: Any) -> Engine:
    settings = settings or get_settings()
    url = url_from_settings(settings)
    connect_args: dict[str, Any] = {}
    if url.host and settings.stage in ("dev", "prod"):  # the cloud always speaks TLS to the proxy
        connect_args["ssl_context"] = ssl.create_default_context()
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": 2 if settings.db_pool_size > 1 else 0,
        "pool_pre_ping": False,  # pinged when idle instead (ping_when_idle)
        "pool_recycle": 900,
        # A failed statement's message goes to the logs: it names the SQL, never the values
        # (filenames, infant metadata, keypoints).
        "hide_parameters": True,
        "json_serializer": _json_serializer,
        "connect_args": connect_args,
    }
    options.update(overrides)
    fewer_pg8000_round_trips()
    engine = sa.create_engine(url, **options)
    ping_when_idle(engine, PING_AFTER_IDLE_S)
    if settings.db_iam_auth:
        _use_iam_tokens(engine, settings)
    return engine


def ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Ping a pooled connection at checkout only when it has been idle for over `idle_s` seconds.

    A dead connection found by the ping raises DisconnectionError, on which the pool discards it
    and checks out (connects) another, as `pool_pre_ping` does.
    """

    @sa.event.listens_for(engine, "connect")
    def _fresh(dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()
        if isinstance(dbapi_connection, pg8000.legacy.Connection):
            read_timestamps_fast(dbapi_connection)

    @sa.event.listens_for(engine, "checkin")
    def _used(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_LAST_USED] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last_used = record.info.get(_LAST_USED)
        if last_used is not None and time.monotonic() - last_used <= idle_s:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise sa.exc.DisconnectionError("the pooled connection did not answer a ping") from error
        if not alive:
            raise sa.exc.DisconnectionError("the pooled connection did not answer a ping")
        record.info[_LAST_USED] = time.monotonic()


_convert_paramstyle = pg8000.legacy.convert_paramstyle


@lru_cache(maxsize=2048)
def _positional(style: str, query: str) -> str:
    return str(_convert_paramstyle(style, query, ())[0])


def _convert_paramstyle_once(style: str, query: str, args: Any) -> tuple[str, Any]:
    """pg8000's placeholder rewrite; for the positional styles (SQLAlchemy's is `format`) the
    rewritten text depends on the statement text alone, so it is computed once per text."""
    if style in ("format", "numeric", "qmark"):
        return _positional(style, query), args
    result: tuple[str, Any] = _convert_paramstyle(style, query, args)
    return result


def _execute_unnamed_in_one_trip(
    self: pg8000.legacy.Connection, statement: str, vals: Any = (), oids: Any = (), stream: Any = None
) -> Any:
    """pg8000's extended-protocol execution, in one round trip instead of three.

    pg8000 sends Parse and waits, Describe and waits, then Bind and Execute; PostgreSQL accepts the
    four messages and one Sync in a single write, answering in the same order (an error skips to
    the Sync, and `handle_messages` raises it once ReadyForQuery arrives, as before). The
    parameters' types come from the Python values (`make_params`), never from the Describe, so
    nothing needs the answers in between.
    """
    context = pg8000.core.Context(statement, stream=stream)
    self.send_PARSE(pg8000.core.NULL_BYTE, statement, oids)
    self.send_DESCRIBE_STATEMENT(pg8000.core.NULL_BYTE)
    self.send_BIND(pg8000.core.NULL_BYTE, pg8000.core.make_params(self.py_types, vals))
    self.send_EXECUTE()
    pg8000.core._write(self._sock, pg8000.core.SYNC_MSG)
    pg8000.core._flush(self._sock)
    self.handle_messages(context)
    return context


def _commit_in_one_trip(self: pg8000.legacy.Connection) -> None:
    """COMMIT as a simple query: one round trip (pg8000 sends it through the extended protocol)."""
    self.execute_simple("commit")


def _rollback_in_one_trip(self: pg8000.legacy.Connection) -> None:
    if self._in_transaction:
        self.execute_simple("rollback")


TIMESTAMP_OID, TIMESTAMPTZ_OID = 1114, 1184


def _timestamp_in(text: str) -> Any:
    """PostgreSQL's text form of a timestamp, parsed by `datetime.fromisoformat` (C code), with
    pg8000's own parser for anything else (infinity, years BC or past 9999). pg8000's parser runs
    `strptime`, a Python regular-expression parse costing ~25 µs a value (2 per users row)."""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return pg8000.converters.timestamp_in(text)


def _timestamptz_in(text: str) -> Any:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return pg8000.converters.timestamptz_in(text)


def read_timestamps_fast(connection: pg8000.legacy.Connection) -> None:
    connection.register_in_adapter(TIMESTAMP_OID, _timestamp_in)
    connection.register_in_adapter(TIMESTAMPTZ_OID, _timestamptz_in)


def fewer_pg8000_round_trips() -> None:
    """Install the memoized placeholder rewrite where pg8000's cursor looks it up, and the
    one-round-trip statement, COMMIT and ROLLBACK on its connection (idempotent)."""
    pg8000.legacy.convert_paramstyle = _convert_paramstyle_once
    pg8000.legacy.Connection.execute_unnamed = _execute_unnamed_in_one_trip
    pg8000.legacy.Connection.commit = _commit_in_one_trip
    pg8000.legacy.Connection.rollback = _rollback_in_one_trip


def _use_iam_tokens(engine: Engine, settings: Settings) -> None:
    """Give every new connection a fresh 15-minute IAM auth token instead of a password."""
    import boto3  # noqa: PLC0415

    rds = boto3.client("rds", region_name=settings.aws_region)

    @sa.event.listens_for(engine, "do_connect")
    def _token(_dialect: Any, _record: Any, _args: Any, kwargs: dict[str, Any]) -> None:
        kwargs["password"] = rds.generate_db_auth_token(
            DBHostname=settings.db_host, Port=settings.db_port, DBUsername=settings.db_user
        )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def default_session_factory() -> sessionmaker[Session]:
    """The process-wide session factory, built from settings on first use."""
    global _engine, _session_factory  # noqa: PLW0603 - one engine per execution environment
    if _session_factory is None:
        with _lock:
            if _session_factory is None:
                _engine = create_engine()
                _session_factory = make_session_factory(_engine)
    return _session_factory


def reset_default_engine() -> None:
    """Dispose of the process-wide engine (tests and the local stack change databases)."""
    global _engine, _session_factory
    with _lock:
        if _engine is not None:
            _engine.dispose()
        _engine, _session_factory = None, None
