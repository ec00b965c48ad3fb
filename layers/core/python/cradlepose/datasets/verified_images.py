"""Which images are verified, and how datasets and collections choose among them.

An image is verified when it is APPROVED; its verified keypoints are its latest APPROVED
annotation version (a verifier's correction is a newer APPROVED version than the annotator's).
Filters: keypoint schema (always: keypoints of two schemas do not mix), batches, institutions,
the infant's age in months (infant_metadata.age_months), other infant_metadata values (containment,
served by the GIN index idx_image_infant_metadata), image quality, and the difficulty the
annotator rated the verified version.

Judgement (domain.judgement): an image whose final verification says it is not usable for
research, or of POOR diagnostic quality, is left out unless the filters say `include_unusable`.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.dialects.postgresql import distinct_on

from cradlepose.db.models import Annotation, Image, ImageBatch, Verification
from cradlepose.domain.bounds import INTEGER_MAX, DbId
from cradlepose.domain.enums import AnnotationStatus, DifficultyRating, ImageStatus
from cradlepose.domain.judgement import UNUSABLE_DIAGNOSTIC_QUALITY
from cradlepose.domain.splits import AGE_KEY

# One value of infant_metadata to match exactly (a string, a flag, or a number).
InfantValue = (
    Annotated[str, Field(max_length=200)]
    | bool
    | Annotated[int, Field(ge=-INTEGER_MAX, le=INTEGER_MAX)]
    | float
)


class ImageFilters(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_ids: list[DbId] | None = Field(default=None, min_length=1, max_length=1000)
    institutions: list[str] | None = Field(default=None, min_length=1, max_length=100)
    age_months_min: float | None = Field(default=None, ge=0, le=240)
    age_months_max: float | None = Field(default=None, ge=0, le=240)
    min_quality: float | None = Field(default=None, ge=1, le=10, description="image quality score, 1–10")
    difficulty: list[DifficultyRating] | None = Field(
        default=None, min_length=1, description="the verified version's difficulty rating"
    )
    include_unusable: bool = Field(
        default=False,
        description="also take images whose final verification judged them not usable for research "
        "or of POOR diagnostic quality (left out by default)",
    )
    infant: dict[Annotated[str, Field(max_length=100)], InfantValue] | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="images whose infant_metadata holds every one of these values, e.g. "
        '{"sex": "female", "session_type": "home"} (answered by the GIN index on infant_metadata)',
        examples=[{"sex": "female"}],
    )

    @model_validator(mode="after")
    def _age_range(self) -> ImageFilters:
        if (
            self.age_months_min is not None
            and self.age_months_max is not None
            and self.age_months_min > self.age_months_max
        ):
            raise ValueError("age_months_min is above age_months_max")
        return self


def final_annotations() -> Any:
    """Per image, its latest APPROVED annotation version: (image_id, annotation_id, difficulty)."""
    return (
        sa.select(
            Annotation.image_id.label("image_id"),
            Annotation.id.label("annotation_id"),
            Annotation.difficulty_rating.label("difficulty_rating"),
        )
        .where(Annotation.status == AnnotationStatus.APPROVED)
        .ext(distinct_on(Annotation.image_id))
        .order_by(Annotation.image_id, Annotation.version.desc(), Annotation.id.desc())
        .subquery("final_annotation")
    )


def judged_unusable() -> sa.Select[Any]:
    """Ids of the images whose latest final verification judged them unusable (domain.judgement)."""
    latest = (
        sa.select(
            Annotation.image_id.label("image_id"),
            Verification.research_usability.label("research_usability"),
            Verification.diagnostic_quality.label("diagnostic_quality"),
        )
        .join(Verification, Verification.annotation_id == Annotation.id)
        .where(Verification.is_final_decision)
        .ext(distinct_on(Annotation.image_id))
        .order_by(Annotation.image_id, Verification.id.desc())
        .subquery("final_judgement")
    )
    return sa.select(latest.c.image_id).where(
        sa.or_(
            latest.c.research_usability.is_(False),
            latest.c.diagnostic_quality.in_(sorted(UNUSABLE_DIAGNOSTIC_QUALITY)),
        )
    )


def age_months() -> sa.ColumnElement[Any]:
    """infant_metadata.age_months as a number, NULL when absent or not a number (never a cast error)."""
    value = Image.infant_metadata[AGE_KEY]
    return sa.case((sa.func.jsonb_typeof(value) == "number", value.astext.cast(sa.Numeric)), else_=None)


def verified_query(schema_id: int, filters: ImageFilters) -> sa.Select[Any]:
    """(image_id, batch_id, infant_metadata, source_institution, annotation_id) of the verified images."""
    final = final_annotations()
    query = (
        sa.select(
            Image.id,
            Image.batch_id,
            Image.infant_metadata,
            Image.source_institution,
            final.c.annotation_id,
        )
        .join(ImageBatch, ImageBatch.id == Image.batch_id)
        .join(final, final.c.image_id == Image.id)
        .where(Image.status == ImageStatus.APPROVED, ImageBatch.keypoint_schema_id == schema_id)
    )
    if filters.batch_ids:
        query = query.where(Image.batch_id.in_(filters.batch_ids))
    if filters.institutions:
        query = query.where(Image.source_institution.in_(filters.institutions))
    if filters.age_months_min is not None:
        query = query.where(age_months() >= filters.age_months_min)
    if filters.age_months_max is not None:
        query = query.where(age_months() <= filters.age_months_max)
    if filters.min_quality is not None:
        query = query.where(Image.image_quality_score >= filters.min_quality)
    if filters.difficulty:
        query = query.where(final.c.difficulty_rating.in_(filters.difficulty))
    if not filters.include_unusable:
        query = query.where(Image.id.not_in(judged_unusable()))
    if filters.infant:
        query = query.where(Image.infant_metadata.contains(filters.infant))  # @>, idx_image_infant_metadata
    return query.order_by(Image.id)
