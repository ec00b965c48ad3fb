"""Synthetic infant poses with known ground truth, for tests, benchmarks and demos. Not real data.

A pose is built by forward kinematics in a body frame and then placed in a 1000 × 1000 image at a
random position, size, rotation and view (seen from the front or from behind):

- typical poses of an age band: joint angles drawn around the band's means (AGE_PROFILES; younger
  infants lie more flexed, older ones more extended), with a shared left/right component so the
  two sides agree as they do in typical infants, plus small annotation noise on every keypoint;
- atypical poses: a typical pose with one limb's joint angle moved by 35–60° on one side only
  (an asymmetric limb angle). The perturbed joints are the vertex of that angle and every keypoint
  it moved (a shoulder angle moves the elbow and wrist; a knee angle the ankle).

The profiles are invented to be plausible, not measured: they serve to check that a detector finds
what was injected, never to describe real infants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cradlepose.domain.keypoint_schema import COCO17_NAMES

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
IMAGE_SIZE = 1000
_I = {name: i for i, name in enumerate(COCO17_NAMES)}


@dataclass(frozen=True)
class AgeProfile:
    """Mean joint angles (degrees, 180 = straight) of typical infants in an age band."""

    age_min: float
    age_max: float
    shoulder: float
    elbow: float
    hip: float
    knee: float

    def mean(self, joint: str) -> float:
        value: float = getattr(self, joint)
        return value


AGE_PROFILES: tuple[AgeProfile, ...] = (
    AgeProfile(0, 3, shoulder=55, elbow=80, hip=110, knee=80),
    AgeProfile(3, 6, shoulder=70, elbow=100, hip=125, knee=100),
    AgeProfile(6, 12, shoulder=80, elbow=120, hip=140, knee=125),
    AgeProfile(12, 24, shoulder=60, elbow=145, hip=160, knee=150),
)
ANGLE_SD = 10.0  # degrees, of each angle in typical poses
SHARED_SD = 8.0  # of the part both sides share: the left−right difference has SD √2·6 ≈ 8.5°
JOINT_NAMES = ("shoulder", "elbow", "hip", "knee")
# What moves when a joint angle changes: the vertex, then the keypoints beyond it.
MOVED_BY = {
    "shoulder": ("shoulder", "elbow", "wrist"),
    "elbow": ("elbow", "wrist"),
    "hip": ("hip", "knee", "ankle"),
    "knee": ("knee", "ankle"),
}


@dataclass(frozen=True)
class SyntheticPoses:
    points: Floats  # (n, 17, 2) pixels in a 1000 × 1000 image
    present: Bools  # (n, 17)
    ages: Floats  # (n,) months
    atypical: Bools  # (n,)
    perturbed: tuple[frozenset[str], ...]  # per pose: the keypoints the perturbation moved

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def keypoints(self, i: int) -> dict[str, tuple[float, float]]:
        return {
            name: (float(self.points[i, j, 0]), float(self.points[i, j, 1]))
            for j, name in enumerate(COCO17_NAMES)
            if self.present[i, j]
        }


def profile_for(age_months: float) -> AgeProfile:
    for profile in AGE_PROFILES:
        if profile.age_min <= age_months < profile.age_max:
            return profile
    return AGE_PROFILES[-1]


def generate(
    rng: np.random.Generator,
    n: int,
    profile: AgeProfile,
    *,
    atypical_share: float = 0.0,
    drop_face_share: float = 0.05,
    perturbation_deg: tuple[float, float] = (35.0, 60.0),
) -> SyntheticPoses:
    """n poses of the band, `atypical_share` of them with one asymmetric limb angle."""
    angles = {}
    for joint in JOINT_NAMES:
        shared = rng.normal(0, SHARED_SD, n)
        own_sd = float(np.sqrt(ANGLE_SD**2 - SHARED_SD**2))
        for side in ("left", "right"):
            angles[f"{side}_{joint}"] = profile.mean(joint) + shared + rng.normal(0, own_sd, n)
    atypical = rng.random(n) < atypical_share
    perturbed: list[frozenset[str]] = [frozenset()] * n
    for i in np.flatnonzero(atypical):
        joint = str(rng.choice(JOINT_NAMES))
        side = str(rng.choice(("left", "right")))
        key = f"{side}_{joint}"
        size = rng.uniform(*perturbation_deg)
        # Towards the side with room: flex a straight limb, extend a folded one.
        direction = -1.0 if angles[key][i] > 110 else 1.0
        angles[key][i] += direction * size
        perturbed[i] = frozenset(f"{side}_{k}" for k in MOVED_BY[joint])
    angles = {key: np.clip(value, 15.0, 180.0) for key, value in angles.items()}
    ages = rng.uniform(profile.age_min, profile.age_max, n)
    points = _build(rng, n, angles)
    present = np.ones((n, len(COCO17_NAMES)), dtype=bool)
    face = [_I[k] for k in ("left_eye", "right_eye", "left_ear", "right_ear")]
    drops = rng.random((n, len(face))) < drop_face_share
    present[:, face] = ~drops
    points[~present] = 0.0
    return SyntheticPoses(points, present, ages, atypical, tuple(perturbed))


def _rotate(v: Floats, degrees: Floats) -> Floats:
    """Rotate 2D vectors (n, 2) by angles (n,) in degrees (counter-clockwise in x-right/y-up terms)."""
    t = np.radians(degrees)
    c, s = np.cos(t), np.sin(t)
    return np.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1]], axis=1)


def _build(rng: np.random.Generator, n: int, angles: dict[str, Floats]) -> Floats:
    """Forward kinematics in a body frame (x right = the infant's left, y down), then into the image."""
    torso = np.ones(n)
    p = np.zeros((n, len(COCO17_NAMES), 2))
    down = np.tile([0.0, 1.0], (n, 1))
    up = -down
    shoulder_half = rng.normal(0.42, 0.03, n)
    hip_half = rng.normal(0.28, 0.02, n)
    upper_arm, forearm = rng.normal(0.55, 0.03, n), rng.normal(0.48, 0.03, n)
    thigh, shank = rng.normal(0.62, 0.03, n), rng.normal(0.55, 0.03, n)
    shoulder_y = -torso
    for side, sign in (("left", 1.0), ("right", -1.0)):
        shoulder = np.stack([sign * shoulder_half, shoulder_y], axis=1)
        hip = np.stack([sign * hip_half, np.zeros(n)], axis=1)
        # Shoulder angle hip–shoulder–elbow: the upper arm leaves the "down" direction outward.
        to_elbow = _rotate(down, -sign * angles[f"{side}_shoulder"])
        elbow = shoulder + to_elbow * upper_arm[:, None]
        # Elbow angle shoulder–elbow–wrist: the forearm leaves the elbow→shoulder direction.
        to_wrist = _rotate(-to_elbow, -sign * angles[f"{side}_elbow"])
        wrist = elbow + to_wrist * forearm[:, None]
        # Hip angle shoulder–hip–knee: the thigh leaves the "up" direction outward.
        to_knee = _rotate(up, sign * angles[f"{side}_hip"])
        knee = hip + to_knee * thigh[:, None]
        # Knee angle hip–knee–ankle: the shank leaves the knee→hip direction, folding inward.
        to_ankle = _rotate(-to_knee, sign * angles[f"{side}_knee"])
        ankle = knee + to_ankle * shank[:, None]
        for name, value in (
            ("shoulder", shoulder), ("elbow", elbow), ("wrist", wrist),
            ("hip", hip), ("knee", knee), ("ankle", ankle),
        ):  # fmt: skip
            p[:, _I[f"{side}_{name}"]] = value
    head = np.stack([rng.normal(0, 0.03, n), shoulder_y - 0.45], axis=1)
    p[:, _I["nose"]] = head
    for side, sign in (("left", 1.0), ("right", -1.0)):
        p[:, _I[f"{side}_eye"]] = head + np.stack([sign * 0.12 * np.ones(n), -0.1 * np.ones(n)], axis=1)
        p[:, _I[f"{side}_ear"]] = head + np.stack([sign * 0.26 * np.ones(n), 0.02 * np.ones(n)], axis=1)
    p += rng.normal(0, 0.015, p.shape)  # annotation noise, in torso lengths
    # Into the image: seen from behind for half of them (mirror), any rotation, 60–120 px torso.
    mirror = rng.random(n) < 0.5
    p[mirror, :, 0] *= -1
    rotation = rng.uniform(-180, 180, n)
    scale = rng.uniform(60, 120, n)
    centre = rng.uniform(400, 600, (n, 2))
    flat = p.reshape(-1, 2)
    turned = _rotate(flat, np.repeat(rotation, p.shape[1])).reshape(p.shape)
    result: Floats = turned * scale[:, None, None] + centre[:, None, :]
    return result
