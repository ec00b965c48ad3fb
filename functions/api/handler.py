"""The API Lambda's entry point: the resolver (api.resolver), its errors as problem documents."""

from __future__ import annotations

import base64
import binascii
import json
import re
import traceback
from functools import lru_cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.utilities.typing import LambdaContext
from sqlalchemy.exc import DBAPIError

from api import dependencies, problems
from api.dependencies import CALLER_KEY, Caller
from api.observability import logger, metrics, traced
from api.openapi import document
from api.resolver import app
from cradlepose.db import errors as database_errors
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext, session_id_of
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.enums import AuditCategory, AuditStatus
from cradlepose.domain.errors import DomainError

__all__ = ["app", "lambda_handler"]  # app, from api.resolver: tests and the bench override its dependencies

MAX_JSON_BODY = 1024 * 1024  # API requests are small; image bytes go straight to S3
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Refusals of a mutating request that leave an audit row (docs/api.md, "Errors"): all the 4xx
# this API answers, including those answered before the body is parsed or a route matched.
AUDITED_FAILURES = frozenset({400, 401, 403, 404, 405, 409, 412, 413, 415, 422})


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(status_code=200, content_type="application/json", body=json.dumps(document()))


# ------------------------------------------------------------------ errors as answers


def _where() -> tuple[str | None, str | None]:
    event = app.current_event
    return event.path, event.request_context.request_id


def _problem(status: HTTPStatus, detail: str) -> Response[str]:
    return problems.response(problems.generic(status, detail, *_where()))


@app.exception_handler(DomainError)
def domain_error(error: DomainError) -> Response[str]:
    problem = problems.from_domain(error, *_where())
    _audit_failure(problem)
    metrics.add_metric(name="ClientErrors", unit="Count", value=1)
    return problems.response(problem)


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response[str]:
    items = list(error.errors())
    if any(item.get("type") == "json_invalid" for item in items):
        invalid = problems.generic(HTTPStatus.BAD_REQUEST, "the request body is not valid JSON", *_where())
        _audit_failure(invalid)
        return problems.response(invalid)
    problem = problems.from_request_validation(items, *_where())
    _audit_failure(problem)
    return problems.response(problem)


@app.exception_handler(DBAPIError)
def database_error(error: DBAPIError) -> Response[str]:
    problem = problems.from_database(error, *_where())
    if problem is None:
        response: Response[str] = unexpected(error)
        return response
    _audit_failure(problem)
    return problems.response(problem)


@app.not_found
def not_found(_: NotFoundError) -> Response[str]:
    event = app.current_event
    allowed = allowed_methods(event.path)
    if allowed:
        refused = problems.generic(
            HTTPStatus.METHOD_NOT_ALLOWED, f"{event.http_method} is not allowed on {event.path}", *_where()
        )
        _audit_failure(refused)
        response = problems.response(refused)
        response.headers["Allow"] = ", ".join(sorted(allowed))
        return response
    missing = problems.generic(HTTPStatus.NOT_FOUND, f"no route {event.http_method} {event.path}", *_where())
    _audit_failure(missing)
    return problems.response(missing)


def _route_patterns() -> list[tuple[re.Pattern[str], frozenset[str]]]:
    # Routers are included as requests need them (api.resolver): the table follows the route count.
    return _route_patterns_of(len(app._static_routes) + len(app._dynamic_routes))


@lru_cache(maxsize=1)
def _route_patterns_of(_route_count: int) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    methods: dict[str, set[str]] = {}
    for route in app._static_routes + app._dynamic_routes:
        methods.setdefault(route.rule.pattern, set()).update(route.method.split("|"))
    return [(re.compile(pattern), frozenset(m)) for pattern, m in methods.items()]


def allowed_methods(path: str) -> frozenset[str]:
    """The methods a path does answer to, for a 405 instead of a 404."""
    allowed: set[str] = set()
    for pattern, methods in _route_patterns():
        if pattern.match(path):
            allowed |= methods
    return frozenset(allowed)


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response[str]:
    if isinstance(error, DBAPIError):
        # The server's message quotes values (PHI): log the code, the statement and where.
        stack = "".join(traceback.format_tb(error.__traceback__))
        logger.error("unexpected database error", extra={**database_errors.loggable(error), "stack": stack})
    else:
        logger.exception("unexpected error", extra={"error_type": type(error).__name__})
    metrics.add_metric(name="ServerErrors", unit="Count", value=1)
    return problems.response(problems.internal(*_where()))


def _audit_failure(problem: problems.Problem) -> None:
    """Refused attempts to change something are audited too, in a transaction of their own."""
    event = app.current_event
    if event.http_method not in MUTATING or problem.status not in AUDITED_FAILURES:
        return
    caller: Caller | None = app.context.get(CALLER_KEY)
    if caller is None:  # refused before any route ran: no caller was resolved
        _audit_unresolved(event.raw_event, problem)
        return
    resource_type, resource_id = _resource_of(app.context.get("_route_args") or {}, event.path)
    try:
        with caller.uow() as uow:
            uow.audit(
                AuditEntry(
                    action=f"{event.http_method} {caller.route}"[:100],
                    category=AuditCategory.SYSTEM,
                    resource_type=resource_type,
                    resource_id=resource_id,
                    status=AuditStatus.FAILED,
                    error_message=problem.detail[:2000],
                    http_status=problem.status,
                )
            )
            uow.commit()
    except Exception:  # the answer matters more than the record of a refusal
        logger.exception("could not audit a refused request")


def _audit_unresolved(event: dict[str, Any], problem: problems.Problem) -> None:
    """The audit row of a mutating request refused before a route ran (unparsed body, no route):
    who by the token's subject, from where by the gateway's source ip and user agent."""
    method = str(event.get("httpMethod") or "").upper()
    if method not in MUTATING or problem.status not in AUDITED_FAILURES:
        return
    path = str(event.get("path") or "")
    request = event.get("requestContext") or {}
    identity = request.get("identity") or {}
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    claims = (request.get("authorizer") or {}).get("claims") or {}
    context = RequestContext(
        ip_address=identity.get("sourceIp") or "0.0.0.0",  # noqa: S104 - a placeholder address, not a bind
        user_agent=identity.get("userAgent") or headers.get("user-agent"),
        endpoint=path[:200],
        method=method[:10],
        request_id=request.get("requestId"),
        session_id=session_id_of(claims),
    )
    resource_type, resource_id = _resource_of({}, path)
    digits = [segment for segment in path.split("/") if segment.isdigit() and len(segment) < 19]
    try:
        with _unit_of_work_factory()(None, context) as uow:
            # Never the actor's name: a token's username is not an identity (issue 18).
            user = uow.users.by_subject(str(claims["sub"])) if claims.get("sub") else None
            row = uow.audit(
                AuditEntry(
                    action=f"{method} {path}"[:100],
                    category=AuditCategory.SYSTEM,
                    resource_type=resource_type,
                    resource_id=int(digits[0]) if digits else resource_id,
                    status=AuditStatus.FAILED,
                    error_message=problem.detail[:2000],
                    http_status=problem.status,
                    system_context={"token_subject": claims.get("sub")} if claims.get("sub") else None,
                )
            )
            row.user_id = user.id if user is not None else None
            uow.commit()
    except Exception:  # the answer matters more than the record of a refusal
        logger.exception("could not audit a refused request")


def _unit_of_work_factory() -> UnitOfWorkFactory:
    """The API's unit-of-work factory as the routes get it (tests override the dependency)."""
    provider = app.dependency_overrides.get(dependencies.uow_factory, dependencies.uow_factory)
    factory: UnitOfWorkFactory = provider()
    return factory


_RESOURCE_TYPES = {
    "users": "User", "schemas": "KeypointSchema", "models": "MLModelConfig", "batches": "ImageBatch",
    "images": "Image", "annotations": "Annotation", "assignments": "BatchAssignment", "anomaly": "Anomaly",
    "datasets": "Dataset", "collections": "Collection", "dataset-imports": "DatasetImport",
    "training-jobs": "TrainingJob", "inference-jobs": "InferenceJob",
    "sigma-calibrations": "SigmaCalibration", "vocabulary-terms": "VocabularyTerm",
}  # fmt: skip


def _resource_of(route_args: dict[str, Any], path: str) -> tuple[str, int]:
    segment = path.strip("/").split("/", 1)[0]
    resource_type = _RESOURCE_TYPES.get(segment, segment[:50] or "Api")
    for value in route_args.values():
        if str(value).isdigit():
            return resource_type, int(value)
    return resource_type, 0


# ------------------------------------------------------------------ entry point


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
# Powertools prints the cold-start metric even with metrics disabled (as the local stack has them).
@metrics.log_metrics(capture_cold_start_metric=not is_metrics_disabled())
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    refusal = _refuse_before_parsing(event)
    if refusal is not None:
        _audit_unresolved(event, refusal)
        return _raw_problem(event, refusal)
    return app.resolve(event, context)


def _refuse_before_parsing(event: dict[str, Any]) -> problems.Problem | None:
    """Bodies the API never parses: too large, or not JSON (it speaks nothing else)."""
    body = event.get("body") or ""
    if not body:
        return None
    path, request_id = event.get("path"), (event.get("requestContext") or {}).get("requestId")
    if len(body) > MAX_JSON_BODY:
        detail = f"the request body is over {MAX_JSON_BODY} bytes; image bytes go to S3 through upload forms"
        return problems.generic(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, detail, path, request_id)
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    media_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        detail = f"the body must be application/json, not {media_type or 'untyped'}"
        return problems.generic(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, detail, path, request_id)
    if event.get("isBase64Encoded"):
        try:
            base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return problems.generic(
                HTTPStatus.BAD_REQUEST, "the body is not UTF-8 JSON text", path, request_id
            )
    return None


def _raw_problem(event: dict[str, Any], problem: problems.Problem) -> dict[str, Any]:
    return {
        "statusCode": problem.status,
        "headers": {"Content-Type": problems.PROBLEM_JSON},
        "body": problem.model_dump_json(exclude_none=True),
        "isBase64Encoded": False,
    }
