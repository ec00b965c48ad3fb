"""The API's router table (api.routers) matches the routes: the resolver includes routers by the first
segment of a request's path, so a router missing from BY_SEGMENT would answer 404 for its routes."""

from __future__ import annotations

import importlib

import pytest

from api.routers import ALL, BY_SEGMENT
from tests.support import ROOT

pytestmark = pytest.mark.unit


def _declared_segments() -> dict[str, tuple[str, ...]]:
    by_segment: dict[str, list[str]] = {}
    for name in ALL:
        router = importlib.import_module(f"api.routers.{name}").router
        for rule, *_ in router._routes:
            segment = rule.strip("/").split("/", 1)[0]
            # A path parameter first would match every segment: the table could not place it.
            assert segment, (name, rule)
            assert not set(segment) & set("{<"), (name, rule)
            names = by_segment.setdefault(segment, [])
            if name not in names:
                names.append(name)
    return {segment: tuple(names) for segment, names in by_segment.items()}


def test_every_router_module_is_named_once() -> None:
    files = {p.stem for p in (ROOT / "functions/api/routers").glob("*.py") if p.stem != "__init__"}
    assert sorted(ALL) == sorted(files)


def test_each_segment_names_exactly_the_routers_that_serve_it_in_inclusion_order() -> None:
    assert _declared_segments() == BY_SEGMENT
