"""Pose embeddings: a fixed-length vector from one infant's 2D keypoints (COCO-17 names).

Recipe `pose-geometry` version 1 (RECIPE, DIMENSION = 67):

1. Frame. Both shoulders and both hips must be labelled (they are the schema's required
   keypoints); without them there is no body frame and the pose is refused, never guessed.
   Origin: the hip midpoint. Scale: the torso length (hip midpoint to shoulder midpoint), so
   the vector does not depend on the infant's size or the camera's distance. Rotation: the
   torso axis points "up" (−y), so an infant photographed lying in any direction in the crib
   gives the same vector.
2. Left and right. Labels are kept (the infant's left stays `left_*`); the frame is mirrored so
   that the infant's left side lies at +x. A supine infant seen from above and a prone one seen
   from behind then have the same geometry, and a left-sided pattern stays left-sided.
3. Features, in this order:
   - x, y of each of the 17 keypoints in that frame (34);
   - the 8 joint angles of `findings` (elbow, knee, hip, shoulder; left then right), in degrees
     divided by 180 (0 folded, 1 straight);
   - the 8 segment lengths of `findings` (upper arm, forearm, thigh, shank; left then right)
     divided by the torso length: limb-length ratios;
   - presence: 1 for each of the 17 keypoints that is labelled, 0 if absent (17).
4. Missing keypoints. A feature that rests on an absent keypoint (or on a zero-length side) is
   *missing*: it is written as 0 in the vector, and the presence flags say which features are
   missing, so the vector alone tells what is known. Anomaly models never read those zeros
   (`missing_features` recovers the mask); nearest-neighbour search compares presence flags too,
   so poses missing the same joints are nearer to each other.
5. Anomaly models score a subset of 32 features (MODEL_FEATURES): the angles, the length ratios and
   the coordinates of the elbows, wrists, knees and ankles.

Anything that changes the vector's meaning is a new RECIPE_VERSION: embeddings are stored with
their recipe's name and version, and vectors of two versions are never compared.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from cradlepose.domain.pose_features import (
    ANGLES,
    DIMENSION,
    FEATURES,
    FRAME_KEYPOINTS,
    KEYPOINTS,
    LENGTHS,
    LIMB_KEYPOINTS,
    MODEL_FEATURES,
    RECIPE_NAME,
    RECIPE_VERSION,
    SIDES,
    Feature,
)

# The layout is pose_features's (numpy-free, for the database models); it is re-exported here.
__all__ = [
    "ANGLES",
    "DIMENSION",
    "FEATURES",
    "FRAME_KEYPOINTS",
    "KEYPOINTS",
    "LENGTHS",
    "LIMB_KEYPOINTS",
    "MODEL_FEATURES",
    "RECIPE_NAME",
    "RECIPE_VERSION",
    "SIDES",
    "Bools",
    "Feature",
    "Floats",
    "PoseNotEmbeddable",
    "embed",
    "embed_many",
    "missing_features",
    "missing_features_of",
    "model_feature_joints",
    "model_view",
]

_INDEX = {name: i for i, name in enumerate(KEYPOINTS)}

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


_PRESENCE_START = DIMENSION - len(KEYPOINTS)
_NEEDS = np.array([[n in f.needs for n in KEYPOINTS] for f in FEATURES], dtype=bool)  # (67, 17)


class PoseNotEmbeddable(ValueError):
    """The keypoints do not define a body frame (a shoulder or hip missing, or no torso length)."""


def embed_many(points: Floats, present: Bools) -> tuple[Floats, Bools]:
    """Embed n poses at once.

    `points` (n, 17, 2): pixel coordinates in COCO-17 order; `present` (n, 17): labelled or not.
    Returns the vectors (n, 67) and which poses could be embedded (n,); rows that could not are 0.
    """
    pts = np.asarray(points, dtype=np.float64)
    mask = np.asarray(present, dtype=bool)
    n = pts.shape[0]
    ls, rs, lh, rh = (_INDEX[k] for k in FRAME_KEYPOINTS)
    hip_mid = (pts[:, lh] + pts[:, rh]) / 2
    shoulder_mid = (pts[:, ls] + pts[:, rs]) / 2
    axis = shoulder_mid - hip_mid
    torso = np.hypot(axis[:, 0], axis[:, 1])
    ok = mask[:, [ls, rs, lh, rh]].all(axis=1) & (torso > 1e-9)
    safe_torso = np.where(ok, torso, 1.0)

    # Rotate so that the torso axis becomes (0, -1): new = R @ (p - hip_mid) / torso.
    ux, uy = axis[:, 0] / safe_torso, axis[:, 1] / safe_torso  # unit "up" in the image
    # Basis: up' = (ux, uy) maps to (0, -1); right' = (-uy, ux) maps to (1, 0).
    rel = (pts - hip_mid[:, None, :]) / safe_torso[:, None, None]
    x = rel[..., 0] * (-uy[:, None]) + rel[..., 1] * ux[:, None]
    y = -(rel[..., 0] * ux[:, None] + rel[..., 1] * uy[:, None])
    # Mirror so that the infant's left side lies at +x.
    left_side = x[:, ls] + x[:, lh] - x[:, rs] - x[:, rh]
    x = np.where((left_side < 0)[:, None], -x, x)

    coords = np.stack([x, y], axis=-1).reshape(n, -1)  # (n, 34): x0, y0, x1, y1, ...
    angles = np.stack([_angle(pts, a, v, b) for _, (a, v, b) in ANGLES], axis=1) / 180.0
    lengths = np.stack(
        [np.hypot(*(pts[:, _INDEX[d]] - pts[:, _INDEX[p]]).T) / safe_torso for _, (p, d) in LENGTHS],
        axis=1,
    )
    vectors = np.concatenate([coords, angles, lengths, mask.astype(np.float64)], axis=1)
    known = ~missing_features_of(mask)
    known[:, _ANGLE_SLICE] &= np.isfinite(angles)
    vectors = np.where(known | (np.arange(DIMENSION) >= _PRESENCE_START), vectors, 0.0)
    vectors = np.where(np.isfinite(vectors), vectors, 0.0)
    vectors[~ok] = 0.0
    return vectors, ok


_ANGLE_SLICE = slice(2 * len(KEYPOINTS), 2 * len(KEYPOINTS) + len(ANGLES))


def _angle(pts: Floats, a: str, v: str, b: str) -> Floats:
    u = pts[:, _INDEX[a]] - pts[:, _INDEX[v]]
    w = pts[:, _INDEX[b]] - pts[:, _INDEX[v]]
    norm = np.hypot(u[:, 0], u[:, 1]) * np.hypot(w[:, 0], w[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.clip((u * w).sum(axis=1) / norm, -1.0, 1.0)
    return np.where(norm > 0, np.degrees(np.arccos(cosine)), np.nan)


def missing_features_of(present: Bools) -> Bools:
    """(n, 67): which features rest on an absent keypoint, from the presence of each keypoint."""
    mask = np.asarray(present, dtype=bool)
    absent = ~mask  # (n, 17)
    return (absent.astype(np.int64) @ _NEEDS.T.astype(np.int64)) > 0


def missing_features(vectors: Floats) -> Bools:
    """(n, 67): the missing features of stored vectors, read from their presence flags.

    An angle whose side had no length is written as 0 too; it counts as missing when its value is
    exactly 0 (a real angle of exactly 0° between two non-zero sides is not a pose).
    """
    v = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    missing = missing_features_of(v[:, _PRESENCE_START:] > 0.5)
    missing[:, _ANGLE_SLICE] |= v[:, _ANGLE_SLICE] == 0.0
    return missing


def embed(keypoints: Mapping[str, tuple[float, float]]) -> Floats:
    """The vector of one pose from its labelled keypoints by name (x, y in pixels).

    Names outside COCO-17 are ignored. Raises PoseNotEmbeddable without a body frame.
    """
    points = np.zeros((1, len(KEYPOINTS), 2))
    present = np.zeros((1, len(KEYPOINTS)), dtype=bool)
    for name, (x, y) in keypoints.items():
        i = _INDEX.get(name)
        if i is not None:
            points[0, i] = (x, y)
            present[0, i] = True
    vectors, ok = embed_many(points, present)
    if not ok[0]:
        lacking = [k for k in FRAME_KEYPOINTS if k not in keypoints]
        reason = f"lacks {', '.join(lacking)}" if lacking else "has no torso length"
        raise PoseNotEmbeddable(
            f"the pose {reason}: the embedding needs both shoulders and both hips to set its frame"
        )
    first: Floats = vectors[0]
    return first


def model_view(vectors: Floats) -> Floats:
    """(n, 32): the features an anomaly model scores, NaN where missing."""
    v = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    values = np.where(missing_features(v), np.nan, v)
    return values[:, list(MODEL_FEATURES)]


def model_feature_joints() -> tuple[str, ...]:
    """For each model feature, the joint it is attributed to."""
    return tuple(FEATURES[i].joint for i in MODEL_FEATURES)
