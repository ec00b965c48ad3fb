"""The pre-annotation summary of a batch: average confidence and the quality check.

quality_check_passed: at least QUALITY_PASS_SHARE (90 %) of the batch's registered images have
an `image_quality_score` at or above the batch's `min_image_quality_score`. An image without a
score counts as failing. A share rather than "every image": one blurred frame should not mark a
batch of hundreds as failed; the images below the minimum carry `has_quality_issues` themselves.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

QUALITY_PASS_SHARE = Decimal("0.90")
_HUNDREDTHS = Decimal("0.01")


def quality_check_passed(passing: int, total: int, share: Decimal = QUALITY_PASS_SHARE) -> bool:
    """`passing` of `total` images reach the batch's minimum quality; an empty batch does not pass."""
    if total <= 0:
        return False
    return Decimal(passing) >= share * Decimal(total)


def hundredths(value: float | Decimal | None) -> Decimal | None:
    """A confidence as the numeric(3,2) columns keep it."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(_HUNDREDTHS, rounding=ROUND_HALF_UP)
