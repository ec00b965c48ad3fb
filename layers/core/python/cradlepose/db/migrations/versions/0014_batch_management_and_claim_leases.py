"""batch due dates, verification claim leases, unusable-image flags (issue 19)

- `image_batches.due_date`: when an admin wants the batch done (PATCH /batches/{id}); assignments
  made for the batch default to it. Beyond seed 000, which has due dates on assignments only.
- `images.verifier_claimed_at`: the last time the holder of an image's verification claim
  (`current_verifier`) showed they were alive (claiming, renewing, deciding). A claim silent for
  longer than `claim_idle_timeout_s` has expired: it goes back to its queue, evaluated on read.
- `images.unusable_flag`: an annotator's "this image cannot be annotated" report (reason, text,
  who, when) and, once a verifier or an admin decided, the decision. The seed's quality fields
  (has_quality_issues, quality_issues, has_annotation_issues) carry its effect.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("image_batches", sa.Column("due_date", sa.DateTime(timezone=True), nullable=True))
    op.add_column("images", sa.Column("verifier_claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("images", sa.Column("unusable_flag", postgresql.JSONB(), nullable=True))
    # Pending flags are what the "flagged" queue lists: a partial index keeps it small.
    op.create_index(
        "idx_image_unusable_pending",
        "images",
        ["batch_id", "id"],
        postgresql_where=sa.text("status = 'SUBMITTED' AND unusable_flag IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("idx_image_unusable_pending", table_name="images")
    op.drop_column("images", "unusable_flag")
    op.drop_column("images", "verifier_claimed_at")
    op.drop_column("image_batches", "due_date")
