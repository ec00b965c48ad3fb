"""Displacement from YOLO and COCO's OKS, with values worked out by hand, and OKS against pycocotools."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cradlepose.domain import keypoint_math
from cradlepose.domain.keypoint_schema import COCO17_SIGMAS
from cradlepose.domain.keypoints import Keypoint, KeypointSet

pytestmark = pytest.mark.unit


def kp(i: int, x: float, y: float, v: int = 2) -> Keypoint:
    return Keypoint(id=i, x=x, y=y, visible=v)


def test_displacement_counts_moves_relabels_and_major_changes_by_hand() -> None:
    # Reference box 200 x 200 -> scale sqrt(40000) = 200 -> major threshold max(5, 0.05*200) = 10 px
    yolo = KeypointSet(
        keypoints=[kp(0, 0, 0), kp(1, 200, 200), kp(2, 100, 100), kp(3, 50, 50), kp(4, 10, 10, v=0)]
    )
    submitted = KeypointSet(
        keypoints=[
            kp(0, 3, 4),  # moved 5 px: a correction, not major
            kp(1, 200, 200.3),  # 0.3 px: not a move at all
            kp(2, 112, 109),  # moved 15 px: major
            kp(3, 50, 50, v=0),  # YOLO's keypoint removed: relabelled and major
            kp(4, 12, 12, v=2),  # a keypoint YOLO missed added: relabelled and major
        ]
    )
    result = keypoint_math.compare(yolo, submitted)
    assert result.threshold_px == pytest.approx(10.0)
    assert result.modifications.total_moved == 2
    assert result.modifications.major_changes == [2, 3, 4]
    assert result.modifications.avg_displacement == pytest.approx((5 + 15) / 2)
    assert result.total_keypoints_modified == 4
    assert result.displacement_by_id == pytest.approx({0: 5.0, 1: 0.3, 2: 15.0})
    assert result.major_corrections_made


def test_small_people_use_the_minimum_threshold() -> None:
    yolo = KeypointSet(keypoints=[kp(0, 0, 0), kp(1, 20, 20)])  # scale 20 -> 0.05*20 = 1 < 5
    result = keypoint_math.compare(yolo, KeypointSet(keypoints=[kp(0, 4, 0), kp(1, 26, 20)]))
    assert result.threshold_px == 5.0
    assert result.modifications.major_changes == [1]


def test_without_yolo_everything_labelled_is_new() -> None:
    result = keypoint_math.compare(None, KeypointSet(keypoints=[kp(0, 1, 1), kp(1, 2, 2, v=0)]))
    assert result.modifications.total_moved == 0
    assert result.modifications.major_changes == [0]
    assert result.total_keypoints_modified == 1


def test_oks_by_hand() -> None:
    # One keypoint, sigma 0.1, area 100: e = d² / (2σ)² / area / 2 = 25 / 0.04 / 100 / 2 = 3.125
    reference = [kp(0, 10, 10), kp(1, 0, 0, v=0)]
    candidate = [kp(0, 13, 14), kp(1, 50, 50)]  # d = 5; the absent reference keypoint does not count
    value = keypoint_math.oks(reference, candidate, {0: 0.1, 1: 0.1}, area=100)
    assert value == pytest.approx(math.exp(-3.125))
    assert keypoint_math.oks(reference, reference, {0: 0.1, 1: 0.1}, area=100) == 1.0


def _coco_files(gt: list[list[float]], dt: list[list[float]], area: float) -> tuple[COCO, COCO]:
    images = [{"id": i + 1, "width": 640, "height": 480} for i in range(len(gt))]
    annotations = []
    for i, keypoints in enumerate(gt):
        xs, ys = keypoints[0::3], keypoints[1::3]
        annotations.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "keypoints": keypoints, "iscrowd": 0,
                            "num_keypoints": sum(1 for v in keypoints[2::3] if v > 0), "area": area,
                            "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]})  # fmt: skip
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}
    coco.createIndex()
    detections = [
        {"image_id": i + 1, "category_id": 1, "keypoints": k, "score": 1.0} for i, k in enumerate(dt)
    ]
    return coco, coco.loadRes(copy.deepcopy(detections))


coordinates = st.floats(0, 600, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(coordinates, coordinates, st.sampled_from([0, 1, 2])), min_size=17, max_size=17
    ).filter(lambda points: any(v > 0 for _, _, v in points)),
    st.lists(st.tuples(st.floats(-30, 30), st.floats(-30, 30)), min_size=17, max_size=17),
    st.floats(100, 200_000),
)
def test_oks_agrees_with_pycocotools(
    truth: list[tuple[float, float, int]], noise: list[tuple[float, float]], area: float
) -> None:
    gt_flat = [c for x, y, v in truth for c in (x, y, v)]
    dt_flat = [c for (x, y, _), (dx, dy) in zip(truth, noise, strict=True) for c in (x + dx, y + dy, 2)]
    coco_gt, coco_dt = _coco_files([gt_flat], [dt_flat], area)
    evaluator = COCOeval(coco_gt, coco_dt, "keypoints")
    evaluator.params.kpt_oks_sigmas = np.array(COCO17_SIGMAS)
    evaluator.params.imgIds = [1]
    evaluator.evaluate()
    expected = float(evaluator.ious[(1, 1)][0][0])

    reference = [kp(i, x, y, v) for i, (x, y, v) in enumerate(truth)]
    candidate = [
        kp(i, x + dx, y + dy) for i, ((x, y, _), (dx, dy)) in enumerate(zip(truth, noise, strict=True))
    ]
    ours = keypoint_math.oks(reference, candidate, dict(enumerate(COCO17_SIGMAS)), area)
    assert ours == pytest.approx(expected, abs=1e-6)


@given(st.lists(st.tuples(coordinates, coordinates), min_size=1, max_size=17))
def test_an_annotation_compared_with_itself_changed_nothing(points: list[tuple[float, float]]) -> None:
    keypoints = KeypointSet(keypoints=[kp(i, x, y) for i, (x, y) in enumerate(points)])
    result = keypoint_math.compare(keypoints, keypoints)
    assert result.total_keypoints_modified == 0
    assert result.modifications.major_changes == []
