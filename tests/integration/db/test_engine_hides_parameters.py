"""A failed statement's values (filenames, infant metadata) never reach a log line."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from cradlepose.db.errors import loggable

pytestmark = pytest.mark.integration

SECRET = "baby-jane-doe-2026-03-01.jpg"


def _failure(engine: sa.Engine) -> sa.exc.DBAPIError:
    with pytest.raises(sa.exc.DBAPIError) as failure, engine.connect() as connection:
        connection.execute(sa.text("SELECT CAST(:name AS integer)"), {"name": SECRET})
    return failure.value


def test_sqlalchemy_hides_the_parameters_of_a_failed_statement(engine: sa.Engine) -> None:
    # When a statement with a value that must not be logged fails in the database
    error = _failure(engine)
    # Then SQLAlchemy's part of the message names the statement and hides the parameter list
    message = str(error)
    assert "[SQL: SELECT CAST(%s AS integer)]" in message
    assert "[SQL parameters hidden due to hide_parameters=True]" in message


def test_what_the_api_logs_of_a_database_error_carries_no_value(engine: sa.Engine) -> None:
    # Given a failure whose server message quotes the value (PostgreSQL does: invalid input syntax)
    error = _failure(engine)
    assert SECRET in str(error.orig)
    # Then the fields the API logs name the code and the statement, and not the value
    fields = loggable(error)
    assert fields["sqlstate"] == "22P02"
    assert fields["statement"] == "SELECT CAST(%s AS integer)"
    assert SECRET not in json.dumps(fields)
