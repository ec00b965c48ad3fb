"""The checkable claims of the docs stay true: the `make` targets, `cradle` commands, repository
paths, CRADLE_* variables and metric names that README.md and docs/*.md quote exist in the code.

Fast and offline: it reads files, the Makefile and the typer app, nothing else (no synth, no network).
Commands and paths are read from code (inline `code` and fenced blocks), not from prose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup

from cradle_workstation.cli.main import app
from cradlepose import metric_names
from cradlepose.settings import Settings
from tests.support import ROOT

pytestmark = pytest.mark.unit

DOCS = sorted(
    [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), ROOT / "containers" / "inference" / "README.md"]
)
FENCE = re.compile(r"^```.*?$(.*?)^```", re.S | re.M)
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")

# CRADLE_* variables the docs may name that are not fields of Settings: (the file that defines it, why).
NOT_SETTINGS = {
    "CRADLE_CHROMIUM": ("tests/browser/browser.py", "the browser tests' Chromium, not the application's"),
    "CRADLE_SAM": ("tests/infra/support.py", "the infra tests' SAM CLI, not the application's"),
    "CRADLE_HEARTBEAT_EVERY_S": (
        "containers/inference/cradle_inference/task_protocol.py",
        "the inference container's heartbeat period, from its task definition",
    ),
    "CRADLE_MANIFEST": (
        "layers/core/python/cradlepose/adapters/inference.py",
        "the inference task's chunk, set per task",
    ),
    "CRADLE_TASK_TOKEN": (
        "layers/core/python/cradlepose/adapters/inference.py",
        "the inference task's token, set per task",
    ),
    "CRADLE_DEVICE": ("containers/inference/cradle_inference/__main__.py", "the container's own option"),
    "CRADLE_BATCH_SIZE": ("containers/inference/cradle_inference/__main__.py", "the container's own option"),
    "CRADLE_TORCH_COMPILE": (
        "containers/inference/cradle_inference/__main__.py",
        "the container's own option",
    ),
    "CRADLE_WEIGHTS_CACHE": (
        "containers/inference/cradle_inference/weights.py",
        "the container's weights cache",
    ),
    "CRADLE_INFERENCE_RUNTIME": (
        "containers/inference/cradle_inference/engine.py",
        "the container's own option: what runs the CPU forward",
    ),
    "CRADLE_ONNX_CACHE": (
        "containers/inference/cradle_inference/onnx_export.py",
        "the container's ONNX graph cache",
    ),
}
# Where a path in the docs may be relative to, besides the repository root: the package's folder.
PACKAGE_ROOT = ROOT / "layers" / "core" / "python"


def _code(path: Path) -> Iterator[str]:
    """The code of a document: every fenced block and inline code span."""
    text = path.read_text()
    yield from FENCE.findall(text)
    yield from INLINE.findall(FENCE.sub("", text))


def _quoted(pattern: re.Pattern[str]) -> Iterator[tuple[str, str]]:
    for doc in DOCS:
        for code in _code(doc):
            for found in pattern.finditer(code):
                yield doc.relative_to(ROOT).as_posix(), found.group(1)


def _ids(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"{doc}:{claim}" for doc, claim in pairs]


# ---------------------------------------------------------------------------------------- make

MAKE = re.compile(r"(?:^|[\s;&|(])make ((?:[a-z][\w-]*)?)", re.M)


def _make_targets() -> set[str]:
    targets: set[str] = set()
    for line in (ROOT / "Makefile").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.%-]+(?:[ \t]+[A-Za-z0-9_.%-]+)*)[ \t]*:(?!=)", line)
        if match:
            targets.update(match.group(1).split())
    return targets


MAKE_CLAIMS = sorted(set(_quoted(MAKE)))


@pytest.mark.parametrize(("doc", "target"), MAKE_CLAIMS, ids=_ids(MAKE_CLAIMS))
def test_every_quoted_make_target_exists(doc: str, target: str) -> None:
    if not target:  # plain `make`: the default goal
        return
    assert target in _make_targets(), f"{doc} quotes `make {target}`, which the Makefile lacks"


# ---------------------------------------------------------------------------------------- cradle

CRADLE = re.compile(r"(?:^|[\s;&|(`$])cradle((?: [a-z][\w-]*){1,2})([^\n;&|]*)", re.M)
OPTION = re.compile(r"(?:^|\s)(--[a-z][\w-]*)")


def _root_command() -> TyperGroup:
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    return command


def _cradle_claims() -> list[tuple[str, str]]:
    """`cradle <command> [subcommand] [--option …]` as quoted, each line once."""
    claims: set[tuple[str, str]] = set()
    for doc, (words, rest) in ((d, m) for d, m in _quoted_groups(CRADLE)):
        options = " ".join(OPTION.findall(rest))
        claims.add((doc, f"{words.strip()} {options}".strip()))
    return sorted(claims)


def _quoted_groups(pattern: re.Pattern[str]) -> Iterator[tuple[str, tuple[str, str]]]:
    for doc in DOCS:
        for code in _code(doc):
            for found in pattern.finditer(code):
                yield doc.relative_to(ROOT).as_posix(), (found.group(1), found.group(2))


CRADLE_CLAIMS = _cradle_claims()


@pytest.mark.parametrize(("doc", "claim"), CRADLE_CLAIMS, ids=_ids(CRADLE_CLAIMS))
def test_every_quoted_cradle_command_and_option_exists(doc: str, claim: str) -> None:
    words = [w for w in claim.split() if not w.startswith("--")]
    options = [w for w in claim.split() if w.startswith("--")]
    root = _root_command()
    assert words[0] in root.commands, f"{doc} quotes `cradle {claim}`: no command {words[0]!r}"
    command = root.commands[words[0]]
    if isinstance(command, TyperGroup) and len(words) > 1:
        assert words[1] in command.commands, f"{doc} quotes `cradle {claim}`: {words[0]} has no {words[1]!r}"
        command = command.commands[words[1]]
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"--help"}
    unknown = [o for o in options if o not in known]
    assert unknown == [], f"{doc} quotes `cradle {claim}`: no option {unknown} (has {sorted(known)})"


# ---------------------------------------------------------------------------------------- paths

TOP_LEVEL = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")} - {"cdk.out"}
PATH = re.compile(r"^([\w.-]+(?:/[\w.-]+)+/?)(?::\w+)?$")


def _path_claims() -> list[tuple[str, str]]:
    claims: set[tuple[str, str]] = set()
    for doc in DOCS:
        for code in INLINE.findall(FENCE.sub("", doc.read_text())):
            match = PATH.match(code.strip())
            if match and match.group(1).split("/")[0] in TOP_LEVEL | {"cradlepose"}:
                claims.add((doc.relative_to(ROOT).as_posix(), match.group(1)))
    return sorted(claims)


PATH_CLAIMS = _path_claims()


@pytest.mark.parametrize(("doc", "path"), PATH_CLAIMS, ids=_ids(PATH_CLAIMS))
def test_every_quoted_repository_path_exists(doc: str, path: str) -> None:
    assert (ROOT / path).exists() or (PACKAGE_ROOT / path).exists(), (
        f"{doc} quotes `{path}`, which does not exist"
    )


# ---------------------------------------------------------------------------------------- variables

VARIABLE = re.compile(r"\b(CRADLE_[A-Z0-9_]*[A-Z0-9])\b")


def _variable_claims() -> list[tuple[str, str]]:
    claims: set[tuple[str, str]] = set()
    for doc in DOCS:
        for found in VARIABLE.finditer(doc.read_text()):
            claims.add((doc.relative_to(ROOT).as_posix(), found.group(1)))
    return sorted(claims)


VARIABLE_CLAIMS = _variable_claims()
SETTINGS_VARIABLES = {f"CRADLE_{name.upper()}" for name in Settings.model_fields}


@pytest.mark.parametrize("variable", sorted(NOT_SETTINGS))
def test_the_variables_that_are_not_settings_are_defined_where_the_list_says(variable: str) -> None:
    where, _ = NOT_SETTINGS[variable]
    assert variable in (ROOT / where).read_text(), f"{variable} is no longer defined in {where}"


@pytest.mark.parametrize(("doc", "variable"), VARIABLE_CLAIMS, ids=_ids(VARIABLE_CLAIMS))
def test_every_quoted_cradle_variable_is_a_setting(doc: str, variable: str) -> None:
    assert variable in SETTINGS_VARIABLES | set(NOT_SETTINGS), (
        f"{doc} names {variable}, which is no field of cradlepose.settings.Settings"
    )


# ---------------------------------------------------------------------------------------- metrics

METRIC_SECTION = re.compile(r"^#+ .*\bmetrics? the code emits\b.*$", re.I | re.M)
CAMEL = re.compile(r"`([A-Z][a-z]+(?:[A-Z][a-z]+)*)`")
EMITTED = {value for name, value in vars(metric_names).items() if name.isupper() and isinstance(value, str)}


def _metric_claims() -> list[tuple[str, str]]:
    claims: set[tuple[str, str]] = set()
    for doc in DOCS:
        text = doc.read_text()
        for heading in METRIC_SECTION.finditer(text):
            section = text[heading.end() :].split("\n#", 1)[0]
            claims.update((doc.relative_to(ROOT).as_posix(), name) for name in CAMEL.findall(section))
    return sorted(claims)


METRIC_CLAIMS = _metric_claims()


def test_the_metric_sections_are_found() -> None:
    assert METRIC_CLAIMS, "no metric names found: has the heading 'Metrics the code emits' moved?"


@pytest.mark.parametrize(("doc", "metric"), METRIC_CLAIMS, ids=_ids(METRIC_CLAIMS))
def test_every_quoted_metric_name_is_in_metric_names(doc: str, metric: str) -> None:
    assert metric in EMITTED, f"{doc} names the metric {metric}, which cradlepose.metric_names lacks"


# ---------------------------------------------------------------------------------------- the image


def test_the_container_readme_pushes_to_the_stacks_repository() -> None:
    readme = (ROOT / "containers" / "inference" / "README.md").read_text()
    images_stack = (ROOT / "infra" / "stacks" / "images.py").read_text()
    assert 'repository_name=f"{config.prefix}-inference"' in images_stack
    assert "cradle-<stage>-inference" in readme
    assert "Cradle-<stage>-images" in readme
    assert "InferenceRepositoryUri" not in readme, "the stacks have no such output"
    assert "create-repository" not in readme, "the stack creates the repository"
