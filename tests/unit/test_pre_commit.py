"""The pre-commit hooks run what `make lint` runs: the same commands on the same folders, in order.

The Makefile's lint recipe is read and its variables expanded here (only the simple `:=` ones it
uses, and $(SRC) as the Makefile computes it: the source folders that hold Python), then compared
with the hooks' entries in .pre-commit-config.yaml. A tool added to one and not the other fails.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT

pytestmark = pytest.mark.unit

VARIABLE = re.compile(r"^([A-Z_]+)\s*:=\s*(.*)$")
REFERENCE = re.compile(r"\$\(([A-Z_]+)\)")
ASSIGNMENT = re.compile(r"^[A-Z_]+=")


def _makefile() -> tuple[dict[str, str], dict[str, list[str]]]:
    """The `NAME := value` variables and each target's recipe lines."""
    variables: dict[str, str] = {}
    recipes: dict[str, list[str]] = {}
    target: str | None = None
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("\t") and target is not None:
            recipes[target].append(line.strip())
            continue
        target = None
        if match := VARIABLE.match(line):
            variables[match.group(1)] = match.group(2).strip()
        elif match := re.match(r"^([a-z][a-z-]*):", line):
            target = match.group(1)
            recipes[target] = []
    return variables, recipes


def _expand(text: str, variables: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "SRC":  # $(SRC): the folders of SRC_DIRS that hold Python (see the Makefile)
            folders = _expand(variables["SRC_DIRS"], variables).split()
            return " ".join(d for d in folders if next((ROOT / d).rglob("*.py"), None) is not None)
        return _expand(variables[name], variables)

    return REFERENCE.sub(value, text)


def lint_commands() -> list[list[str]]:
    """The lint recipe's commands as argv lists; `NAME=value cmd` is written `env NAME=value cmd`."""
    variables, recipes = _makefile()
    commands = []
    for line in recipes["lint"]:
        argv = shlex.split(_expand(line, variables))
        if ASSIGNMENT.match(argv[0]):
            argv = ["env", *argv]
        commands.append(argv)
    return commands


def hook_commands(config: Path) -> list[list[str]]:
    hooks = [hook for repo in yaml.safe_load(config.read_text())["repos"] for hook in repo["hooks"]]
    for hook in hooks:
        # The whole tree, as `make lint` checks it, never only the staged files.
        assert hook["pass_filenames"] is False, hook["id"]
        assert hook["language"] == "system", hook["id"]
    return [shlex.split(hook["entry"]) for hook in hooks]


def _tool(argv: list[str]) -> str:
    return Path(next(a for a in argv if a != "env" and not ASSIGNMENT.match(a))).name


def test_the_lint_recipe_is_read_as_its_four_tools() -> None:
    assert [_tool(argv) for argv in lint_commands()] == ["ruff", "ruff", "mypy", "lint-imports"]


def test_the_pre_commit_hooks_run_exactly_what_make_lint_runs() -> None:
    assert hook_commands(ROOT / ".pre-commit-config.yaml") == lint_commands()


def test_pre_commit_accepts_the_config() -> None:
    pre_commit = Path(sys.executable).parent / "pre-commit"
    if not pre_commit.exists():
        pytest.skip("pre-commit is not installed in this environment (the dev extra has it)")
    done = subprocess.run(
        [str(pre_commit), "validate-config", ".pre-commit-config.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
