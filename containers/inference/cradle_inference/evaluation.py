"""Scoring a model's predictions against verified keypoints: COCO keypoint metrics, pixel error, PCK.

AP and AR are pycocotools' own (COCOeval with iouType "keypoints"), with the schema's sigmas in
`params.kpt_oks_sigmas`: the ground truth is the COCO document Cradle exports for the split
(domain.coco_keypoints: `area` is the keypoints' box, Cradle's OKS scale), the detections are
every person the model found, scored by its detection score. These gate promotions. The same
evaluation is run a second time with each ground truth's `area` set to its person box
(`bbox` width × height): the COCO-comparable AP, labelled so (domain.jobs.PERSON_BOX). A size range
with no ground truth scores -1 (pycocotools' own convention), also when the model found no one.
Mean pixel error and PCK
(domain.keypoint_errors) compare each image's chosen person (the one Cradle pre-annotates with)
with its verified keypoints.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cradlepose.domain import coco_keypoints
from cradlepose.domain.inference import DetectedPerson, ImageResult
from cradlepose.domain.jobs import CocoComparableAp, EvaluationMetrics, EvaluationSpec, KeypointScore
from cradlepose.domain.keypoint_errors import ImagePair, keypoint_errors
from cradlepose.domain.keypoint_schema import KeypointDefinition, SchemaDefinition
from cradlepose.domain.keypoints import Keypoint


def evaluate(spec: EvaluationSpec, results: list[ImageResult]) -> EvaluationMetrics:
    schema = _schema(spec)
    truth = {t.image_id: t for t in spec.truth}
    by_image = {r.image_id: r for r in results if r.ok and r.image_id in truth}
    ground_truth = coco_keypoints.document(
        schema,
        [
            coco_keypoints.ExportItem(t.image_id, f"{t.image_id}", t.width, t.height, t.keypoints)
            for t in spec.truth
        ],
    )
    detections = [
        _detection(image_id, person, schema)
        for image_id, result in by_image.items()
        for person in result.persons
    ]
    stats = coco_stats(ground_truth, detections, spec.sigmas)
    comparable = coco_stats(with_person_box_area(ground_truth), detections, spec.sigmas)
    errors = keypoint_errors(
        [ImagePair(t.keypoints.keypoints, _chosen(by_image.get(t.image_id))) for t in spec.truth],
        spec.keypoint_ids,
        spec.pck_alpha,
        spec.sigmas,
    )
    return EvaluationMetrics(
        images=len(spec.truth),
        ap=stats[0],
        ap50=stats[1],
        ap75=stats[2],
        ap_medium=stats[3],
        ap_large=stats[4],
        ar=stats[5],
        ar50=stats[6],
        ar75=stats[7],
        coco_comparable=CocoComparableAp(
            ap=comparable[0],
            ap50=comparable[1],
            ap75=comparable[2],
            ap_medium=comparable[3],
            ap_large=comparable[4],
            ar=comparable[5],
        ),
        mean_error_px=errors.overall_mean_error_px,
        pck=errors.overall_pck,
        pck_alpha=spec.pck_alpha,
        sigmas=spec.sigmas,
        per_keypoint=[
            KeypointScore(
                keypoint_id=keypoint_id,
                name=name,
                mean_error_px=errors.mean_error_px[keypoint_id],
                pck=errors.pck[keypoint_id],
                labelled=errors.labelled[keypoint_id],
                detected=errors.detected[keypoint_id],
                oks=errors.oks[keypoint_id],
            )
            for keypoint_id, name in zip(spec.keypoint_ids, spec.keypoint_names, strict=True)
        ],
    )


def coco_stats(
    ground_truth: dict[str, Any], detections: list[dict[str, Any]], sigmas: list[float]
) -> list[float]:
    """pycocotools' ten keypoint figures (AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl)."""
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress and tables
        gt = COCO()
        gt.dataset = ground_truth
        gt.createIndex()
        if not detections:  # pycocotools cannot load no results; score them as it would
            return _stats_without_detections(ground_truth)
        dt = gt.loadRes(detections)
        evaluator = COCOeval(gt, dt, "keypoints")
        evaluator.params.kpt_oks_sigmas = np.array(sigmas, dtype=float)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [float(v) for v in evaluator.stats]


# COCOeval's keypoint area ranges (all, medium, large), in the order of its ten figures.
_ALL, _MEDIUM, _LARGE = (0.0, 1e5**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2)
_RANGES = (_ALL, _ALL, _ALL, _MEDIUM, _LARGE, _ALL, _ALL, _ALL, _MEDIUM, _LARGE)


def _stats_without_detections(ground_truth: dict[str, Any]) -> list[float]:
    """0 for a range that holds ground truth (all of it missed), -1 for one that holds none."""
    areas = [
        float(a["area"])
        for a in ground_truth["annotations"]
        if not a.get("iscrowd") and a.get("num_keypoints", 0) > 0
    ]
    return [0.0 if any(low <= area <= high for area in areas) else -1.0 for low, high in _RANGES]


def with_person_box_area(ground_truth: dict[str, Any]) -> dict[str, Any]:
    """The document with each annotation's OKS area taken from its person box (bbox w × h)."""
    return {
        **ground_truth,
        "annotations": [
            {**a, "area": float(a["bbox"][2]) * float(a["bbox"][3])} for a in ground_truth["annotations"]
        ],
    }


def _schema(spec: EvaluationSpec) -> SchemaDefinition:
    return SchemaDefinition(
        keypoints=[
            KeypointDefinition(id=i, name=name, color="#000000", sigma=sigma)
            for i, name, sigma in zip(spec.keypoint_ids, spec.keypoint_names, spec.sigmas, strict=True)
        ]
    )


def _detection(image_id: int, person: DetectedPerson, schema: SchemaDefinition) -> dict[str, Any]:
    by_id = {k.id: k for k in person.keypoints}
    flat: list[float] = []
    for definition in schema.keypoints:
        keypoint = by_id.get(definition.id)
        # A detection carries every keypoint (COCO's OKS reads only x and y of detections).
        flat += [keypoint.x, keypoint.y, 1.0] if keypoint else [0.0, 0.0, 0.0]
    return {
        "image_id": image_id,
        "category_id": coco_keypoints.CATEGORY_ID,
        "keypoints": flat,
        "score": person.score,
    }


def _chosen(result: ImageResult | None) -> list[Keypoint] | None:
    person = result.chosen if result is not None else None
    if person is None:
        return None
    return [Keypoint(id=k.id, x=k.x, y=k.y, visible=k.visible) for k in person.keypoints]
