"""The layout of the pose embedding (recipe `pose-geometry`): its features, in order, and its size.

Pure Python, no numpy: the database models need DIMENSION and the recipe's name for the pgvector
column and its index, and the API imports the models on its cold start, so the layout lives apart
from the arithmetic (cradlepose.domain.pose_embedding, which documents the recipe and re-exports
these names).
"""

from __future__ import annotations

from dataclasses import dataclass

from cradlepose.domain.findings import JOINTS, SEGMENTS
from cradlepose.domain.keypoint_schema import COCO17_NAMES

RECIPE_NAME = "pose-geometry"
RECIPE_VERSION = "1"

KEYPOINTS: tuple[str, ...] = COCO17_NAMES
SIDES = ("left", "right")
FRAME_KEYPOINTS = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")

# (feature name, vertex, (a, vertex, b)) — the angle a–vertex–b
ANGLES: tuple[tuple[str, tuple[str, str, str]], ...] = tuple(
    (f"{side}_{joint}_angle", (f"{side}_{a}", f"{side}_{v}", f"{side}_{b}"))
    for side in SIDES
    for joint, (a, v, b) in JOINTS.items()
)
# (feature name, (proximal, distal))
LENGTHS: tuple[tuple[str, tuple[str, str]], ...] = tuple(
    (f"{side}_{segment}_length", (f"{side}_{a}", f"{side}_{b}"))
    for side in SIDES
    for segment, (a, b) in SEGMENTS.items()
)


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # coordinate | angle | length | presence
    joint: str  # the keypoint the feature is attributed to in explanations
    needs: tuple[str, ...]  # keypoints that must be labelled for it to be known


def _features() -> tuple[Feature, ...]:
    frame = FRAME_KEYPOINTS
    result = [
        Feature(f"{name}_{axis}", "coordinate", name, tuple(dict.fromkeys((name, *frame))))
        for name in KEYPOINTS
        for axis in ("x", "y")
    ]
    # An angle belongs to its vertex (the elbow's angle is the elbow's), a segment to its distal end.
    result += [Feature(name, "angle", v, (a, v, b)) for name, (a, v, b) in ANGLES]
    result += [
        Feature(name, "length", distal, tuple(dict.fromkeys((proximal, distal, *frame))))
        for name, (proximal, distal) in LENGTHS
    ]
    result += [Feature(f"{name}_present", "presence", name, ()) for name in KEYPOINTS]
    return tuple(result)


FEATURES: tuple[Feature, ...] = _features()
DIMENSION = len(FEATURES)  # 67
# The keypoints whose frame coordinates an anomaly model scores: the ends of the limb segments.
# Shoulders and hips define the frame (their coordinates carry little beyond their widths), and the
# face keypoints are noisy and say nothing about the limbs.
LIMB_KEYPOINTS = tuple(f"{side}_{part}" for side in SIDES for part in ("elbow", "wrist", "knee", "ankle"))
# The features an anomaly model scores (32): the 8 angles, the 8 length ratios and the 16 limb
# coordinates. Fewer than the whole vector, because a band has tens to hundreds of infants and a
# Gaussian's estimate degrades with dimensions; presence flags are never scored (a missing ear is
# not atypical).
MODEL_FEATURES: tuple[int, ...] = tuple(
    i
    for i, f in enumerate(FEATURES)
    if f.kind in ("angle", "length") or (f.kind == "coordinate" and f.joint in LIMB_KEYPOINTS)
)
