"""Errors as answers: every failure is an RFC 9457 problem document (application/problem+json).

Domain errors map to one status each, here and nowhere else. Unexpected errors answer 500 with
the request id and no internals; the stack trace goes to the log.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field

from cradlepose.db.errors import (
    CHECK_VIOLATION,
    FOREIGN_KEY_VIOLATION,
    NOT_NULL_VIOLATION,
    UNIQUE_VIOLATION,
    constraint_name,
    sqlstate,
)
from cradlepose.domain import errors

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://cradle.example.org/problems/"

STATUS_OF: dict[type[errors.DomainError], HTTPStatus] = {
    errors.NotAuthenticated: HTTPStatus.UNAUTHORIZED,
    errors.PermissionDenied: HTTPStatus.FORBIDDEN,
    errors.NotFound: HTTPStatus.NOT_FOUND,
    errors.ValidationFailed: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.StaleVersion: HTTPStatus.PRECONDITION_FAILED,
    errors.PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    errors.Conflict: HTTPStatus.CONFLICT,  # IllegalTransition included
}


class FieldError(BaseModel):
    location: str = Field(description="where in the request: body field path, query or path parameter")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="a URI naming the kind of problem")
    title: str
    status: int
    detail: str
    instance: str | None = Field(default=None, description="the request path")
    request_id: str | None = None
    errors: list[FieldError] | None = Field(
        default=None, description="each invalid field, for validation problems"
    )
    context: dict[str, Any] | None = Field(
        default=None, description="machine-readable specifics, e.g. states"
    )


def status_of(error: errors.DomainError) -> HTTPStatus:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return HTTPStatus.BAD_REQUEST


def response(problem: Problem) -> Response[str]:
    return Response(
        status_code=problem.status,
        content_type=PROBLEM_JSON,
        body=problem.model_dump_json(exclude_none=True),
    )


def from_domain(error: errors.DomainError, instance: str | None, request_id: str | None) -> Problem:
    status = status_of(error)
    field_errors = None
    if isinstance(error, errors.ValidationFailed):
        field_errors = [FieldError(location=p.location, message=p.message) for p in error.problems]
    context = (
        error.context() if isinstance(error, errors.IllegalTransition | errors.DuplicateUpload) else None
    )
    return Problem(
        type=PROBLEM_BASE + error.code,
        title=error.title,
        status=int(status),
        detail=error.detail,
        instance=instance,
        request_id=request_id,
        errors=field_errors,
        context=context,
    )


def from_request_validation(
    items: list[dict[str, Any]], instance: str | None, request_id: str | None
) -> Problem:
    field_errors = [FieldError(location=_location(e.get("loc", ())), message=_message(e)) for e in items]
    return Problem(
        type=PROBLEM_BASE + "validation-failed",
        title="Invalid input",
        status=int(HTTPStatus.UNPROCESSABLE_ENTITY),
        detail="; ".join(f"{f.location}: {f.message}" for f in field_errors) or "the request is not valid",
        instance=instance,
        request_id=request_id,
        errors=field_errors,
    )


def from_database(error: Exception, instance: str | None, request_id: str | None) -> Problem | None:
    """Constraint violations the services did not foresee (races) are conflicts, not crashes."""
    code = sqlstate(error)
    name = constraint_name(error) or "a constraint"
    if code == UNIQUE_VIOLATION:
        detail = f"the change clashes with an existing record ({name})"
        status = HTTPStatus.CONFLICT
    elif code == FOREIGN_KEY_VIOLATION:
        detail = f"the change refers to a record that does not exist or is still referenced ({name})"
        status = HTTPStatus.CONFLICT
    elif code in (CHECK_VIOLATION, NOT_NULL_VIOLATION):
        detail = f"a value is outside its allowed range ({name})"
        status = HTTPStatus.UNPROCESSABLE_ENTITY
    else:
        return None
    return Problem(
        type=PROBLEM_BASE + "constraint",
        title="The change breaks a data rule",
        status=int(status),
        detail=detail,
        instance=instance,
        request_id=request_id,
    )


def internal(instance: str | None, request_id: str | None) -> Problem:
    return Problem(
        type=PROBLEM_BASE + "internal",
        title="Internal error",
        status=500,
        detail="something went wrong on our side; quote the request id when you report it",
        instance=instance,
        request_id=request_id,
    )


def generic(status: HTTPStatus, detail: str, instance: str | None, request_id: str | None) -> Problem:
    return Problem(
        type=PROBLEM_BASE + status.phrase.lower().replace(" ", "-"),
        title=status.phrase,
        status=int(status),
        detail=detail,
        instance=instance,
        request_id=request_id,
    )


def _location(loc: Any) -> str:
    parts = [str(p) for p in loc]
    if not parts:
        return "(request)"
    head, rest = parts[0], parts[1:]
    text = head
    for part in rest:
        text += f"[{part}]" if part.isdigit() else f".{part}"
    return text


def _message(item: dict[str, Any]) -> str:
    # Pydantic's own words, without the input value (it may be large, or sensitive).
    return str(item.get("msg") or item.get("type") or "invalid").removeprefix("Value error, ")


def documented(success: int, *problem_statuses: int) -> dict[int, Any]:
    """OpenAPI responses of a route: its success (the return type's schema) and its problems.

    Powertools documents no success response once `responses` is given, so it is always listed.
    """
    result: dict[int, Any] = {success: {"description": HTTPStatus(success).phrase}}
    for status in problem_statuses:
        result[status] = {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"model": Problem}},
        }
    return result
