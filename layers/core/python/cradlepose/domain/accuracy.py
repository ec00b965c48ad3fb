"""How good an annotator's work is: the definition of `User.accuracy_score`.

Over the annotator's most recent finalized images (at most WINDOW of them; an image is finalized
when a verifier's final decision approved it or rejected it for good), and the quality-check
(gold) images they submitted (counted from submission, since their truth is known already):

    accuracy_score = 0.7 × mean_oks + 0.3 × first_pass_rate

- mean_oks: the mean COCO OKS (schema sigmas) between the annotator's *first submitted* version
  and the final verified keypoints of the image (the gold keypoints for a gold image); an image
  rejected for good counts 0;
- first_pass_rate: the share of the verified ones approved by the first final decision, without
  corrections or revisions (a gold image not verified yet does not count here).

Both parts are in [0, 1], so the score is too. With no finalized work yet it is 0 (the column's
default), and `samples` says how much it rests on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

OKS_WEIGHT = 0.7
FIRST_PASS_WEIGHT = 0.3
WINDOW = 500


@dataclass(frozen=True)
class FinalizedWork:
    oks: float  # first submission vs final keypoints; 0 for an image rejected for good
    approved_first_pass: bool | None  # None for gold images (never verified)


@dataclass(frozen=True)
class Accuracy:
    score: Decimal
    mean_oks: float
    first_pass_rate: float
    samples: int


def accuracy(work: Sequence[FinalizedWork]) -> Accuracy:
    if not work:
        return Accuracy(Decimal("0.00"), 0.0, 0.0, 0)
    mean_oks = sum(w.oks for w in work) / len(work)
    verified = [w.approved_first_pass for w in work if w.approved_first_pass is not None]
    first_pass_rate = sum(verified) / len(verified) if verified else mean_oks
    value = OKS_WEIGHT * mean_oks + FIRST_PASS_WEIGHT * first_pass_rate
    score = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return Accuracy(min(score, Decimal("1.00")), mean_oks, first_pass_rate, len(work))
