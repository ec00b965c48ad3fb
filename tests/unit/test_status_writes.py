"""Nothing writes a status except domain.status_changes.

A status changes through one call (change_status: check the table, set, record the event). This
test reads the source with `ast`, imports nothing, and fails naming file:line for every write of an
attribute called `status` or ending in `_status` anywhere else in cradlepose/, functions/,
containers/ and workstation/:

- an assignment, plain, augmented, annotated or one target of a tuple (`run.status, run.x = …`);
- `setattr(obj, "status", …)` with the name written out;
- `.values(status=…)` of a Core UPDATE/INSERT statement.

Creating a row in a status is not a change and is not flagged (a constructor's keyword). The
migrations are not scanned (they are the schema's history) and neither are the ORM models' column
declarations (class-level names, not attribute writes). A few attributes are named like a status
but hold no lifecycle state; each is listed in EXEMPT with why, and an exemption that matches
nothing any more fails too, so the list cannot go stale.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.unit

SCANNED = ("layers/core/python/cradlepose", "functions", "containers", "workstation")
THE_ONE_WRITER = "layers/core/python/cradlepose/domain/status_changes.py"
NOT_SCANNED = ("layers/core/python/cradlepose/db/migrations/",)

# (file, attribute) → why this write is not a status change.
EXEMPT: dict[tuple[str, str], str] = {
    (
        "workstation/cradle_workstation/cli/client.py",
        "status",
    ): "ApiError.status is the HTTP status code of an API answer",
    (
        "workstation/cradle_workstation/demo/story.py",
        "batch_status",
    ): "the demo's printed summary of the status the API reported",
    (
        "workstation/cradle_workstation/demo/story.py",
        "execution_status",
    ): "the demo's printed summary of the status Step Functions reported",
    (
        "layers/core/python/cradlepose/preannotation/pipeline_waits.py",
        "released_status",
    ): "a wait records the batch status its token was answered with; the batch's own is unchanged",
    (
        "layers/core/python/cradlepose/preannotation/steps.py",
        "released_status",
    ): "a wait records the batch status its token was answered with; the batch's own is unchanged",
}


def _is_status(name: str) -> bool:
    return name == "status" or name.endswith("_status")


def _targets(node: ast.AST) -> Iterator[ast.expr]:
    if isinstance(node, ast.Assign):
        yield from node.targets
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        yield node.target


def _flatten(target: ast.expr) -> Iterator[ast.expr]:
    if isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _flatten(element)
    elif isinstance(target, ast.Starred):
        yield from _flatten(target.value)
    else:
        yield target


def status_writes(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, attribute) of every status write in `tree`."""
    for node in ast.walk(tree):
        for target in _targets(node):
            for one in _flatten(target):
                if isinstance(one, ast.Attribute) and _is_status(one.attr):
                    yield one.lineno, one.attr
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) >= 2:
                name = node.args[1]
                if isinstance(name, ast.Constant) and isinstance(name.value, str) and _is_status(name.value):
                    yield node.lineno, name.value
            if isinstance(func, ast.Attribute) and func.attr == "values":
                for keyword in node.keywords:
                    if keyword.arg is not None and _is_status(keyword.arg):
                        yield node.lineno, keyword.arg


def _files() -> Iterator[tuple[str, Path]]:
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative == THE_ONE_WRITER or relative.startswith(NOT_SCANNED):
                continue
            if any(part in {".venv", "node_modules", "cdk.out", "__pycache__"} for part in path.parts):
                continue
            yield relative, path


def _scan() -> tuple[list[str], set[tuple[str, str]]]:
    offences: list[str] = []
    exempt_used: set[tuple[str, str]] = set()
    for relative, path in _files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
        for line, attribute in sorted(status_writes(tree)):
            key = (relative, attribute)
            if key in EXEMPT:
                exempt_used.add(key)
            else:
                offences.append(f"{relative}:{line}: writes .{attribute}")
    return offences, exempt_used


def test_no_code_writes_a_status_except_change_status() -> None:
    offences, _ = _scan()
    assert not offences, (
        "a status changes only through cradlepose.domain.status_changes.change_status "
        "(it checks the table and records the event):\n" + "\n".join(offences)
    )


def test_every_exemption_is_still_needed() -> None:
    _, used = _scan()
    assert set(EXEMPT) - used == set(), "exemptions that match no write any more"


@pytest.mark.parametrize(
    "source",
    [
        "batch.status = BatchStatus.ARCHIVED",
        "row.deployment_status = target",
        "run.status, run.finished_at = RUNNING, now",
        "job.status: JobStatus = JobStatus.RUNNING",
        "setattr(row, 'status', value)",
        "uow.session.execute(sa.update(Image).values(status=ImageStatus.APPROVED))",
    ],
)
def test_the_scan_sees_each_kind_of_write(source: str) -> None:
    assert list(status_writes(ast.parse(source))), source


@pytest.mark.parametrize(
    "source",
    [
        "ImageBatch(status=BatchStatus.UPLOADED)",
        "if batch.status is BatchStatus.UPLOADED: pass",
        "status = batch.status",
        "change_status(uow, batch, BatchStatus.ARCHIVED)",
        "audit(new={'status': batch.status})",
    ],
)
def test_the_scan_leaves_reads_and_creation_alone(source: str) -> None:
    assert not list(status_writes(ast.parse(source))), source
