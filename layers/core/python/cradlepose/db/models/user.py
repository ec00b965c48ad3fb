from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, between, non_negative, numeric, pg_enum
from cradlepose.domain.enums import Role

# Identity lives in Cognito (or the local identity provider). The seed's `password` column is
# kept for parity but can only ever hold "!", Django's marker for "no usable password".
UNUSABLE_PASSWORD = "!"  # noqa: S105 - the opposite of a password


class User(Base):
    __tablename__ = "users"

    id: Mapped[BigIntPK]
    username: Mapped[str] = mapped_column(sa.String(150), unique=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password: Mapped[str] = mapped_column(
        sa.String(128), server_default=sa.text(f"'{UNUSABLE_PASSWORD}'"), default=UNUSABLE_PASSWORD
    )
    # The subject (`sub` claim) of the user's identity-provider account.
    identity_subject: Mapped[str | None] = mapped_column(sa.String(255), unique=True)

    role: Mapped[Role] = mapped_column(pg_enum(Role, "user_role"))
    is_approved: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)
    is_active: Mapped[bool] = mapped_column(server_default=sa.true(), default=True)
    is_staff: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)
    is_superuser: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)

    max_concurrent_batches: Mapped[int] = mapped_column(server_default=sa.text("2"), default=2)
    annotation_specialty: Mapped[str | None] = mapped_column(sa.String(100))
    verification_expertise: Mapped[str | None] = mapped_column(sa.String(100))

    total_annotations_completed: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    total_verifications_completed: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    avg_annotation_time_minutes: Mapped[Decimal] = mapped_column(
        numeric(5, 2), server_default=sa.text("0.00"), default=Decimal("0.00")
    )
    accuracy_score: Mapped[Decimal] = mapped_column(
        numeric(3, 2), server_default=sa.text("0.00"), default=Decimal("0.00")
    )

    date_joined: Mapped[CreatedAt]
    last_login: Mapped[dt.datetime | None]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (
        sa.Index("idx_user_role_approved", "role", "is_approved"),
        sa.Index("idx_user_email", "email"),
        sa.Index("idx_user_active", "is_active"),
        sa.CheckConstraint(f"password = '{UNUSABLE_PASSWORD}'", name="password_unusable"),
        sa.CheckConstraint("max_concurrent_batches BETWEEN 0 AND 100", name="max_concurrent_batches_range"),
        between("accuracy_score", 0, 1),
        *non_negative(
            "total_annotations_completed", "total_verifications_completed", "avg_annotation_time_minutes"
        ),
    )
