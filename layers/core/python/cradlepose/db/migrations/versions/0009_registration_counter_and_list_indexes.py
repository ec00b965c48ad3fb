"""registration counter on batches; indexes for the annotator's, verifier's and analyses lists

`image_batches.registered_images` counts the images the upload trigger registered: each
registration adds one with an atomic UPDATE instead of locking the batch and counting its images
(issue 21). Existing batches are backfilled from their images.

The indexes serve lists whose cost otherwise grows with the data (EXPLAIN in
tests/integration/db/test_list_indexes.py):
- batch_assignments (annotator_id, batch_id, status): an annotator's batch list, newest batch
  first, answered from the index alone;
- batch_assignments (annotator_id, id): an annotator's assignment list, newest first;
- images (batch_id, id): a batch's images newest first, as an annotator sees them;
- images (current_verifier, batch_id, id) WHERE status = 'UNDER_REVIEW': a verifier's images;
- analysis_jobs (user_id, created_at, job_id): a verifier's analyses, newest first.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "image_batches",
        sa.Column("registered_images", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_image_batches_registered_images_non_negative"), "image_batches", "registered_images >= 0"
    )
    op.execute(
        "UPDATE image_batches b SET registered_images = c.n "
        "FROM (SELECT batch_id, count(*) AS n FROM images GROUP BY batch_id) c WHERE c.batch_id = b.id"
    )
    op.create_index(
        "idx_assignment_annotator_batch", "batch_assignments", ["annotator_id", "batch_id", "status"]
    )
    op.create_index("idx_assignment_annotator_id", "batch_assignments", ["annotator_id", "id"])
    op.create_index("idx_image_batch_id", "images", ["batch_id", "id"])
    op.create_index(
        "idx_image_verifier_review",
        "images",
        ["current_verifier", "batch_id", "id"],
        postgresql_where=sa.text("status = 'UNDER_REVIEW'"),
    )
    op.create_index("idx_analysis_jobs_user_created", "analysis_jobs", ["user_id", "created_at", "job_id"])


def downgrade() -> None:
    op.drop_index("idx_analysis_jobs_user_created", table_name="analysis_jobs")
    op.drop_index("idx_image_verifier_review", table_name="images")
    op.drop_index("idx_image_batch_id", table_name="images")
    op.drop_index("idx_assignment_annotator_id", table_name="batch_assignments")
    op.drop_index("idx_assignment_annotator_batch", table_name="batch_assignments")
    op.drop_constraint(
        op.f("ck_image_batches_registered_images_non_negative"), "image_batches", type_="check"
    )
    op.drop_column("image_batches", "registered_images")
