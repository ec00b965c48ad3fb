"""A model's run statistics: what it did with the images it was given, summed per run.

Each pipeline chunk and each inference job leaves one `RunTally` (the sums of its images'
results); a model's registry figures are the ratios of the sums over all its tallies, so they
never average averages:

- `avg_processing_time_ms`: the model's own time per image (ImageResult.processing_time_ms,
  decoding to poses), over every image it was given, failed ones included;
- `success_rate` (0..1): the share of those images for which it produced a pose without an
  error (an image read fine but with no person found is not a success);
- `avg_confidence_score` (0..1): the mean detection confidence of the chosen person (the
  person box's score, `yolo_confidence`), over the images with a pose. Not the keypoints' mean.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict, Field

from cradlepose.domain.inference import ImageResult

HUNDREDTH = Decimal("0.01")


class RunTally(BaseModel):
    """The sums of one run's image results (a chunk of a pipeline run, or an inference job)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    images: int = Field(ge=0)
    posed: int = Field(ge=0)  # images with a pose and no error
    processing_ms: int = Field(ge=0)
    confidence_sum: float = Field(ge=0)  # of the posed images' chosen-person confidences

    @classmethod
    def of(cls, results: Iterable[ImageResult]) -> RunTally:
        images = posed = processing_ms = 0
        confidence_sum = 0.0
        for result in results:
            images += 1
            processing_ms += result.processing_time_ms
            if result.ok and result.error is None and result.yolo_confidence is not None:
                posed += 1
                confidence_sum += result.yolo_confidence
        return cls(images=images, posed=posed, processing_ms=processing_ms, confidence_sum=confidence_sum)


class ModelFigures(BaseModel):
    """The registry's three figures from the sums of a model's tallies (None: no image yet)."""

    model_config = ConfigDict(frozen=True)

    avg_processing_time_ms: int | None
    avg_confidence_score: Decimal | None
    success_rate: Decimal | None

    @classmethod
    def of(cls, tallies: Iterable[RunTally]) -> ModelFigures:
        """The rule the roll-up's SQL (models/run_statistics.py) applies; stated once here in
        Python for the unit tests and for readers."""
        listed = list(tallies)
        images = sum(t.images for t in listed)
        posed = sum(t.posed for t in listed)
        if images == 0:
            return cls(avg_processing_time_ms=None, avg_confidence_score=None, success_rate=None)
        confidence = Decimal(str(sum(t.confidence_sum for t in listed)))
        return cls(
            avg_processing_time_ms=int(
                (Decimal(sum(t.processing_ms for t in listed)) / images).quantize(Decimal(1), ROUND_HALF_UP)
            ),
            avg_confidence_score=(confidence / posed).quantize(HUNDREDTH, ROUND_HALF_UP) if posed else None,
            success_rate=(Decimal(posed) / images).quantize(HUNDREDTH, ROUND_HALF_UP),
        )
