"""dataset imports keep the archive's splits unless asked to re-split

`dataset_imports.resplit`: false (the default) keeps the train / validation / test split each
image has in the archive (COCO document or folder names, a YOLO data.yaml's folders); true deals
the images to splits by infant as any Cradle dataset is split.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "dataset_imports", sa.Column("resplit", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("dataset_imports", "resplit")
