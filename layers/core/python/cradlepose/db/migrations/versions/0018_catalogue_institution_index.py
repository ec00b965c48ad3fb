"""the catalogue's institution filter: an index on images.source_institution

`GET /datasets?institution=…` finds the datasets holding a site's images: the images of that
institution by this index, then their datasets by idx_dataset_image_image, instead of reading every
image of every dataset.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("idx_image_source_institution", "images", ["source_institution"], unique=False)


def downgrade() -> None:
    op.drop_index("idx_image_source_institution", table_name="images")
