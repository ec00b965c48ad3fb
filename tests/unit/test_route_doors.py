"""Every route declares who may call it, as exactly one door from api.dependencies.DOORS.

The door is what api.edge resolves before the request is parsed; a route that took its caller some
other way (the bare `caller` dependency) would parse the body, and perhaps touch data, before
anyone asked whether the caller may call it at all.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.unit

OPEN = {"/health"}  # no token needed


def _routes() -> list[Any]:
    from api.handler import app  # noqa: PLC0415

    app.include_all_routers()  # routers load on first use (api.resolver.LazyRoutersResolver)
    return [r for r in app._static_routes + app._dynamic_routes if r.include_in_schema]


def _doors(route: Any) -> list[str]:
    from aws_lambda_powertools.event_handler.depends import build_dependency_tree  # noqa: PLC0415

    from api.dependencies import DOORS, caller  # noqa: PLC0415

    nodes = build_dependency_tree(route.func).dependencies
    assert all(n.depends.dependency is not caller for n in nodes), "takes the bare caller, no door"
    return [n.depends.dependency.__name__ for n in nodes if n.depends.dependency in DOORS]


def test_every_route_but_health_has_exactly_one_door() -> None:
    routes = _routes()
    assert len(routes) > 90
    for route in routes:
        doors = _doors(route)
        expected = 0 if route.path in OPEN else 1
        assert len(doors) == expected, f"{route.method} {route.path}: {doors}"


def test_the_validation_middleware_is_the_one_that_opens_the_door_first() -> None:
    from api.edge import DoorThenValidation  # noqa: PLC0415
    from api.handler import app  # noqa: PLC0415

    assert isinstance(app._request_validation_middleware, DoorThenValidation)
