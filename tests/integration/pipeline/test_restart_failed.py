"""An admin restarts a batch's failed pipeline (POST /batches/{id}/pipeline/restart): a new run,
the next attempt, is started on the batch's state machine through the workflow adapter, and the
request is audited. Anything but a failed pipeline is a 409 that writes nothing."""

from __future__ import annotations

import boto3
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.common.system import step_context
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.enums import Role
from cradlepose.preannotation import steps
from tests.pipeline_support import execution_id, make_batch, request_run
from tests.support import ApiClient, make_user

pytestmark = pytest.mark.integration

CTX = step_context("states:test")


def test_a_failed_pipeline_is_restarted_as_a_new_attempt_once(
    api: ApiClient,
    aws: str,
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    engine: sa.Engine,
) -> None:
    admin = make_user(session_factory, Role.ADMIN, name="restarter")
    verifier = make_user(session_factory, Role.VERIFIER)
    assert admin.user_id is not None
    batch_id, _ = make_batch(session_factory, admin.user_id, 3)
    url = f"/batches/{batch_id}/pipeline/restart"

    # No run yet, or one still open: nothing to restart
    assert api.post(url, admin).status == 409
    _, name = request_run(uow_factory, batch_id)
    assert api.post(url, admin).status == 409

    # Given the run failed at its chunks
    steps.mark_processing(uow_factory, batch_id, execution_id(name), CTX)
    error = {"Error": "States.TaskFailed", "Cause": "RuntimeError: no GPU"}
    assert steps.record_failure(uow_factory, batch_id, execution_id(name), error, CTX).recorded

    # A verifier may not restart it; the admin does
    assert api.post(url, verifier).status == 403
    restarted = api.post(url, admin)
    assert restarted.status == 200, restarted.body
    run = restarted.json["pipeline_run"]
    assert (run["attempt"], run["status"]) == (2, "RUNNING")
    assert run["execution_name"] == f"cradle-batch-{batch_id}-run-2"
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=aws)["executions"]
    assert f"cradle-batch-{batch_id}-run-2" in [e["name"] for e in executions]

    # Asked again, it is running: refused, and no third run
    again = api.post(url, admin)
    assert again.status == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    with engine.connect() as conn:
        assert (
            conn.scalar(sa.text("SELECT count(*) FROM pipeline_runs WHERE batch_id = :b"), {"b": batch_id})
            == 2
        )
        audited = conn.execute(
            sa.text(
                "SELECT a.action, u.username FROM audit_logs a LEFT JOIN users u ON u.id = a.user_id"
                " WHERE a.resource_type = 'ImageBatch' AND a.resource_id = :b AND a.action LIKE 'PIPELINE_%'"
                " ORDER BY a.id"
            ),
            {"b": batch_id},
        ).all()
    assert [tuple(r) for r in audited][-2:] == [
        ("PIPELINE_REQUESTED", "restarter"),
        ("PIPELINE_STARTED", "restarter"),
    ]
