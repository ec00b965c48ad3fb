"""The evaluator's figures: -1 for a size range with no ground truth (with detections or none), and
the COCO-comparable AP (OKS area from the person box) beside the gating keypoint-box AP, checked
against pycocotools run by hand on the same fixture."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cradle_inference.evaluation import coco_stats, evaluate
from cradlepose.domain import coco_keypoints
from cradlepose.domain.enums import DatasetSplit, Visibility
from cradlepose.domain.inference import DetectedPerson, ImageResult, PredictedKeypoint
from cradlepose.domain.jobs import KEYPOINT_BOX, PERSON_BOX, EvaluationSpec, TruthImage
from cradlepose.domain.keypoint_schema import infant_pose_17
from cradlepose.domain.keypoints import Keypoint, KeypointSet

pytestmark = pytest.mark.integration

SCHEMA = infant_pose_17().schema_definition
SIGMAS = [float(k.sigma or 0.0) for k in SCHEMA.keypoints]
W = H = 1000


def truth(image_id: int, left: float, top: float, size: float) -> TruthImage:
    """An infant whose 17 keypoints spread over a size × size square at (left, top)."""
    rng = np.random.default_rng(image_id)
    points = rng.uniform(0, size, (17, 2))
    points[0], points[1] = (0, 0), (size, size)  # the keypoint box is exactly size × size
    return TruthImage(
        image_id=image_id,
        width=W,
        height=H,
        keypoints=KeypointSet(
            keypoints=[
                Keypoint(id=k.id, x=round(left + x, 2), y=round(top + y, 2), visible=Visibility.VISIBLE)
                for k, (x, y) in zip(SCHEMA.keypoints, points, strict=True)
            ]
        ),
    )


def spec(truths: list[TruthImage]) -> EvaluationSpec:
    return EvaluationSpec(
        dataset_id=1,
        split=DatasetSplit.TEST,
        keypoint_ids=[k.id for k in SCHEMA.keypoints],
        keypoint_names=[k.name for k in SCHEMA.keypoints],
        sigmas=SIGMAS,
        truth=truths,
    )


def predicted(t: TruthImage, offset: float, score: float = 0.9) -> ImageResult:
    keypoints = [
        PredictedKeypoint(id=k.id, x=min(W, k.x + offset), y=k.y, confidence=0.9, visible=Visibility.VISIBLE)
        for k in t.keypoints.keypoints
    ]
    person = DetectedPerson(box=[0.0, 0.0, float(W), float(H)], score=score, keypoints=keypoints)
    return ImageResult(image_id=t.image_id, key="-", ok=True, persons=[person], best_person=0)


def test_a_size_range_without_ground_truth_is_minus_one_even_when_nothing_was_detected() -> None:
    large_only = [truth(1, 100, 100, 400), truth(2, 50, 300, 300)]  # keypoint boxes ≥ 96²
    missed = evaluate(spec(large_only), [])
    assert missed.ap_medium == -1.0  # was 0.0: no medium infant, so no medium score
    assert missed.ap_large == 0.0
    assert missed.ap == 0.0
    assert missed.coco_comparable is not None
    assert missed.coco_comparable.ap_medium == -1.0
    found = evaluate(spec(large_only), [predicted(t, 3.0) for t in large_only])
    assert found.ap_medium == -1.0
    assert found.ap_large == found.ap > 0.5
    medium_only = [truth(3, 10, 10, 60)]  # 60² lies in COCO's medium range
    assert evaluate(spec(medium_only), []).ap_large == -1.0
    assert evaluate(spec(medium_only), []).ap_medium == 0.0


def _pycocotools_by_hand(truths: list[TruthImage], results: list[ImageResult]) -> list[float]:
    """COCO's own evaluation of the fixture, written as a COCO user would: area = the person box."""
    images, annotations = [], []
    for n, t in enumerate(truths, start=1):
        flat: list[float] = []
        for k in t.keypoints.keypoints:
            flat += [k.x, k.y, 2]
        xs, ys = [k.x for k in t.keypoints.keypoints], [k.y for k in t.keypoints.keypoints]
        w, h = max(xs) - min(xs), max(ys) - min(ys)
        pad_x, pad_y = max(4.0, 0.1 * w), max(4.0, 0.1 * h)  # domain.person_box's margin
        left, top = max(0.0, min(xs) - pad_x), max(0.0, min(ys) - pad_y)
        right, bottom = min(W, max(xs) + pad_x), min(H, max(ys) + pad_y)
        box = [left, top, right - left, bottom - top]
        images.append({"id": t.image_id, "width": W, "height": H, "file_name": f"{t.image_id}.jpg"})
        annotations.append({
            "id": n, "image_id": t.image_id, "category_id": 1, "keypoints": flat, "num_keypoints": 17,
            "bbox": box, "area": box[2] * box[3], "iscrowd": 0,
        })  # fmt: skip
    detections: list[dict[str, Any]] = []
    for r in results:
        for p in r.persons:
            predicted_flat = [v for point in p.keypoints for v in (point.x, point.y, 1.0)]
            detections.append(
                {"image_id": r.image_id, "category_id": 1, "keypoints": predicted_flat, "score": p.score}
            )
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {
            "images": images,
            "annotations": annotations,
            "categories": [{"id": 1, "name": "infant"}],
        }
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(detections), "keypoints")
        evaluator.params.kpt_oks_sigmas = np.array(SIGMAS)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [float(v) for v in evaluator.stats]


def test_the_coco_comparable_ap_is_pycocotools_with_the_person_box_as_area() -> None:
    sizes = [50.0, 70.0, 90.0, 150.0, 250.0, 400.0]  # medium and large infants
    truths = [truth(i, 40.0 * i, 30.0 * i, size) for i, size in enumerate(sizes, start=1)]
    results = [
        predicted(t, size * 0.03 * (1 + i % 3), score=0.5 + 0.05 * i)
        for i, (t, size) in enumerate(zip(truths, sizes, strict=True))
    ]
    metrics = evaluate(spec(truths), results)
    by_hand = _pycocotools_by_hand(truths, results)
    comparable = metrics.coco_comparable
    assert comparable is not None
    assert comparable.oks_area == PERSON_BOX
    assert metrics.oks_area == KEYPOINT_BOX
    got = [comparable.ap, comparable.ap50, comparable.ap75, comparable.ap_medium, comparable.ap_large]
    assert got == pytest.approx(by_hand[:5], abs=1e-3)  # bbox and area are written to 2 decimals
    assert comparable.ar == pytest.approx(by_hand[5], abs=1e-3)
    # The person box is larger than the keypoint box, so the same errors weigh less: AP is higher.
    assert comparable.ap > metrics.ap


def test_the_gating_ap_is_pycocotools_on_the_exported_document() -> None:
    truths = [truth(i, 20.0 * i, 10.0 * i, 150.0) for i in range(1, 4)]
    results = [predicted(t, 4.0) for t in truths]
    metrics = evaluate(spec(truths), results)
    document = coco_keypoints.document(
        SCHEMA, [coco_keypoints.ExportItem(t.image_id, f"{t.image_id}", W, H, t.keypoints) for t in truths]
    )
    detections = [
        {"image_id": r.image_id, "category_id": 1, "score": 0.9,
         "keypoints": [v for k in r.persons[0].keypoints for v in (k.x, k.y, 1.0)]}
        for r in results
    ]  # fmt: skip
    assert metrics.ap == pytest.approx(coco_stats(document, detections, SIGMAS)[0])
