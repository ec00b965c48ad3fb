"""Reading PostgreSQL's answer out of a driver error.

pg8000 raises ProgrammingError for most server errors (a check violation included), so the
class says little; the SQLSTATE code says what happened.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DBAPIError

UNIQUE_VIOLATION = "23505"
CHECK_VIOLATION = "23514"
FOREIGN_KEY_VIOLATION = "23503"
NOT_NULL_VIOLATION = "23502"
SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"


def server_error(exc: BaseException) -> dict[str, Any]:
    """The fields of PostgreSQL's ErrorResponse (C: SQLSTATE, n: constraint, M: message), if any."""
    if isinstance(exc, DBAPIError) and exc.orig is not None and exc.orig.args:
        fields = exc.orig.args[0]
        if isinstance(fields, dict):
            return fields
    return {}


def sqlstate(exc: BaseException) -> str | None:
    code = server_error(exc).get("C")
    return str(code) if code is not None else None


def constraint_name(exc: BaseException) -> str | None:
    name = server_error(exc).get("n")
    return str(name) if name is not None else None


def loggable(exc: BaseException) -> dict[str, Any]:
    """What a log line may say about a database error: the SQLSTATE, the constraint and the
    statement with its placeholders. PostgreSQL's own message and detail quote the values (an
    original filename in `invalid input syntax ...` or `Key (filename)=(...) already exists`), so
    they stay out, as the engine's `hide_parameters` keeps SQLAlchemy's parameter list out."""
    fields = server_error(exc)
    statement = exc.statement if isinstance(exc, DBAPIError) else None
    return {
        "error_type": type(exc).__name__,
        "sqlstate": fields.get("C"),
        "constraint": fields.get("n"),
        "statement": " ".join(str(statement).split())[:500] if statement else None,
    }
