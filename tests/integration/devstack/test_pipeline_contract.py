"""Contract tests of the batch pipeline's real ASL in the local stack: paths that only time opens.

The stack's executions wait a few seconds for people instead of a day (the execution's input
carries the wait, CRADLE_PIPELINE_WAIT_TIMEOUT_S), so the overdue path runs as it would in AWS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from cradle_workstation.demo.people import Member, local_admin, newcomer
from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradle_workstation.devstack.stack import LocalStack
from tests.images import jpeg_with_metadata
from tests.stack_support import ApiSession, running_stack, upload, wait_for

pytestmark = pytest.mark.integration

WAIT_TIMEOUT_S = 3


@pytest.fixture(scope="module")
def stack(
    postgres: EmbeddedPostgres, migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    with running_stack(
        postgres, migrated_template, tmp_path_factory.mktemp("stack"),
        schedules=False, pipeline_chunk_size=2, pipeline_wait_timeout_s=WAIT_TIMEOUT_S,
    ) as running:  # fmt: skip
        yield running


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> ApiSession:
    return ApiSession.sign_in(stack)


def _entered_states(stack: LocalStack, execution: str) -> list[str]:
    events = stack.aws.client("stepfunctions").get_execution_history(executionArn=execution, maxResults=1000)
    return [
        e["stateEnteredEventDetails"]["name"] for e in events["events"] if "stateEnteredEventDetails" in e
    ]


def test_a_wait_that_times_out_marks_late_assignments_overdue_and_waits_again(
    stack: LocalStack, api: ApiSession
) -> None:
    # Given a pre-annotated batch assigned through the API, due in two seconds
    created = api.create_batch(["late.jpg"])
    batch_id = created["batch"]["id"]
    upload(created["uploads"][0], jpeg_with_metadata(seed=7), "late.jpg")
    ready = api.wait_for_status(batch_id, "READY_FOR_ANNOTATION", timeout_s=120)
    execution = ready["pipeline_run"]["execution_arn"]
    admin = local_admin(stack)
    annotator: Member = newcomer(stack, admin, "lena", "ANNOTATOR", "full_body")
    due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    assigned = api.call(
        "POST",
        f"/batches/{batch_id}/assignments",
        {"annotator_id": annotator.user_id, "due_date": due.isoformat()},
    )
    assert assigned.status_code == 201, assigned.text
    assignment_id = assigned.json()["id"]

    # When nobody works on it and the execution's wait times out
    def overdue() -> dict[str, Any] | None:
        found: dict[str, Any] = api.call("GET", f"/assignments/{assignment_id}").json()
        return found if found["status"] == "OVERDUE" else None

    wait_for(overdue, timeout_s=60)

    # Then MarkOverdue ran from the real ASL's timeout path, and the execution waits again
    entered = wait_for(lambda: (s := _entered_states(stack, execution)).count("WaitForPeople") >= 3 and s)
    after_first_wait = entered[entered.index("WaitForPeople") :]
    assert "MarkOverdue" in after_first_wait
    assert after_first_wait[after_first_wait.index("MarkOverdue") + 1] == "WaitForPeople"
    assert stack.aws.client("stepfunctions").describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert api.batch(batch_id)["pipeline_run"]["status"] == "RUNNING"
