"""tools/mutate.py makes the mutants issue 22 asked for: tables included, sources that still parse."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cradlepose.domain.enums import AnnotationStatus, ImageStatus

pytestmark = pytest.mark.unit

TOOL = Path(__file__).resolve().parents[2] / "tools" / "mutate.py"


@pytest.fixture(scope="module")
def mutate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cradle_mutate_tool", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def transition_mutants(mutate: ModuleType) -> list[Any]:
    return list(mutate.mutants_of("transitions"))


def table_of(source: str, name: str) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<mutant>", "exec"), namespace)  # the tool's own mutant
    return namespace[name]


def test_an_illegal_move_added_to_a_transition_table_is_a_mutant(transition_mutants: list[Any]) -> None:
    added = [m for m in transition_mutants if m.operator == "table" and m.detail == "add:APPROVED"]
    tables = [table_of(m.source, "IMAGE") for m in added]
    assert any(t.can(ImageStatus.SUBMITTED, ImageStatus.APPROVED) for t in tables)
    annotation_tables = [table_of(m.source, "ANNOTATION") for m in added]
    assert any(t.can(AnnotationStatus.DRAFT, AnnotationStatus.APPROVED) for t in annotation_tables)


def test_a_documented_exception_move_deleted_is_a_mutant(transition_mutants: list[Any]) -> None:
    deleted = [
        table_of(m.source, "IMAGE")
        for m in transition_mutants
        if m.operator == "table" and m.detail.startswith("del[") and m.detail.endswith("Im.SUBMITTED")
    ]
    assert any(not t.can(ImageStatus.UNDER_REVIEW, ImageStatus.SUBMITTED) for t in deleted)


def test_every_mutant_parses_differs_from_the_original_and_has_a_unique_id(mutate: ModuleType) -> None:
    for module in ("quality", "promotion", "lifecycles"):
        mutants = mutate.mutants_of(module)
        original = ast.unparse(ast.parse((mutate.DOMAIN / f"{module}.py").read_text()))
        assert mutants
        assert len({m.id for m in mutants}) == len(mutants)
        for m in mutants:
            ast.parse(m.source)
            assert m.source != original
        if module == "lifecycles":  # module-level tables are mutated too
            assert {m.operator for m in mutants} == {"table"}


def test_docstrings_and_decorators_are_left_alone(mutate: ModuleType) -> None:
    mutants = mutate.mutants_of("promotion")
    assert not [m for m in mutants if m.operator == "const" and m.detail in {"True->False"}]


def test_an_equivalent_needs_a_reason(mutate: ModuleType, tmp_path: Path) -> None:
    listed = tmp_path / "eq.txt"
    listed.write_text("# comment\n\nquality:1:0:const:1->2  # never read\n")
    assert mutate.load_equivalents(listed) == {"quality:1:0:const:1->2": "never read"}
    listed.write_text("quality:1:0:const:1->2\n")
    with pytest.raises(SystemExit, match="needs a reason"):
        mutate.load_equivalents(listed)
