"""docs/architecture.md and the import-linter contracts describe the same shape, and cover every package.

import-linter (`make lint`) proves the imports follow the contracts; these tests prove the
contracts name every package the code has, and that the page a newcomer reads names the same
capabilities and the same declared paths between them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

import cradlepose

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(cradlepose.__file__).parent
DOC = (ROOT / "docs" / "architecture.md").read_text()


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def _layered_modules() -> set[str]:
    return {name.strip() for layer in _contracts()["layers"]["layers"] for name in re.split(r"[|:]", layer)}


def _top_level_modules(package_dir: Path, package: str) -> set[str]:
    names = {f"{package}.{p.stem}" for p in package_dir.glob("*.py") if p.stem != "__init__"}
    names |= {f"{package}.{p.name}" for p in package_dir.iterdir() if (p / "__init__.py").is_file()}
    return names


def _doc_table(heading: str) -> list[list[str]]:
    section = DOC.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip().strip("`") for cell in row.strip("|").split("|")] for row in rows]


def test_every_module_of_the_package_sits_in_a_layer() -> None:
    # Given every top-level module and subpackage of cradlepose
    modules = _top_level_modules(PACKAGE, "cradlepose")
    # Then the layers contract places each of them (a new package must choose its layer)
    assert modules - _layered_modules() == set()


def test_the_layers_name_no_module_that_is_gone() -> None:
    stale = {m for m in _layered_modules() if m.startswith("cradlepose.")} - _top_level_modules(
        PACKAGE, "cradlepose"
    )
    assert stale == set()


def test_the_doc_names_the_capabilities_of_the_independence_contract() -> None:
    # Given the capabilities table of docs/architecture.md
    documented = {f"cradlepose.{row[0]}" for row in _doc_table("The capabilities")}
    # Then they are exactly the modules the independence contract keeps apart
    assert documented == set(_contracts()["capabilities"]["modules"])


def test_the_doc_lists_each_capabilitys_modules() -> None:
    for capability, _, modules in _doc_table("The capabilities"):
        listed = {m.strip().strip("`") for m in modules.split(",")}
        on_disk = {p.stem for p in (PACKAGE / capability).glob("*.py") if p.stem != "__init__"}
        assert listed == on_disk, capability


def test_the_declared_paths_in_the_doc_are_the_contracts_ignored_imports() -> None:
    documented = {f"{row[0]} -> {row[1]}" for row in _doc_table("Declared paths between capabilities")}
    assert documented == set(_contracts()["capabilities"]["ignore_imports"])
