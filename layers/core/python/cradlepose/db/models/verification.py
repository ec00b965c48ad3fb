from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, between, non_negative, pg_enum
from cradlepose.domain.enums import (
    ClinicalRelevance,
    DiagnosticQuality,
    RejectionReason,
    VerificationDecision,
)


class Verification(Base):
    __tablename__ = "verifications"

    id: Mapped[BigIntPK]
    annotation_id: Mapped[int] = mapped_column(sa.ForeignKey("annotations.id"))
    verifier_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))

    decision: Mapped[VerificationDecision] = mapped_column(
        pg_enum(VerificationDecision, "verification_decision")
    )

    corrected_keypoints: Mapped[dict[str, Any] | None]
    correction_summary: Mapped[str | None] = mapped_column(sa.Text)
    detailed_feedback: Mapped[str | None] = mapped_column(sa.Text)
    feedback_to_annotator: Mapped[str | None] = mapped_column(sa.Text)
    internal_notes: Mapped[str | None] = mapped_column(sa.Text)

    overall_quality_score: Mapped[int]
    anatomical_accuracy: Mapped[int | None]
    technical_precision: Mapped[int | None]
    completeness_score: Mapped[int | None]

    keypoint_accuracy_scores: Mapped[dict[str, Any] | None]
    problematic_keypoints: Mapped[list[Any] | None]

    rejection_reason: Mapped[RejectionReason | None] = mapped_column(
        pg_enum(RejectionReason, "rejection_reason")
    )
    rejection_details: Mapped[str | None] = mapped_column(sa.Text)
    can_be_reannotated: Mapped[bool] = mapped_column(server_default=sa.true(), default=True)
    requires_specialist_input: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)

    clinical_relevance: Mapped[ClinicalRelevance | None] = mapped_column(
        pg_enum(ClinicalRelevance, "clinical_relevance")
    )
    diagnostic_quality: Mapped[DiagnosticQuality | None] = mapped_column(
        pg_enum(DiagnosticQuality, "diagnostic_quality")
    )
    research_usability: Mapped[bool] = mapped_column(server_default=sa.true(), default=True)

    verification_time_seconds: Mapped[int]
    complexity_rating: Mapped[int | None]
    certainty_level: Mapped[int]

    is_final_decision: Mapped[bool] = mapped_column(server_default=sa.true(), default=True)
    requires_second_opinion: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)
    escalated_to_admin: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)

    verified_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())

    __table_args__ = (
        sa.Index("idx_verification_annotation", "annotation_id"),
        sa.Index("idx_verification_verifier", "verifier_id"),
        sa.Index("idx_verification_decision", "decision"),
        sa.Index("idx_verification_quality", "overall_quality_score"),
        sa.Index("idx_verification_date", "verified_at"),
        between("overall_quality_score", 1, 10),
        between("anatomical_accuracy", 1, 10),
        between("technical_precision", 1, 10),
        between("completeness_score", 1, 10),
        between("complexity_rating", 1, 5),
        between("certainty_level", 1, 10),
        sa.CheckConstraint(
            "decision <> 'REJECTED' OR rejection_reason IS NOT NULL", name="rejection_has_reason"
        ),
        sa.CheckConstraint(
            "decision <> 'APPROVED_WITH_CORRECTIONS' OR corrected_keypoints IS NOT NULL",
            name="corrections_have_keypoints",
        ),
        *non_negative("verification_time_seconds"),
    )
