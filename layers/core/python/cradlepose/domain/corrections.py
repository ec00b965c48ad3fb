"""What the learning loop is for: how much of the model's pre-annotation annotators had to correct.

Each figure compares the model's keypoints for an image (`images.yolo_keypoints`, what the model
that pre-annotated the batch predicted) with the annotator's **first submission** for that image
(the submitted annotation of the lowest version): what the model saved them from, before any
verifier's feedback, revision or correction. Later versions measure the review, not the model.

Per image (`correction_of`):
- `model_keypoints`: the model's labelled keypoints (visible > 0: visible or occluded, a position
  that means something; an absent prediction carries none);
- `paired`: keypoints labelled both by the model and in the submission;
- `distance_sum`: the sum of their pixel distances (a removed keypoint has no distance);
- `untouched`: the model's keypoints the annotator left as they were: still labelled, with the same
  visibility flag, within UNTOUCHED_TOLERANCE_PX (a click that lands where the point already was is
  no correction; the same tolerance as keypoint_math.MOVE_TOLERANCE_PX).

Over a group of images (`CorrectionTally` → `CorrectionFigures`):
- correction distance (`mean_correction_px`) = Σ distance_sum / Σ paired: the mean pixel distance
  over every keypoint pair, so an image with more keypoints weighs more;
- `untouched_share` = Σ untouched / Σ model_keypoints;
- `first_pass_acceptance` = the share of the images with a final verification whose first final
  verification (earliest `verified_at` with `is_final_decision`: a decision that asked for a second
  opinion or an admin is no verdict yet) was APPROVED, not APPROVED_WITH_CORRECTIONS, a revision
  or a rejection;
- `annotation_seconds_per_image` = the first submissions' `time_spent_seconds`, summed, / images.
A figure without anything to measure (no pair, no verification) is None, never 0.

The sums are what the database adds up (models.correction_metrics); this module defines them and
turns them into figures, so the SQL and the rule are checked against each other in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from cradlepose.domain.enums import VerificationDecision
from cradlepose.domain.keypoint_math import MOVE_TOLERANCE_PX
from cradlepose.domain.keypoints import KeypointSet

UNTOUCHED_TOLERANCE_PX = MOVE_TOLERANCE_PX
FIRST_PASS_DECISION = VerificationDecision.APPROVED


@dataclass(frozen=True)
class ImageCorrection:
    model_keypoints: int
    paired: int
    distance_sum: float
    untouched: int


def correction_of(model: KeypointSet | None, submitted: KeypointSet) -> ImageCorrection:
    """How far the annotator's first submission moved the model's keypoints for one image.

    Distances are compared squared (dx² + dy² ≤ tolerance²), as the database compares them, so
    a point exactly on the tolerance falls the same side in both."""
    if model is None:
        return ImageCorrection(0, 0, 0.0, 0)
    after = submitted.by_id()
    labelled = [k for k in model.keypoints if k.is_labelled]
    paired = 0
    distance_sum = 0.0
    untouched = 0
    for before in labelled:
        now = after.get(before.id)
        if now is None or not now.is_labelled:
            continue
        dx, dy = now.x - before.x, now.y - before.y
        squared = dx * dx + dy * dy
        paired += 1
        distance_sum += math.sqrt(squared)
        if now.visible == before.visible and squared <= UNTOUCHED_TOLERANCE_PX**2:
            untouched += 1
    return ImageCorrection(len(labelled), paired, distance_sum, untouched)


def accepted_first_pass(first_decision: VerificationDecision) -> bool:
    return first_decision is FIRST_PASS_DECISION


@dataclass(frozen=True)
class CorrectionTally:
    """The sums over a group of first submissions (a batch, or every batch of one model)."""

    images: int = 0
    model_keypoints: int = 0
    paired: int = 0
    distance_sum: float = 0.0
    untouched: int = 0
    verified: int = 0  # images with at least one final verification
    accepted: int = 0  # of those, the first final verification APPROVED
    annotation_seconds: int = 0

    def add(
        self, correction: ImageCorrection, seconds: int, first_decision: VerificationDecision | None
    ) -> CorrectionTally:
        return CorrectionTally(
            images=self.images + 1,
            model_keypoints=self.model_keypoints + correction.model_keypoints,
            paired=self.paired + correction.paired,
            distance_sum=self.distance_sum + correction.distance_sum,
            untouched=self.untouched + correction.untouched,
            verified=self.verified + (first_decision is not None),
            accepted=self.accepted + (first_decision is not None and accepted_first_pass(first_decision)),
            annotation_seconds=self.annotation_seconds + seconds,
        )

    @classmethod
    def of(
        cls, images: Iterable[tuple[ImageCorrection, int, VerificationDecision | None]]
    ) -> CorrectionTally:
        tally = cls()
        for correction, seconds, decision in images:
            tally = tally.add(correction, seconds, decision)
        return tally


@dataclass(frozen=True)
class CorrectionFigures:
    mean_correction_px: float | None
    untouched_share: float | None
    first_pass_acceptance: float | None
    annotation_seconds_per_image: float | None

    @classmethod
    def of(cls, tally: CorrectionTally) -> CorrectionFigures:
        return cls(
            mean_correction_px=_ratio(tally.distance_sum, tally.paired),
            untouched_share=_ratio(tally.untouched, tally.model_keypoints),
            first_pass_acceptance=_ratio(tally.accepted, tally.verified),
            annotation_seconds_per_image=_ratio(tally.annotation_seconds, tally.images),
        )


def _ratio(part: float, whole: int) -> float | None:
    return part / whole if whole else None
