"""The annotator's, verifier's and researcher's lists are answered by their indexes (issue 21).

Each list's query (as its capability builds it: intake.batches.list_batches, intake.images.list_images,
workflow.assignments.list_assignments, reports.analysis.list_analyses) runs under EXPLAIN on a few
thousand generated rows spread over several users and batches whose image ids interleave, with
sequential scans off; the plan must use the index made for it (without it the planner falls back
to an older index and a filter or sort: idx_assignment_annotator_status, idx_image_batch_status,
idx_analysis_jobs_created_at). The annotator's images of a batch may be reached through the batch
(idx_image_batch_id, what a 200k-image database gets) or through the assignment; never through
the images' primary key backwards, past every other batch's images.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.integration

BATCHES = 30
IMAGES_PER_BATCH = 120
OPEN = "('ASSIGNED', 'ACKNOWLEDGED', 'IN_PROGRESS')"


@pytest.fixture
def seeded(engine: sa.Engine) -> dict[str, int]:
    with engine.begin() as conn:
        users = {
            name: conn.scalar(
                sa.text(
                    "INSERT INTO users (username, email, role, is_approved, identity_subject) "
                    "VALUES (:n, :n || '@example.org', CAST(:r AS user_role), true, :n) RETURNING id"
                ),
                {"n": name, "r": role},
            )
            for name, role in [("admin", "ADMIN")]
            + [(f"ann{i}", "ANNOTATOR") for i in range(6)]
            + [(f"ver{i}", "VERIFIER") for i in range(6)]
        }
        conn.execute(
            sa.text(
                "INSERT INTO image_batches (batch_name, keypoint_schema_id, total_images, uploaded_by, status) "
                "SELECT 'b' || g, 1, :per, :admin, 'IN_PROGRESS' FROM generate_series(1, :n) g"
            ),
            {"n": BATCHES, "per": IMAGES_PER_BATCH, "admin": users["admin"]},
        )
        annotators = [users[f"ann{i}"] for i in range(6)]
        conn.execute(
            sa.text(
                "INSERT INTO batch_assignments (batch_id, annotator_id, assigned_by, images_total, status) "
                "SELECT b.id, (CAST(:anns AS bigint[]))[1 + mod(b.id, 6)], :admin, :per, 'IN_PROGRESS' "
                "FROM image_batches b"
            ),
            {"anns": annotators, "admin": users["admin"], "per": IMAGES_PER_BATCH},
        )
        verifiers = [users[f"ver{i}"] for i in range(6)]
        # generate_series first: the batches' image ids interleave, as concurrent uploads make them
        conn.execute(
            sa.text(
                "INSERT INTO images (batch_id, filename, original_filename, storage_path, width, height, "
                "file_size, mime_type, format, status, current_assignment_id, current_verifier) "
                "SELECT a.batch_id, g || '.jpg', g || '.jpg', 'images/' || a.batch_id || '/' || g, 640, 480, "
                "1000, 'image/jpeg', 'JPEG', "
                "(ARRAY['ASSIGNED','SUBMITTED','UNDER_REVIEW'])[1 + mod(g, 3)]::image_status, "
                "CASE WHEN mod(g, 3) = 0 THEN a.id END, "
                "CASE WHEN mod(g, 3) = 2 THEN (CAST(:vers AS bigint[]))[1 + mod(g, 6)] END "
                "FROM generate_series(1, :per) g CROSS JOIN batch_assignments a"
            ),
            {"per": IMAGES_PER_BATCH, "vers": verifiers},
        )
        conn.execute(
            sa.text(
                "INSERT INTO analysis_jobs (user_id, image_id, original_image_key, status, created_at) "
                "SELECT (CAST(:vers AS bigint[]))[1 + mod(id, 6)], id, storage_path, 'completed', "
                "now() - id * interval '1 second' FROM images"
            ),
            {"vers": verifiers},
        )
        conn.execute(sa.text("ANALYZE"))
        middle = conn.scalar(sa.text("SELECT min(id) + :n / 2 FROM image_batches"), {"n": BATCHES})
        annotator = conn.scalar(
            sa.text("SELECT annotator_id FROM batch_assignments WHERE batch_id = :b"), {"b": middle}
        )
    return {"annotator": annotator, "verifier": verifiers[2], "batch": middle}


@pytest.fixture
def no_seqscan(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.connect() as conn:
        conn.execute(sa.text("SET enable_seqscan = off"))
        yield conn
        conn.rollback()


def _indexes(plan: Any) -> set[str]:
    found = set()
    if isinstance(plan, dict):
        if "Index Name" in plan:
            found.add(plan["Index Name"])
        for value in plan.values():
            found |= _indexes(value)
    elif isinstance(plan, list):
        for value in plan:
            found |= _indexes(value)
    return found


def _plan(conn: sa.Connection, sql: str, params: dict[str, int]) -> set[str]:
    return _indexes(conn.scalar(sa.text("EXPLAIN (FORMAT JSON) " + sql), params))


def test_the_annotators_batch_list(no_seqscan: sa.Connection, seeded: dict[str, int]) -> None:
    sql = (
        "SELECT * FROM image_batches WHERE id IN (SELECT batch_id FROM batch_assignments "
        f"WHERE annotator_id = :annotator AND status IN {OPEN}) ORDER BY id DESC LIMIT 11"
    )
    assert "idx_assignment_annotator_batch" in _plan(no_seqscan, sql, seeded)


def test_the_annotators_assignment_list(no_seqscan: sa.Connection, seeded: dict[str, int]) -> None:
    sql = "SELECT * FROM batch_assignments WHERE annotator_id = :annotator ORDER BY id DESC LIMIT 11"
    assert "idx_assignment_annotator_id" in _plan(no_seqscan, sql, seeded)


def test_the_annotators_images_of_a_batch(no_seqscan: sa.Connection, seeded: dict[str, int]) -> None:
    sql = (
        "SELECT * FROM images WHERE batch_id = :batch AND EXISTS (SELECT 1 FROM batch_assignments a "
        f"WHERE a.id = images.current_assignment_id AND a.annotator_id = :annotator AND a.status IN {OPEN}) "
        "ORDER BY id DESC LIMIT 11"
    )
    used = _plan(no_seqscan, sql, seeded)
    # by the batch's images (or the assignment's), never backwards through every image's primary key
    assert "pk_images" not in used
    assert used & {"idx_image_batch_id", "idx_image_assignment_status"}


def test_the_verifiers_images_of_a_batch(no_seqscan: sa.Connection, seeded: dict[str, int]) -> None:
    sql = (
        "SELECT * FROM images WHERE batch_id = :batch AND current_verifier = :verifier "
        "AND status = 'UNDER_REVIEW' ORDER BY id DESC LIMIT 11"
    )
    assert "idx_image_verifier_review" in _plan(no_seqscan, sql, seeded)


def test_the_verifiers_analyses(no_seqscan: sa.Connection, seeded: dict[str, int]) -> None:
    sql = (
        "SELECT * FROM analysis_jobs WHERE user_id = :verifier ORDER BY created_at DESC, job_id DESC LIMIT 11"
    )
    assert "idx_analysis_jobs_user_created" in _plan(no_seqscan, sql, seeded)
