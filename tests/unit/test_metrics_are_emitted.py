"""Every custom metric the dashboard and the alarms read (infra/constructs/monitoring.py, through
`cradlepose.metric_names`) is emitted by some code that runs: a graph of a metric nothing sends is a
flat line that looks like "nothing happened"."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from cradlepose import metric_names
from tests.support import ROOT

pytestmark = pytest.mark.unit

# Constants of metric_names that are not metric names, and what they are.
NOT_METRICS = {
    "NAMESPACE": "the CloudWatch namespace",
    "API": "the API's service dimension",
    "TRIGGERS": "the triggers' service dimension",
    "STATUS_DIMENSION": "a dimension's name",
}
METRICS = {
    name for name, value in vars(metric_names).items() if name.isupper() and isinstance(value, str)
} - set(NOT_METRICS)
EMITTING_CODE = [ROOT / "functions", ROOT / "containers", ROOT / "layers" / "core" / "python" / "cradlepose"]


def _references(tree: ast.AST, module_alias: str) -> set[str]:
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == module_alias
    }


def _emits(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
        in ("add_metric", "single_metric")
        for node in ast.walk(tree)
    )


def _emitted() -> dict[str, list[Path]]:
    """Metric constants named (as `metric_names.X`) in modules that emit metrics with Powertools."""
    found: dict[str, list[Path]] = {}
    for root in EMITTING_CODE:
        for path in root.rglob("*.py"):
            if path.name == "metric_names.py":
                continue
            tree = ast.parse(path.read_text())
            if _emits(tree):
                for name in _references(tree, "metric_names") & METRICS:
                    found.setdefault(name, []).append(path)
    return found


def _on_the_dashboard() -> set[str]:
    tree = ast.parse((ROOT / "infra" / "constructs" / "monitoring.py").read_text())
    return _references(tree, "m") & METRICS


def test_every_metric_the_dashboard_reads_is_emitted() -> None:
    shown = _on_the_dashboard()
    assert shown, "the dashboard reads no metric of metric_names: has monitoring.py changed its alias?"
    missing = shown - set(_emitted())
    assert missing == set(), f"on the dashboard, emitted by nothing: {sorted(missing)}"


def test_every_metric_name_is_on_the_dashboard() -> None:
    assert METRICS - _on_the_dashboard() == set(), "metric_names lists what the dashboard shows"
