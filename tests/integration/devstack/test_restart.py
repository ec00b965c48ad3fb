"""Stopping the local stack mid-batch and starting it again: nothing lost, nothing done twice.

moto's state (executions, queued events) dies with the stack; PostgreSQL and the S3 mirror do
not. The first stack is stopped while a chunk is being inferred, as a kill would leave it: the
run still RUNNING, one chunk loaded, an upload of another batch not yet registered.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from cradlepose.devstack.postgres import EmbeddedPostgres
from cradlepose.devstack.stack import LocalStack, LocalStackConfig
from tests.images import jpeg_with_metadata
from tests.stack_support import ApiSession, FakeEngine, stack_database, upload, wait_for

pytestmark = pytest.mark.integration


def _config(state_dir: Path, url: str, engine: FakeEngine) -> LocalStackConfig:
    return LocalStackConfig(
        state_dir=state_dir, database_url=url, chunk_runner=engine, pipeline_chunk_size=2, web_root=None,
        schedules=False, chunk_stop_timeout_s=0.2,
    )  # fmt: skip


def _rows(db: sa.Engine, sql: str, **params: object) -> list[tuple[object, ...]]:
    with db.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql), params)]


def test_a_batch_interrupted_by_a_restart_resumes_without_losing_or_repeating_an_image(
    postgres: EmbeddedPostgres, migrated_template: str, tmp_path: Path
) -> None:
    with stack_database(postgres, migrated_template) as url:
        db = sa.create_engine(url, poolclass=sa.NullPool)
        first_engine = FakeEngine(hold_calls={1})  # whichever chunk comes second

        # Given a batch of four, one chunk loaded while the other was being inferred,
        # and an upload of another batch that no trigger has seen yet
        with LocalStack(_config(tmp_path, url, first_engine)) as first:
            api = ApiSession.sign_in(first)
            created = api.create_batch([f"{n}.jpg" for n in "abcd"])
            batch_id = created["batch"]["id"]
            for seed, form in enumerate(created["uploads"]):
                upload(form, jpeg_with_metadata(seed=seed), form["filename"])
            assert first_engine.holding.wait(60)
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
        # (stopped: moto's executions and queues are gone; the held chunk never answers)
        first_engine.release.set()
        assert _rows(db, "SELECT status FROM pipeline_runs WHERE batch_id = :b", b=batch_id) == [("RUNNING",)]
        assert _rows(db, "SELECT status FROM image_batches WHERE id = :b", b=batch_id) == [
            ("YOLO_PROCESSING",)
        ]

        # When the stack starts again
        second_engine = FakeEngine()
        with LocalStack(_config(tmp_path, url, second_engine)) as second:
            api = ApiSession.sign_in(second)
            ready = api.wait_for_status(batch_id, "READY_FOR_ANNOTATION")
            registered = wait_for(
                lambda: api.batch(waiting["batch"]["id"])["images_registered"] == 1, timeout_s=30
            )
            resumed, restored = second.resumed_runs, second.restored_objects

        # Then the run went on under its own name, only the unfinished chunk was inferred again,
        # every image was loaded once, and the late upload was registered from the kept object
        assert len(resumed) == 1
        assert ready["pipeline_run"]["attempt"] == 1
        assert second_engine.ran == first_engine.held
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
