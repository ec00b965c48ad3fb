"""Whether a verifier's judgement lets an annotation into exports and dataset snapshots.

A verifier says, with the final decision on an image, whether the annotated image is usable for
research (`research_usability`) and how good it is for diagnosis (`diagnostic_quality`). An
image judged not usable, or of POOR diagnostic quality, stays out of exports and dataset
snapshots unless the caller asks for it explicitly (`include_unusable`). Only the final decision
counts: a first verdict that waits for a second opinion is not a judgement yet.
"""

from __future__ import annotations

from cradlepose.domain.enums import DiagnosticQuality

UNUSABLE_DIAGNOSTIC_QUALITY: frozenset[DiagnosticQuality] = frozenset({DiagnosticQuality.POOR})


def usable_for_research(research_usability: bool, diagnostic_quality: DiagnosticQuality | None) -> bool:
    """The rule, in one place; `verified_images.judged_unusable` is its SQL form."""
    return research_usability and diagnostic_quality not in UNUSABLE_DIAGNOSTIC_QUALITY
