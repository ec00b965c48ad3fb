"""The rules of verification: who should verify what, which cases are difficult or problematic,
when a second opinion is required, and when a gold (quality-check) image passes.

Routing by expertise. An item needs an expertise when its batch names one
(`upload_metadata.verification_expertise`, e.g. "pediatric_physiotherapy"); a difficult case or
one flagged for specialist review whose batch names none needs *some* expertise (ANY_EXPERTISE):
any verifier who has a `verification_expertise` matches it. When a verifier takes work from a
queue, items are ordered by `routing_rank` first (then batch priority, then age):

    0  the item needs an expertise and the verifier has it
    1  the item needs none
    2  the item needs an expertise the verifier lacks

So a matching verifier gets those items first, and a verifier without the expertise gets them only
when nothing else is waiting: preferred, never blocked (a queue never stalls for want of a
specialist). A second-opinion assignment goes to the best-ranked other verifier (`choose_verifier`).

Flags (sticky: once an image was difficult or had issues, it keeps the flag, so the history shows):
- `is_difficult_case`: the model was unsure (yolo_confidence below LOW_MODEL_CONFIDENCE), the image
  has quality issues, the annotator rated it HARD or VERY_HARD, a verifier rated its complexity
  HIGH_COMPLEXITY or more or asked for specialist input, or it was sent back for revision
  REPEATED_REVISIONS times or more;
- `has_annotation_issues`: a verifier marked problematic keypoints, scored the annotation's overall
  quality LOW_QUALITY_SCORE or less, or sent it back (revision or rejection); the annotator's work
  on a gold image failed its check; or the image was revised REPEATED_REVISIONS times or more.

Second opinion. A verdict needs a second opinion when the verifier asks for one, or by rule when
the case is difficult and the verifier's certainty is LOW_CERTAINTY or less. The verdict is then
recorded as not final and waits; a SECOND_OPINION assignment names a different verifier (never
the first verifier nor the author), whose final decision is the one that takes effect.

Gold. An annotation of a gold image passes its quality check when its OKS against the gold
keypoints is at least GOLD_PASS_OKS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cradlepose.domain.enums import DifficultyRating, VerificationDecision

EXPERTISE_KEY = "verification_expertise"  # in a batch's upload_metadata
ANY_EXPERTISE = "*"

LOW_MODEL_CONFIDENCE = Decimal("0.50")
HIGH_COMPLEXITY = 4  # complexity_rating, 1–5
LOW_QUALITY_SCORE = 4  # overall_quality_score, 1–10
LOW_CERTAINTY = 3  # certainty_level, 1–10
REPEATED_REVISIONS = 2
GOLD_PASS_OKS = 0.75
HARD_RATINGS = frozenset({DifficultyRating.HARD, DifficultyRating.VERY_HARD})
SENT_BACK = frozenset(
    {
        VerificationDecision.MINOR_REVISION_NEEDED,
        VerificationDecision.MAJOR_REVISION_NEEDED,
        VerificationDecision.REJECTED,
    }
)

MATCH, NO_NEED, MISMATCH = 0, 1, 2


# ------------------------------------------------------------------ routing


def needed_expertise(upload_metadata: Any, *, difficult: bool, specialist: bool) -> str | None:
    """The expertise an item needs: its batch's, or any expertise for a difficult or specialist case."""
    named = upload_metadata.get(EXPERTISE_KEY) if isinstance(upload_metadata, dict) else None
    if isinstance(named, str) and named.strip():
        return named.strip()
    return ANY_EXPERTISE if difficult or specialist else None


def routing_rank(needed: str | None, expertise: str | None) -> int:
    """0 when the verifier has the needed expertise, 1 when none is needed, 2 when they lack it."""
    if needed is None:
        return NO_NEED
    if expertise and needed in (ANY_EXPERTISE, expertise):
        return MATCH
    return MISMATCH


@dataclass(frozen=True)
class VerifierCandidate:
    user_id: int
    expertise: str | None
    open_reviews: int  # claimed items and open second-opinion assignments


def choose_verifier(
    candidates: Sequence[VerifierCandidate], needed: str | None, exclude: frozenset[int] = frozenset()
) -> VerifierCandidate | None:
    """The best-ranked verifier not excluded; ties go to the less loaded, then the lower id."""
    eligible = [c for c in candidates if c.user_id not in exclude]
    if not eligible:
        return None
    return min(eligible, key=lambda c: (routing_rank(needed, c.expertise), c.open_reviews, c.user_id))


# ------------------------------------------------------------------ flags


@dataclass(frozen=True)
class CaseSignals:
    """What is known about an image's case at a point of the workflow; absent signals are None/False."""

    yolo_confidence: Decimal | None = None
    has_quality_issues: bool = False
    annotator_difficulty: DifficultyRating | None = None
    complexity_rating: int | None = None
    requires_specialist_input: bool = False
    problematic_keypoints: int = 0
    overall_quality_score: int | None = None
    decision: VerificationDecision | None = None
    revisions: int = 0
    gold_check_failed: bool = False


def is_difficult_case(s: CaseSignals) -> bool:
    return (
        (s.yolo_confidence is not None and s.yolo_confidence < LOW_MODEL_CONFIDENCE)
        or s.has_quality_issues
        or s.annotator_difficulty in HARD_RATINGS
        or (s.complexity_rating is not None and s.complexity_rating >= HIGH_COMPLEXITY)
        or s.requires_specialist_input
        or s.revisions >= REPEATED_REVISIONS
    )


def has_annotation_issues(s: CaseSignals) -> bool:
    return (
        s.problematic_keypoints > 0
        or (s.overall_quality_score is not None and s.overall_quality_score <= LOW_QUALITY_SCORE)
        or s.decision in SENT_BACK
        or s.gold_check_failed
        or s.revisions >= REPEATED_REVISIONS
    )


# ------------------------------------------------------------------ second opinion, gold


def needs_second_opinion(*, asked: bool, difficult: bool, certainty_level: int) -> bool:
    return asked or (difficult and certainty_level <= LOW_CERTAINTY)


def gold_check_passed(oks: float) -> bool:
    return oks >= GOLD_PASS_OKS
