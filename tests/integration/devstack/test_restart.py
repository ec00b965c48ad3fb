"""Stopping the local stack mid-batch and starting it again: nothing lost, nothing done twice.

moto's state (executions, queued events) dies with the stack; PostgreSQL and the S3 mirror do
not. The first stack is stopped with a chunk's inference task still to run (ECS had GPU capacity
for one task), as a kill would leave it: the run still RUNNING, one chunk loaded, an upload of
another batch not yet registered.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradle_workstation.devstack.stack import LocalStack, LocalStackConfig
from tests.images import jpeg_with_metadata
from tests.stack_support import ApiSession, stack_database, upload, wait_for

pytestmark = pytest.mark.integration


def _config(state_dir: Path, url: str) -> LocalStackConfig:
    return LocalStackConfig(
        state_dir=state_dir, database_url=url, pipeline_chunk_size=2, web_root=None, schedules=False,
        chunk_stop_timeout_s=0.2,
    )  # fmt: skip


def _rows(db: sa.Engine, sql: str, **params: object) -> list[tuple[object, ...]]:
    with db.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql), params)]


def test_a_batch_interrupted_by_a_restart_resumes_without_losing_or_repeating_an_image(
    postgres: EmbeddedPostgres, migrated_template: str, tmp_path: Path
) -> None:
    with stack_database(postgres, migrated_template) as url:
        db = sa.create_engine(url, poolclass=sa.NullPool)
        # Given a batch of four, one chunk loaded while the other's task waited for the GPU,
        # and an upload of another batch that no trigger has seen yet
        with LocalStack(_config(tmp_path, url)) as first:
            assert first.runner is not None
            first.runner.set_capacity(1)  # whichever chunk comes second stays PENDING
            api = ApiSession.sign_in(first)
            created = api.create_batch([f"{n}.jpg" for n in "abcd"])
            batch_id = created["batch"]["id"]
            for seed, form in enumerate(created["uploads"]):
                upload(form, jpeg_with_metadata(seed=seed), form["filename"])
            wait_for(lambda: first.runner is not None and len(first.runner.pending) == 1, timeout_s=60)
            wait_for(
                lambda: (
                    _rows(
                        db,
                        "SELECT count(*) FROM pipeline_chunks WHERE batch_id = :b AND loaded_at IS NOT NULL",
                        b=batch_id,
                    )
                    == [(1,)]
                ),
                timeout_s=120,
            )
            waiting = api.create_batch(["late.jpg", "later.jpg"])
            for poller in first.pollers:
                poller.stop()
            upload(waiting["uploads"][0], jpeg_with_metadata(seed=9), "late.jpg")
            held = [(t.task.batch_id, t.task.chunk_index) for t in first.runner.pending]
            ran_first = [(t.task.batch_id, t.task.chunk_index) for t in first.runner.tasks]
        # (stopped: moto's executions and queues are gone; the pending task never ran)
        assert _rows(db, "SELECT status FROM pipeline_runs WHERE batch_id = :b", b=batch_id) == [("RUNNING",)]
        assert _rows(db, "SELECT status FROM image_batches WHERE id = :b", b=batch_id) == [
            ("YOLO_PROCESSING",)
        ]

        # When the stack starts again
        with LocalStack(_config(tmp_path, url)) as second:
            api = ApiSession.sign_in(second)
            ready = api.wait_for_status(batch_id, "READY_FOR_ANNOTATION", timeout_s=120)
            registered = wait_for(
                lambda: api.batch(waiting["batch"]["id"])["images_registered"] == 1, timeout_s=30
            )
            resumed, restored = second.resumed_runs, second.restored_objects
            assert second.runner is not None
            ran_second = [(t.task.batch_id, t.task.chunk_index) for t in second.runner.tasks]

        # Then the run went on under its own name, only the unfinished chunk was inferred again,
        # every image was loaded once, and the late upload was registered from the kept object
        assert len(resumed) == 1
        assert ready["pipeline_run"]["attempt"] == 1
        assert len(held) == 1
        assert sorted(ran_first + held) == [(batch_id, 0), (batch_id, 1)]
        assert [chunk for chunk in ran_second if chunk[0] == batch_id] == held
        assert ready["images_by_status"] == [{"status": "YOLO_PROCESSED", "count": 4}]
        assert _rows(
            db,
            "SELECT chunk_index, loaded_count FROM pipeline_chunks WHERE batch_id = :b ORDER BY 1",
            b=batch_id,
        ) == [(0, 2), (1, 2)]
        assert _rows(
            db,
            "SELECT count(*) FROM audit_logs WHERE action = 'CHUNK_INGESTED' AND resource_id = :b",
            b=batch_id,
        ) == [(2,)]
        assert _rows(
            db,
            "SELECT count(*) FROM audit_logs WHERE action = 'PIPELINE_RESUMED' AND resource_id = :b",
            b=batch_id,
        ) == [(1,)]
        assert registered
        assert restored >= 4 + 4 + 1  # the batch's images, their thumbnails, and the late upload
        db.dispose()
