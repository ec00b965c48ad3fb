"""The sentence that goes with an anomaly score: how unusual, for which age, and which joints.

Deterministic (a template filled from the numbers), so the same analysis always reads the same,
and honest about what it is: every text starts with RESEARCH_NOTICE's short form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

RESEARCH_NOTICE = (
    "Research aid for cerebral palsy screening studies, not a diagnosis: it says how unusual a pose "
    "is compared with typical verified poses of infants of the same age, and which joints make it so. "
    "Clinical assessment (e.g. the General Movements Assessment) decides; this does not."
)
SHORT_NOTICE = "Research aid, not a diagnosis."
MENTION_SHARE = 0.10  # joints with at least this share of the score are named
MAX_NAMED = 3


@dataclass(frozen=True)
class AngleContext:
    """The observed angle at a joint and the band's typical value (degrees)."""

    joint: str
    observed: float
    typical_mean: float
    typical_sd: float


def band_label(age_min: float, age_max: float) -> str:
    return f"{_number(age_min)}–{_number(age_max)} months"


def joint_label(joint: str) -> str:
    return joint.replace("_", " ")


def named_joints(shares: Mapping[str, float]) -> list[str]:
    """The joints worth naming: those with ≥ 10 % of the score (at most three; at least the largest)."""
    ranked = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))
    named = [j for j, share in ranked if share >= MENTION_SHARE][:MAX_NAMED]
    return named or [j for j, share in ranked[:1] if share > 0]


def describe(
    *,
    is_anomaly: bool,
    normalized: float,
    band: str,
    shares: Mapping[str, float],
    angle: AngleContext | None = None,
) -> str:
    """One or two sentences: verdict with its rank in the band, the joints deviating most."""
    named = named_joints(shares)
    listed = _listing([f"{joint_label(j)} ({shares[j]:.0%})" for j in named])
    rank = f"more unusual than {normalized:.0%} of typical poses at {band}"
    if is_anomaly:
        text = f"{SHORT_NOTICE} This pose is atypical for {band} ({rank}). "
        text += f"Deviating most: {listed}." if listed else ""
    else:
        text = f"{SHORT_NOTICE} This pose is within the typical range for {band} ({rank})."
        if listed:
            text += f" Largest deviations, within range: {listed}."
    if angle is not None and is_anomaly:
        direction = "more flexed" if angle.observed < angle.typical_mean else "more extended"
        text += (
            f" The {joint_label(angle.joint)} is {direction} than typical: {angle.observed:.0f}° "
            f"against {angle.typical_mean:.0f}° ± {angle.typical_sd:.0f}°."
        )
    return text.strip()


def _listing(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _number(value: float) -> str:
    return f"{value:g}"
