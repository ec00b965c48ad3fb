"""The database itself refuses values outside the seed's ranges: no half-valid rows, whoever writes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

pytestmark = pytest.mark.integration


def _system_and_schema(conn: sa.Connection) -> tuple[int, int]:
    system_id = conn.scalar(sa.text("SELECT id FROM users WHERE username = 'system'"))
    schema_id = conn.scalar(sa.text("SELECT id FROM keypoint_schemas LIMIT 1"))
    assert system_id is not None
    assert schema_id is not None
    return system_id, schema_id


def _insert_batch(conn: sa.Connection, **overrides: object) -> None:
    system_id, schema_id = _system_and_schema(conn)
    values: dict[str, object] = {
        "batch_name": "b", "keypoint_schema_id": schema_id, "total_images": 1, "uploaded_by": system_id,
    }  # fmt: skip
    values.update(overrides)
    columns = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    conn.execute(sa.text(f"INSERT INTO image_batches ({columns}) VALUES ({params})"), values)


@pytest.mark.parametrize(
    ("column", "bad"),
    [
        ("processing_priority", 0),
        ("processing_priority", 11),
        ("min_image_quality_score", 0.5),
        ("min_image_quality_score", 10.5),
        ("avg_yolo_confidence", 1.5),
        ("total_images", -1),
        ("approved_count", -1),
    ],
)
def test_batch_ranges_are_enforced(engine: sa.Engine, column: str, bad: object) -> None:
    with engine.connect() as conn, pytest.raises(DBAPIError, match="ck_image_batches_"):
        _insert_batch(conn, **{column: bad})


def test_batch_in_range_is_accepted(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _insert_batch(conn, processing_priority=10, min_image_quality_score=10, avg_yolo_confidence=1)
        assert conn.scalar(sa.text("SELECT count(*) FROM image_batches")) == 1


@pytest.mark.parametrize(
    ("sql", "constraint"),
    [
        ("UPDATE users SET accuracy_score = 1.5 WHERE username = 'system'", "ck_users_accuracy_score_range"),
        ("UPDATE users SET password = 'hunter2' WHERE username = 'system'", "ck_users_password_unusable"),
        (
            "UPDATE keypoint_schemas SET max_missing_keypoints = 18",
            "ck_keypoint_schemas_max_missing_keypoints_range",
        ),
        (
            "UPDATE keypoint_schemas SET min_visibility_threshold = 1.5",
            "numeric field overflow|min_visibility_threshold",
        ),
    ],
)
def test_update_out_of_range_is_refused(engine: sa.Engine, sql: str, constraint: str) -> None:
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match=constraint):
        conn.execute(sa.text(sql))


def test_verification_scores_and_rejection_reason(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        system_id, schema_id = _system_and_schema(conn)
        batch_id = conn.scalar(
            sa.text(
                "INSERT INTO image_batches (batch_name, keypoint_schema_id, total_images, uploaded_by) "
                "VALUES ('b', :s, 1, :u) RETURNING id"
            ),
            {"s": schema_id, "u": system_id},
        )
        image_id = conn.scalar(
            sa.text(
                "INSERT INTO images (batch_id, filename, original_filename, storage_path, width, height, "
                "file_size, mime_type, format) VALUES (:b, 'a.jpg', 'a.jpg', 'k/a.jpg', 10, 10, 5, "
                "'image/jpeg', 'JPEG') RETURNING id"
            ),
            {"b": batch_id},
        )
        assignment_id = conn.scalar(
            sa.text(
                "INSERT INTO batch_assignments (batch_id, annotator_id, assigned_by, images_total) "
                "VALUES (:b, :u, :u, 1) RETURNING id"
            ),
            {"b": batch_id, "u": system_id},
        )
        annotation_id = conn.scalar(
            sa.text(
                "INSERT INTO annotations (image_id, batch_assignment_id, refined_keypoints, time_spent_seconds) "
                "VALUES (:i, :a, '{}'::jsonb, 10) RETURNING id"
            ),
            {"i": image_id, "a": assignment_id},
        )
        insert = sa.text(
            "INSERT INTO verifications (annotation_id, verifier_id, decision, overall_quality_score, "
            "verification_time_seconds, certainty_level) VALUES (:a, :u, :d, :q, 5, :c)"
        )
        base = {"a": annotation_id, "u": system_id, "d": "APPROVED", "q": 8, "c": 9}
        conn.execute(insert, base)
        for bad, constraint in (
            ({"q": 11}, "overall_quality_score_range"),
            ({"c": 0}, "certainty_level_range"),
            ({"d": "REJECTED"}, "rejection_has_reason"),
        ):
            savepoint = conn.begin_nested()
            with pytest.raises(DBAPIError, match=constraint):
                conn.execute(insert, {**base, **bad})
            savepoint.rollback()
