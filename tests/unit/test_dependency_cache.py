"""Type hints and dependency trees are read once per function, and Powertools uses them."""

from __future__ import annotations

import typing
from typing import Annotated

import pytest
from aws_lambda_powertools.event_handler import depends
from aws_lambda_powertools.event_handler.depends import Depends

from api import dependency_cache, resolver  # noqa: F401 - importing the resolver installs the cache

pytestmark = pytest.mark.unit


def _answer() -> int:
    return 42


def _route(answer: Annotated[int, Depends(_answer)], other: str = "") -> str:
    return f"{answer}{other}"


def test_powertools_reads_hints_and_trees_through_the_cache() -> None:
    # If a Powertools upgrade stops looking these up as module attributes, the saving is gone.
    assert getattr(depends, "get_type_hints") is dependency_cache.type_hints  # noqa: B009
    assert depends.build_dependency_tree is dependency_cache.dependency_tree


def test_the_cached_hints_are_typings_own_and_a_fresh_copy_each_time() -> None:
    # (each evaluation of the annotation strings makes a new Depends, so compare what they say)
    first = dependency_cache.type_hints(_route, include_extras=True)
    fresh = typing.get_type_hints(_route, include_extras=True)
    assert first.keys() == fresh.keys() == {"answer", "other", "return"}
    assert typing.get_args(first["answer"])[0] is int
    assert typing.get_args(first["answer"])[1].dependency is _answer
    first["answer"] = str  # a caller changing its dict changes nobody else's
    assert dependency_cache.type_hints(_route, include_extras=True)["answer"] is not str
    assert dependency_cache.type_hints(_route) == typing.get_type_hints(_route)


def test_a_tree_is_built_once_and_still_solved_per_call_with_overrides() -> None:
    tree = dependency_cache.dependency_tree(_route)
    assert dependency_cache.dependency_tree(_route) is tree
    assert [node.param_name for node in tree.dependencies] == ["answer"]
    assert depends.solve_dependencies(dependant=tree) == {"answer": 42}
    solved = depends.solve_dependencies(dependant=tree, dependency_overrides={_answer: lambda: 7})
    assert solved == {"answer": 7}
