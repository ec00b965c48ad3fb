"""image metadata at intake: batch defaults and a per-file manifest

`image_batches.image_defaults` holds what every image of a batch gets (infant_metadata,
acquisition_date, source_institution) unless its own upload says otherwise; the table
`upload_manifest_entries` holds what the uploader said about each file when asking for its upload
form, by the form's key. The upload trigger copies both onto the Image row when it registers the file
(cradlepose.intake.uploads).

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-05 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "image_batches",
        sa.Column("image_defaults", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.create_table(
        "upload_manifest_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("upload_key", sa.String(length=500), nullable=False),
        sa.Column("infant_metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("acquisition_date", sa.Date(), nullable=True),
        sa.Column("source_institution", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["image_batches.id"], name=op.f("fk_upload_manifest_entries_batch_id_image_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_manifest_entries")),
        sa.UniqueConstraint("upload_key", name=op.f("uq_upload_manifest_entries_upload_key")),
    )
    op.create_index("idx_upload_manifest_batch", "upload_manifest_entries", ["batch_id"], unique=False)


def downgrade() -> None:
    op.drop_index("idx_upload_manifest_batch", table_name="upload_manifest_entries")
    op.drop_table("upload_manifest_entries")
    op.drop_column("image_batches", "image_defaults")
