"""Powertools reads a route's type hints on every request; these are read once per function.

Powertools (3.x) builds a route's dependency tree from `typing.get_type_hints` of the route and of
every dependency, and calls `get_type_hints` again for each dependency it solves, on every request.
With `from __future__ import annotations` each call compiles and evaluates every annotation
string: about a millisecond per GET /me, a third of its time (bench/request_overhead.py --profile).
A function's hints and the tree they describe do not change while the process runs, so both are
memoized, bounded, keyed by the function itself. What is *resolved* is not cached: the
dependencies still run on every request, overrides (tests) still apply, and the per-request cache
of solved values stays Powertools' own.

`install()` puts the memoized functions where Powertools looks them up (module attributes read at
call time); tests/unit/test_dependency_cache.py fails if an upgrade stops reading them there.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import depends

_MAX_FUNCTIONS = 4096  # routes and dependencies: a few hundred; tests' overrides add some
_original_build = depends.build_dependency_tree


@lru_cache(maxsize=_MAX_FUNCTIONS)
def _type_hints(obj: Callable[..., Any], include_extras: bool) -> dict[str, Any]:
    return typing.get_type_hints(obj, include_extras=include_extras)


def type_hints(
    obj: Callable[..., Any], globalns: Any = None, localns: Any = None, include_extras: bool = False
) -> dict[str, Any]:
    """`typing.get_type_hints`, memoized per function (a copy: callers may not share the dict)."""
    if globalns is not None or localns is not None:
        return typing.get_type_hints(obj, globalns, localns, include_extras)
    try:
        return dict(_type_hints(obj, include_extras))
    except TypeError:  # an unhashable callable: nothing to key it by
        return typing.get_type_hints(obj, include_extras=include_extras)


@lru_cache(maxsize=_MAX_FUNCTIONS)
def dependency_tree(func: Callable[..., Any]) -> depends.DependencyTree:
    """Powertools' dependency tree of a function, built once (it is read, never changed)."""
    return _original_build(func)


def install() -> None:
    """Make Powertools use the memoized hints and trees (idempotent)."""
    setattr(depends, "get_type_hints", type_hints)  # noqa: B010 - a name it imported, not one it exports
    depends.build_dependency_tree = dependency_tree
