"""The pipeline's own tables refuse rows that would break the steps' idempotency guards."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

pytestmark = pytest.mark.integration


def _run(conn: sa.Connection) -> tuple[int, int]:
    system_id = conn.scalar(sa.text("SELECT id FROM users WHERE username = 'system'"))
    schema_id = conn.scalar(sa.text("SELECT id FROM keypoint_schemas LIMIT 1"))
    batch_id = conn.scalar(
        sa.text(
            "INSERT INTO image_batches (batch_name, keypoint_schema_id, total_images, uploaded_by) "
            "VALUES ('b', :s, 1, :u) RETURNING id"
        ),
        {"s": schema_id, "u": system_id},
    )
    run_id = conn.scalar(
        sa.text(
            "INSERT INTO pipeline_runs (batch_id, attempt, execution_name) VALUES (:b, 1, 'run-1') RETURNING id"
        ),
        {"b": batch_id},
    )
    assert batch_id is not None
    assert run_id is not None
    return batch_id, run_id


def _chunk(conn: sa.Connection, batch_id: int, run_id: int, index: int, key: str, ids: str) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO pipeline_chunks (run_id, batch_id, chunk_index, image_ids, manifest_key, results_key) "
            f"VALUES (:r, :b, :i, '{ids}', 'm', :k)"
        ),
        {"r": run_id, "b": batch_id, "i": index, "k": key},
    )


@pytest.mark.parametrize(
    ("index", "key", "ids", "constraint"),
    [
        (0, "r0", "{}", "ck_pipeline_chunks_image_ids_not_empty"),
        (-1, "r1", "{1}", "ck_pipeline_chunks_chunk_index_non_negative"),
        (0, "r2", "{1}", "uq_pipeline_chunk_run_index"),  # index 0 of the run exists
        (1, "r-existing", "{1}", "uq_pipeline_chunks_results_key"),
    ],
)
def test_a_chunk_is_planned_once_per_run_and_index(
    engine: sa.Engine, index: int, key: str, ids: str, constraint: str
) -> None:
    with engine.connect() as conn:
        batch_id, run_id = _run(conn)
        _chunk(conn, batch_id, run_id, 0, "r-existing", "{1,2}")
        with pytest.raises(DBAPIError, match=constraint):
            _chunk(conn, batch_id, run_id, index, key, ids)


def test_loaded_counts_come_with_the_load_time(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        batch_id, run_id = _run(conn)
        _chunk(conn, batch_id, run_id, 0, "r0", "{1}")
        with pytest.raises(DBAPIError, match="ck_pipeline_chunks_loaded_counts_with_loaded_at"):
            conn.execute(sa.text("UPDATE pipeline_chunks SET loaded_count = 1"))


def test_a_task_token_is_parked_once_and_released_with_a_status(engine: sa.Engine) -> None:
    insert = sa.text(
        "INSERT INTO pipeline_waits (batch_id, run_id, task_token, seen_status) "
        "VALUES (:b, :r, 'token', 'READY_FOR_ANNOTATION')"
    )
    with engine.connect() as conn:
        batch_id, run_id = _run(conn)
        conn.execute(insert, {"b": batch_id, "r": run_id})
        with pytest.raises(DBAPIError, match="uq_pipeline_waits_task_token"):
            conn.execute(insert, {"b": batch_id, "r": run_id})
    with engine.connect() as conn:
        batch_id, run_id = _run(conn)
        conn.execute(insert, {"b": batch_id, "r": run_id})
        with pytest.raises(DBAPIError, match="ck_pipeline_waits_released_status_with_released_at"):
            conn.execute(sa.text("UPDATE pipeline_waits SET released_at = now()"))
