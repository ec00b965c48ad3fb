"""Structured findings about an infant's posture, computed from 2D keypoints (COCO-17 names).

A research aid, not a diagnosis: every finding is a measurement in the image plane of one photograph,
with the keypoints it rests on, and it inherits their errors.

Joint angles (degrees, 180 = straight), each from three keypoints, only when all three are labelled:
  elbow    = shoulder–elbow–wrist       knee     = hip–knee–ankle
  hip      = shoulder–hip–knee          shoulder = hip–shoulder–elbow
Asymmetry: for each joint, |left − right|; flagged when over ASYMMETRY_FLAG_DEG (20°). Limb length
asymmetry: the ratio of the shorter to the longer of left/right upper arm, forearm, thigh and shank;
flagged below LENGTH_RATIO_FLAG (0.8).

Posture (one of supine, prone, side_lying, sitting, or undetermined), from simple, documented cues:
- sitting: the torso is upright in the image (shoulders above hips, the torso within 35° of vertical)
  and the knees lie below or level with the hips;
- side_lying: the shoulders (and hips) nearly overlap — shoulder width under 35 % of torso length;
- prone: the face is hidden — nose and both eyes absent or occluded — while the shoulders are seen;
- supine: the face is seen (nose and at least one eye visible) with the shoulders spread;
- undetermined: too few keypoints for any of these.
The confidence of the posture is the share of its cue's keypoints that are visible (not occluded).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from cradlepose.domain.enums import Visibility
from cradlepose.domain.keypoint_schema import COCO17_NAMES
from cradlepose.domain.keypoints import Keypoint

# Bump when a rule or threshold below changes: every report names the version it was computed with.
FINDINGS_VERSION = "1"

ASYMMETRY_FLAG_DEG = 20.0
LENGTH_RATIO_FLAG = 0.8
UPRIGHT_MAX_DEG = 35.0
SIDE_LYING_SHOULDER_RATIO = 0.35

JOINTS: dict[str, tuple[str, str, str]] = {
    "elbow": ("shoulder", "elbow", "wrist"),
    "knee": ("hip", "knee", "ankle"),
    "hip": ("shoulder", "hip", "knee"),
    "shoulder": ("hip", "shoulder", "elbow"),
}
SEGMENTS: dict[str, tuple[str, str]] = {
    "upper_arm": ("shoulder", "elbow"),
    "forearm": ("elbow", "wrist"),
    "thigh": ("hip", "knee"),
    "shank": ("knee", "ankle"),
}
BODY = COCO17_NAMES


class Posture(StrEnum):
    SUPINE = "supine"
    PRONE = "prone"
    SIDE_LYING = "side_lying"
    SITTING = "sitting"
    UNDETERMINED = "undetermined"


@dataclass(frozen=True)
class JointAngle:
    joint: str  # e.g. "left_knee"
    degrees: float


@dataclass(frozen=True)
class Asymmetry:
    measure: str  # a joint ("knee") or a segment ("thigh")
    left: float
    right: float
    difference: float  # degrees for joints; 1 − shorter/longer for segments
    flagged: bool


@dataclass(frozen=True)
class Findings:
    posture: Posture
    posture_confidence: float
    angles: list[JointAngle]
    asymmetries: list[Asymmetry]
    occluded: list[str]
    missing: list[str]
    keypoints_used: int

    @property
    def flagged(self) -> list[Asymmetry]:
        return [a for a in self.asymmetries if a.flagged]

    def as_document(self) -> dict[str, object]:
        """JSON-ready, as stored with the analysis result and sent to a text model."""
        return {
            "rules_version": FINDINGS_VERSION,
            "posture": self.posture.value,
            "posture_confidence": self.posture_confidence,
            "joint_angles_deg": {a.joint: a.degrees for a in self.angles},
            "asymmetries": [
                {
                    "measure": a.measure,
                    "left": a.left,
                    "right": a.right,
                    "difference": a.difference,
                    "flagged": a.flagged,
                }
                for a in self.asymmetries
            ],
            "occluded": list(self.occluded),
            "missing": list(self.missing),
            "keypoints_used": self.keypoints_used,
            "confidence": self.confidence,
        }

    @property
    def confidence(self) -> float:
        """How much the findings rest on: the share of the 17 keypoints located, weighed by the posture's."""
        return round(self.keypoints_used / len(BODY) * (0.5 + 0.5 * self.posture_confidence), 3)


def analyse(keypoints: list[Keypoint]) -> Findings:
    points = {k.name: k for k in keypoints if k.name and k.is_labelled}
    angles = _angles(points)
    by_joint = {a.joint: a.degrees for a in angles}
    asymmetries = [
        _joint_asymmetry(joint, by_joint[f"left_{joint}"], by_joint[f"right_{joint}"])
        for joint in JOINTS
        if f"left_{joint}" in by_joint and f"right_{joint}" in by_joint
    ]
    asymmetries += _length_asymmetries(points)
    posture, confidence = _posture(points)
    return Findings(
        posture=posture,
        posture_confidence=confidence,
        angles=angles,
        asymmetries=asymmetries,
        occluded=[n for n in BODY if n in points and points[n].visible == Visibility.OCCLUDED],
        missing=[n for n in BODY if n not in points],
        keypoints_used=len([n for n in BODY if n in points]),
    )


def angle_at(a: Keypoint, vertex: Keypoint, b: Keypoint) -> float | None:
    """The angle a–vertex–b in degrees (0–180); None when a side has no length."""
    ux, uy = a.x - vertex.x, a.y - vertex.y
    vx, vy = b.x - vertex.x, b.y - vertex.y
    norm = math.hypot(ux, uy) * math.hypot(vx, vy)
    if norm == 0:
        return None
    cosine = max(-1.0, min(1.0, (ux * vx + uy * vy) / norm))
    return math.degrees(math.acos(cosine))


def _angles(points: Mapping[str, Keypoint]) -> list[JointAngle]:
    result = []
    for side in ("left", "right"):
        for joint, (a, vertex, b) in JOINTS.items():
            names = (f"{side}_{a}", f"{side}_{vertex}", f"{side}_{b}")
            if all(n in points for n in names):
                degrees = angle_at(points[names[0]], points[names[1]], points[names[2]])
                if degrees is not None:
                    result.append(JointAngle(f"{side}_{joint}", round(degrees, 1)))
    return result


def _joint_asymmetry(joint: str, left: float, right: float) -> Asymmetry:
    difference = abs(left - right)
    return Asymmetry(joint, left, right, round(difference, 1), difference > ASYMMETRY_FLAG_DEG)


def _length_asymmetries(points: Mapping[str, Keypoint]) -> list[Asymmetry]:
    result = []
    for segment, (a, b) in SEGMENTS.items():
        names = [f"{side}_{n}" for side in ("left", "right") for n in (a, b)]
        if not all(n in points for n in names):
            continue
        left = _distance(points[f"left_{a}"], points[f"left_{b}"])
        right = _distance(points[f"right_{a}"], points[f"right_{b}"])
        if max(left, right) == 0:
            continue
        ratio = min(left, right) / max(left, right)
        result.append(
            Asymmetry(
                segment, round(left, 1), round(right, 1), round(1 - ratio, 3), ratio < LENGTH_RATIO_FLAG
            )
        )
    return result


def _posture(points: Mapping[str, Keypoint]) -> tuple[Posture, float]:
    shoulders = [points.get("left_shoulder"), points.get("right_shoulder")]
    hips = [points.get("left_hip"), points.get("right_hip")]
    if not all(shoulders) or not (any(hips) or "nose" in points):
        return Posture.UNDETERMINED, 0.0
    ls, rs = shoulders
    assert ls is not None
    assert rs is not None
    shoulder_mid = ((ls.x + rs.x) / 2, (ls.y + rs.y) / 2)
    shoulder_width = _distance(ls, rs)
    present_hips = [h for h in hips if h is not None]
    if present_hips:
        hip_mid = (
            sum(h.x for h in present_hips) / len(present_hips),
            sum(h.y for h in present_hips) / len(present_hips),
        )
        torso = math.hypot(hip_mid[0] - shoulder_mid[0], hip_mid[1] - shoulder_mid[1])
        tilt = math.degrees(math.atan2(abs(hip_mid[0] - shoulder_mid[0]), hip_mid[1] - shoulder_mid[1]))
        knees = [points[k] for k in ("left_knee", "right_knee") if k in points]
        upright = hip_mid[1] > shoulder_mid[1] and tilt < UPRIGHT_MAX_DEG
        if upright and knees and all(k.y <= hip_mid[1] + 0.15 * torso for k in knees):
            return Posture.SITTING, _visible_share([ls, rs, *present_hips, *knees])
        if torso > 0 and shoulder_width < SIDE_LYING_SHOULDER_RATIO * torso:
            return Posture.SIDE_LYING, _visible_share([ls, rs, *present_hips])
    face = [points.get(n) for n in ("nose", "left_eye", "right_eye")]
    visible_face = [f for f in face if f is not None and f.visible == Visibility.VISIBLE]
    if not visible_face:
        return Posture.PRONE, _visible_share([ls, rs]) * 0.8
    if any(f.name == "nose" for f in visible_face) and len(visible_face) >= 2:
        return Posture.SUPINE, _visible_share([ls, rs, *visible_face])
    return Posture.UNDETERMINED, 0.3


def _visible_share(points: list[Keypoint]) -> float:
    return (
        round(sum(1 for p in points if p.visible == Visibility.VISIBLE) / len(points), 3) if points else 0.0
    )


def _distance(a: Keypoint, b: Keypoint) -> float:
    return math.hypot(a.x - b.x, a.y - b.y)


# ------------------------------------------------------------------ the deterministic description


def describe(findings: Findings) -> str:
    """Plain-language sentences naming every finding and what it rests on."""
    parts = []
    if findings.posture is Posture.UNDETERMINED:
        parts.append("The posture cannot be determined from the visible keypoints.")
    else:
        parts.append(
            f"The infant appears to be {findings.posture.value.replace('_', '-')} "
            f"(posture confidence {findings.posture_confidence:.2f})."
        )
    if findings.angles:
        listed = ", ".join(f"{a.joint.replace('_', ' ')} {a.degrees:.0f}°" for a in findings.angles)
        parts.append(f"Joint angles in the image plane: {listed}.")
    flagged = findings.flagged
    if flagged:
        listed = "; ".join(_asymmetry_text(a) for a in flagged)
        parts.append(f"Left/right asymmetry above the thresholds: {listed}.")
    elif findings.asymmetries:
        parts.append("No left/right asymmetry above the thresholds.")
    if findings.occluded:
        parts.append(f"Occluded: {', '.join(n.replace('_', ' ') for n in findings.occluded)}.")
    if findings.missing:
        parts.append(f"Not located: {', '.join(n.replace('_', ' ') for n in findings.missing)}.")
    parts.append(f"Based on {findings.keypoints_used} of {len(BODY)} keypoints.")
    return " ".join(parts)


def _asymmetry_text(a: Asymmetry) -> str:
    if a.measure in JOINTS:
        return f"{a.measure} angle left {a.left:.0f}° vs right {a.right:.0f}° ({a.difference:.0f}° apart)"
    return f"{a.measure.replace('_', ' ')} length left {a.left:.0f} px vs right {a.right:.0f} px"
