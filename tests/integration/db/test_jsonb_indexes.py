"""The JSONB field the API filters on is answered by its GIN index (seed 000's scaling notes).

`images.infant_metadata` is filtered by containment (datasets.verified_images: the `infant`
filter, `infant_metadata @> {...}`); on a few thousand generated images with sequential scans off,
the plan must use idx_image_infant_metadata (without it: a filter over idx_image_status's rows).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from cradlepose.datasets.verified_images import ImageFilters, verified_query

pytestmark = pytest.mark.integration

IMAGES = 4000


@pytest.fixture
def seeded(owner_engine: sa.Engine) -> None:
    with owner_engine.begin() as conn:
        admin = conn.scalar(
            sa.text(
                "INSERT INTO users (username, email, role, is_approved, identity_subject) "
                "VALUES ('admin', 'admin@example.org', 'ADMIN', true, 'admin') RETURNING id"
            )
        )
        batch = conn.scalar(
            sa.text(
                "INSERT INTO image_batches (batch_name, keypoint_schema_id, total_images, uploaded_by, status) "
                "VALUES ('b', 1, :n, :admin, 'COMPLETED') RETURNING id"
            ),
            {"n": IMAGES, "admin": admin},
        )
        conn.execute(
            sa.text(
                "INSERT INTO images (batch_id, filename, original_filename, storage_path, width, height, "
                "file_size, mime_type, format, status, infant_metadata) "
                "SELECT :batch, g || '.jpg', g || '.jpg', 'images/' || g, 640, 480, 1000, 'image/jpeg', 'JPEG', "
                "'APPROVED', jsonb_build_object('age_months', mod(g, 12), 'sex', "
                "(ARRAY['F','M'])[1 + mod(g, 2)], 'infant_pseudonym', 'inf-' || mod(g, 500)) "
                "FROM generate_series(1, :n) g"
            ),
            {"batch": batch, "n": IMAGES},
        )
        conn.execute(sa.text("ANALYZE images"))


@pytest.fixture
def no_seqscan(owner_engine: sa.Engine, seeded: None) -> Iterator[sa.Connection]:
    with owner_engine.connect() as conn:
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


def test_the_containment_filter_uses_the_gin_index(no_seqscan: sa.Connection) -> None:
    sql = (
        "SELECT id FROM images WHERE status = 'APPROVED' AND infant_metadata @> CAST(:wanted AS jsonb) "
        "ORDER BY id"
    )
    wanted = json.dumps({"infant_pseudonym": "inf-42", "sex": "F"})
    plan = no_seqscan.scalar(sa.text("EXPLAIN (FORMAT JSON) " + sql), {"wanted": wanted})
    assert "idx_image_infant_metadata" in _indexes(plan)
    found = no_seqscan.scalars(sa.text(sql), {"wanted": wanted}).all()
    assert len(found) == IMAGES // 500


def test_the_capability_filters_by_containment() -> None:
    """What verified_images sends for the `infant` filter: the @> operator the index serves."""
    query = verified_query(1, ImageFilters(infant={"sex": "F", "infant_pseudonym": "inf-42"}))
    compiled = str(query.compile(dialect=sa.dialects.postgresql.dialect()))
    assert "images.infant_metadata @> " in compiled
