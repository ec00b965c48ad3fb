"""single-use upload forms; duplicate images found and linked

`pending_uploads`: one row per issued upload form, its nonce the folder of the form's key,
consumed once by the upload trigger (issue 18, "Upload race").
`images`: the cleaned pixels' SHA-256 (unique per batch: one original), the uploaded bytes'
SHA-256, a 64-bit perceptual hash, and the link to the image a duplicate repeats;
`upload_rejections.duplicate_of_id`: an exact duplicate's original (issue 19).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_uploads",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consumed_key", sa.String(length=500), nullable=True),
        sa.Column("consumed_etag", sa.String(length=200), nullable=True),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_pending_uploads_size_bytes_non_negative")),
        sa.CheckConstraint(
            "(consumed_at IS NULL) = (consumed_key IS NULL)",
            name=op.f("ck_pending_uploads_consumed_with_key"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["image_batches.id"], name=op.f("fk_pending_uploads_batch_id_image_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_uploads")),
        sa.UniqueConstraint("nonce", name=op.f("uq_pending_uploads_nonce")),
    )
    op.create_index(
        "idx_pending_upload_open_sha256",
        "pending_uploads",
        ["batch_id", "sha256"],
        postgresql_where=sa.text("consumed_at IS NULL AND sha256 IS NOT NULL"),
    )
    op.add_column("images", sa.Column("pixel_sha256", sa.String(length=64), nullable=True))
    op.add_column("images", sa.Column("upload_sha256", sa.String(length=64), nullable=True))
    op.add_column("images", sa.Column("perceptual_hash", sa.BigInteger(), nullable=True))
    op.add_column("images", sa.Column("duplicate_of_id", sa.BigInteger(), nullable=True))
    op.add_column("images", sa.Column("duplicate_distance", sa.SmallInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_images_duplicate_of_id_images"), "images", "images", ["duplicate_of_id"], ["id"]
    )
    op.create_check_constraint(
        op.f("ck_images_duplicate_distance_in_range"), "images", "duplicate_distance BETWEEN 0 AND 64"
    )
    op.create_index("uq_image_batch_pixels", "images", ["batch_id", "pixel_sha256"], unique=True)
    op.create_index("idx_image_pixels", "images", ["pixel_sha256"])
    op.create_index("idx_image_batch_upload_sha256", "images", ["batch_id", "upload_sha256"])
    op.add_column("upload_rejections", sa.Column("duplicate_of_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_upload_rejections_duplicate_of_id_images"),
        "upload_rejections",
        "images",
        ["duplicate_of_id"],
        ["id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_upload_rejections_duplicate_of_id_images"), "upload_rejections", type_="foreignkey"
    )
    op.drop_column("upload_rejections", "duplicate_of_id")
    op.drop_index("idx_image_batch_upload_sha256", table_name="images")
    op.drop_index("idx_image_pixels", table_name="images")
    op.drop_index("uq_image_batch_pixels", table_name="images")
    op.drop_constraint(op.f("ck_images_duplicate_distance_in_range"), "images", type_="check")
    op.drop_constraint(op.f("fk_images_duplicate_of_id_images"), "images", type_="foreignkey")
    for column in (
        "duplicate_distance",
        "duplicate_of_id",
        "perceptual_hash",
        "upload_sha256",
        "pixel_sha256",
    ):
        op.drop_column("images", column)
    op.drop_index("idx_pending_upload_open_sha256", table_name="pending_uploads")
    op.drop_table("pending_uploads")
