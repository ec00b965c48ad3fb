"""The image quality score on the seed's 1–10 scale, from measurements of the image.

Measurements (computed by the upload trigger on the grayscale image):
- sharpness: variance of the Laplacian (3×3, 4-neighbour) on the image scaled so its longer
  side is 1024 px — a standard focus measure; in-focus infant recordings score in the hundreds;
- brightness: mean gray level in [0, 255]; dark_fraction and bright_fraction: shares of pixels
  at most 10 and at least 245 (clipped shadows and highlights);
- resolution: width and height in pixels.

Score: 10, minus 4 for blur (sharpness < 50) or 2 for slight blur (< 150); minus 2 for under-
or over-exposure (brightness < 50 or > 205, or more than 25 % of pixels clipped at either end);
minus 3 for low resolution (shorter side < 480 px) or 1 for modest resolution (< 720 px);
never below 1. Each penalty names its issue in `issues`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class ImageMeasurements:
    width: int
    height: int
    sharpness: float
    brightness: float
    dark_fraction: float
    bright_fraction: float


@dataclass(frozen=True)
class QualityAssessment:
    score: Decimal
    issues: list[str]

    @property
    def has_issues(self) -> bool:
        return bool(self.issues)


BLUR_SEVERE, BLUR_SLIGHT = 50.0, 150.0
DARK_MEAN, BRIGHT_MEAN, CLIPPED_SHARE = 50.0, 205.0, 0.25
LOW_RES_SIDE, MODEST_RES_SIDE = 480, 720


def assess(m: ImageMeasurements) -> QualityAssessment:
    score = 10
    issues: list[str] = []
    if m.sharpness < BLUR_SEVERE:
        score -= 4
        issues.append("blur")
    elif m.sharpness < BLUR_SLIGHT:
        score -= 2
        issues.append("slight_blur")
    if m.brightness < DARK_MEAN or m.dark_fraction > CLIPPED_SHARE:
        score -= 2
        issues.append("underexposed")
    if m.brightness > BRIGHT_MEAN or m.bright_fraction > CLIPPED_SHARE:
        score -= 2
        issues.append("overexposed")
    shorter = min(m.width, m.height)
    if shorter < LOW_RES_SIDE:
        score -= 3
        issues.append("low_resolution")
    elif shorter < MODEST_RES_SIDE:
        score -= 1
        issues.append("modest_resolution")
    return QualityAssessment(score=Decimal(max(1, score)).quantize(Decimal("0.1")), issues=issues)


# What a person reviewing an upload is told about each issue (the audit entry's warnings).
ISSUE_WARNINGS = {
    "blur": f"blurry (sharpness under {BLUR_SEVERE:g}): keypoints may be hard to place",
    "slight_blur": f"slightly blurry (sharpness under {BLUR_SLIGHT:g})",
    "underexposed": "too dark (underexposed or clipped shadows)",
    "overexposed": "too bright (overexposed or clipped highlights)",
    "low_resolution": f"low resolution (shorter side under {LOW_RES_SIDE} px)",
    "modest_resolution": f"modest resolution (shorter side under {MODEST_RES_SIDE} px)",
}


def registration_warnings(
    issues: list[str], duplicate_of: int | None, duplicate_distance: int | None
) -> list[str]:
    """The warnings of a registered image: its quality issues, and the image it repeats (the same
    pixels in another batch, or a near-duplicate in its own: intake links both to the original)."""
    warnings = [ISSUE_WARNINGS.get(issue, issue) for issue in issues]
    if duplicate_of is not None:
        warnings.append(
            f"a duplicate of image {duplicate_of} ({duplicate_distance} of 64 perceptual-hash bits differ): "
            "linked to it"
        )
    return warnings
