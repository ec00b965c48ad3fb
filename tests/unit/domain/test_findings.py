"""Posture findings on hand-built keypoints with known angles, asymmetries and postures."""

from __future__ import annotations

import pytest

from cradlepose.domain import findings
from cradlepose.domain.enums import Visibility
from cradlepose.domain.keypoints import Keypoint

pytestmark = pytest.mark.unit


def _k(name: str, x: float, y: float, v: Visibility = Visibility.VISIBLE) -> Keypoint:
    return Keypoint(id=findings.BODY.index(name), name=name, x=x, y=y, visible=v)


def supine(**overrides: tuple[float, float]) -> list[Keypoint]:
    """An infant on its back seen from above: head up the image, arms out, legs straight."""
    points: dict[str, tuple[float, float]] = {
        "nose": (100, 20), "left_eye": (95, 15), "right_eye": (105, 15), "left_ear": (90, 18), "right_ear": (110, 18),
        "left_shoulder": (80, 50), "right_shoulder": (120, 50),
        "left_elbow": (60, 50), "right_elbow": (140, 50),   # upper arms horizontal
        "left_wrist": (60, 30), "right_wrist": (140, 70),   # left forearm up (90°), right down (90°)
        "left_hip": (90, 120), "right_hip": (110, 120),
        "left_knee": (90, 160), "right_knee": (110, 160),
        "left_ankle": (90, 200), "right_ankle": (110, 200),  # straight legs: 180°
    }  # fmt: skip
    points.update(overrides)
    return [_k(name, x, y) for name, (x, y) in points.items()]


def _angle(result: findings.Findings, joint: str) -> float:
    return next(a.degrees for a in result.angles if a.joint == joint)


def test_known_angles() -> None:
    result = findings.analyse(supine())
    assert _angle(result, "left_elbow") == pytest.approx(90.0)
    assert _angle(result, "right_elbow") == pytest.approx(90.0)
    assert _angle(result, "left_knee") == pytest.approx(180.0)
    assert _angle(result, "right_knee") == pytest.approx(180.0)
    # hip: shoulder(80,50)-hip(90,120)-knee(90,160): vectors (-10,-70) and (0,40): acos(-70/sqrt(4900+100))
    assert _angle(result, "left_hip") == pytest.approx(171.9, abs=0.1)
    assert result.keypoints_used == 17
    assert result.flagged == []


def test_a_bent_knee_on_one_side_is_flagged() -> None:
    # left ankle moved so that the left knee bends to 90°: hip(90,120) knee(90,160) ankle(130,160)
    result = findings.analyse(supine(left_ankle=(130, 160)))
    knee = next(a for a in result.asymmetries if a.measure == "knee")
    assert [knee.left, knee.right, knee.difference] == pytest.approx([90.0, 180.0, 90.0])
    assert knee.flagged
    assert "knee angle left 90° vs right 180° (90° apart)" in findings.describe(result)


def test_a_short_limb_is_flagged() -> None:
    result = findings.analyse(supine(left_knee=(90, 145), left_ankle=(90, 170)))  # thigh 25 vs 40 px
    thigh = next(a for a in result.asymmetries if a.measure == "thigh")
    assert thigh.left == 25.0
    assert thigh.right == 40.0
    assert thigh.flagged
    assert thigh.difference == pytest.approx(1 - 25 / 40)


@pytest.mark.parametrize(
    ("keypoints", "posture"),
    [
        (supine(), findings.Posture.SUPINE),
        # face hidden (nose and eyes absent), shoulders seen: prone
        ([k for k in supine() if k.name not in ("nose", "left_eye", "right_eye")], findings.Posture.PRONE),
        # shoulders and hips stacked on each other: side-lying
        (supine(left_shoulder=(100, 50), right_shoulder=(104, 52), left_hip=(100, 120), right_hip=(103, 121)),
         findings.Posture.SIDE_LYING),
        # torso upright, knees level with the hips: sitting
        (supine(left_shoulder=(80, 50), right_shoulder=(120, 50), left_hip=(88, 120), right_hip=(112, 120),
                left_knee=(80, 125), right_knee=(120, 125), left_ankle=(80, 170), right_ankle=(120, 170)),
         findings.Posture.SITTING),
        ([_k("nose", 1, 1)], findings.Posture.UNDETERMINED),
    ],
)  # fmt: skip
def test_postures(keypoints: list[Keypoint], posture: findings.Posture) -> None:
    assert findings.analyse(keypoints).posture is posture


def test_occluded_and_missing_joints_are_named() -> None:
    points = [k for k in supine() if k.name != "left_ankle"]
    points = [
        k.model_copy(update={"visible": Visibility.OCCLUDED}) if k.name == "right_wrist" else k
        for k in points
    ]
    result = findings.analyse(points)
    assert result.missing == ["left_ankle"]
    assert result.occluded == ["right_wrist"]
    assert "left_knee" not in {a.joint for a in result.angles}  # needs the ankle
    text = findings.describe(result)
    assert "Occluded: right wrist." in text
    assert "Not located: left ankle." in text
    assert "Based on 16 of 17 keypoints." in text
    assert 0 < result.confidence < 1
