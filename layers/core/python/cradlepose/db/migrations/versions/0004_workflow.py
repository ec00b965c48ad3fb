"""workflow: gold keypoints, current assignment, active time

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:22:31.349635
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("batch_assignments", sa.Column("active_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "images", sa.Column("gold_keypoints", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column("images", sa.Column("current_assignment_id", sa.BigInteger(), nullable=True))
    op.create_index(
        "idx_image_assignment_status", "images", ["current_assignment_id", "status"], unique=False
    )
    op.create_foreign_key(
        op.f("fk_images_current_assignment_id_batch_assignments"),
        "images",
        "batch_assignments",
        ["current_assignment_id"],
        ["id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_images_current_assignment_id_batch_assignments"), "images", type_="foreignkey"
    )
    op.drop_index("idx_image_assignment_status", table_name="images")
    op.drop_column("images", "current_assignment_id")
    op.drop_column("images", "gold_keypoints")
    op.drop_column("batch_assignments", "active_since")
