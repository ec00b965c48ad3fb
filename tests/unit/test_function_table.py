"""The function table that the CDK app and the local stack share."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cradlepose import function_table

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_the_table_loads_and_names_are_unique() -> None:
    table = function_table.load()
    names = [f.name for f in table.functions]
    assert len(names) == len(set(names))
    assert "api" in names


def test_state_machine_substitutions_match_the_definitions() -> None:
    table = function_table.load()
    for path in (ROOT / "infra" / "statemachines").glob("*.asl.json"):
        machine = path.name.removesuffix(".asl.json")
        placeholders = set(re.findall(r"\$\{(\w+)\}", path.read_text()))
        provided = {
            event.substitution
            for spec in table.functions
            for event in spec.events
            if isinstance(event, function_table.StateMachineTask) and event.machine == machine
        }
        assert placeholders == provided, f"{machine}: placeholders {placeholders ^ provided} unmatched"


def test_grants_are_ones_the_cdk_app_understands() -> None:
    buckets = {"uploads", "derived", "results", "exports", "models"}  # infra/constructs/storage.py
    for spec in function_table.load().functions:
        for grant in spec.grants:
            parts = grant.split(":")
            if parts[0] == "s3":
                assert parts[1] in buckets, grant
                assert parts[2] in {"read", "write", "delete"}, grant
            else:
                assert grant in {
                    "db",
                    "db:owner",
                    "states:start",
                    "states:start_analysis",
                    "states:start_loop",
                    "states:release",
                    "states:fail_task",
                    "ecs:run_inference",
                    "cognito:admin",
                    "cognito:create_users",
                    "bedrock:invoke",
                }, grant
