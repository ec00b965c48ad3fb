"""the image a QUALITY_CHECK or SECOND_OPINION assignment is about

A verifier's QUALITY_CHECK assignment (a gold image's check to confirm) and SECOND_OPINION
assignment (a first verdict waiting for theirs) each concern one image, which the annotator's
assignments (a batch, or a set of images through `images.current_assignment_id`) cannot name.
`batch_assignments.image_id` names it; the partial index finds an image's open review assignment.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("batch_assignments", sa.Column("image_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_batch_assignments_image_id_images"), "batch_assignments", "images", ["image_id"], ["id"]
    )
    op.create_index(
        "idx_assignment_review_image",
        "batch_assignments",
        ["image_id"],
        postgresql_where=sa.text("image_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("idx_assignment_review_image", table_name="batch_assignments")
    op.drop_constraint(op.f("fk_batch_assignments_image_id_images"), "batch_assignments", type_="foreignkey")
    op.drop_column("batch_assignments", "image_id")
