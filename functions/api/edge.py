"""What happens to a request before its parameters and body are parsed: the door, then NUL.

Powertools runs its request validation middleware before every other middleware and resolves a
route's dependencies only after it, so a caller without the role would be told first what was
wrong with their body (422), and a body Powertools accepts would reach the route. This subclass
of that middleware, installed as the app's own (api.resolver), first resolves the route's door
(api.dependencies.DOORS: a 401 or 403 for a caller who may not call the route at all, whatever
they sent), then refuses any string that holds NUL, which PostgreSQL cannot store (422 naming
where), and only then lets Powertools validate the parameters and the body.

The door is resolved into the same per-request cache the route's dependencies use, so the caller
is looked up once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import _DEPENDS_CACHE_KEY, Route
from aws_lambda_powertools.event_handler.depends import DependencyTree, solve_dependencies
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.types import EventHandlerInstance

from api.dependencies import DOORS
from api.dependency_cache import dependency_tree
from cradlepose.domain.bounds import NUL, NUL_MESSAGE, nul_locations
from cradlepose.domain.errors import FieldProblem, ValidationFailed


class DoorThenValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, preceded by the route's door and the NUL check."""

    def handler(self, app: EventHandlerInstance, next_middleware: NextMiddleware) -> Any:
        route: Route = app.context["_route"]
        open_door(app, route)
        refuse_nul(app)
        return super().handler(app, next_middleware)


def open_door(app: EventHandlerInstance, route: Route) -> None:
    """Resolve the route's door (it raises NotAuthenticated or PermissionDenied)."""
    doors = _doors_of(route.func)
    if not doors.dependencies:
        return
    solve_dependencies(
        dependant=doors,
        request=app.request,
        dependency_overrides=app.dependency_overrides or None,
        dependency_cache=app.context.setdefault(_DEPENDS_CACHE_KEY, {}),
    )


@lru_cache(maxsize=4096)
def _doors_of(func: Callable[..., Any]) -> DependencyTree:
    """The part of a route's dependency tree that is its door, found once per route."""
    tree = dependency_tree(func)
    return DependencyTree(
        dependencies=[node for node in tree.dependencies if node.depends.dependency in DOORS]
    )


def refuse_nul(app: EventHandlerInstance) -> None:
    """422 naming every path parameter, query parameter and body string (value or key) with NUL."""
    event = app.current_event
    found: list[str] = []
    for name, value in (app.context.get("_route_args") or {}).items():
        found += nul_locations(value, f"path.{name}")
    multi = event.multi_value_query_string_parameters or {}
    single = event.query_string_parameters or {}
    for name in {*multi, *single}:
        values: list[str] = multi.get(name) or [single.get(name) or ""]
        if nul_locations([name, *values], ""):
            found.append(f"query.{name.replace(NUL, '')}")
    body = event.decoded_body if event.body else None
    if body:
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None  # Powertools answers 400 for a body that is not JSON
        found += nul_locations(decoded, "body")
    if found:
        raise ValidationFailed([FieldProblem(where, NUL_MESSAGE) for where in dict.fromkeys(found)])
