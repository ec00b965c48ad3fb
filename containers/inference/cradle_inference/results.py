"""Turning one image's detection rows into the contract's `ImageResult`."""

from __future__ import annotations

import math

from pydantic import ValidationError

from cradle_inference.geometry import LetterboxGeometry
from cradle_inference.postprocess import KEYPOINTS_START, SCORE_COLUMN, DetectionRows
from cradlepose.domain.inference import (
    DetectedPerson,
    ImageResult,
    ModelSpec,
    PredictedKeypoint,
    choose_best_person,
    visibility_of,
)

# Stored precision: a hundredth of a pixel and 1e-4 in confidence are far finer than the model
# is accurate, and keep the JSON lines short and free of float32 noise.
PIXEL_DECIMALS = 2
CONFIDENCE_DECIMALS = 4


def elapsed_ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def failed_result(image_id: int, key: str, error: str, seconds: float, spec: ModelSpec) -> ImageResult:
    return ImageResult(
        image_id=image_id,
        key=key,
        ok=False,
        error=error,
        processing_time_ms=elapsed_ms(seconds),
        model_version=spec.version,
    )


def image_result(
    image_id: int,
    key: str,
    geometry: LetterboxGeometry,
    rows: DetectionRows,
    *,
    seconds: float,
    spec: ModelSpec,
) -> ImageResult:
    """The persons in `rows` (original pixels, best score first) with schema keypoint ids."""
    try:
        persons = [_person(row.tolist(), spec) for row in rows]
    except (ValidationError, ValueError) as error:  # NaN/inf from the network: this image fails alone
        return failed_result(image_id, key, f"model output is not usable: {error}", seconds, spec)
    best = choose_best_person(persons)
    return ImageResult(
        image_id=image_id,
        key=key,
        ok=True,
        width=geometry.width,
        height=geometry.height,
        persons=persons,
        best_person=best,
        yolo_confidence=persons[best].score if best is not None else None,
        processing_time_ms=elapsed_ms(seconds),
        model_version=spec.version,
    )


def _person(row: list[float], spec: ModelSpec) -> DetectedPerson:
    if not all(math.isfinite(value) for value in row):
        raise ValueError("non-finite box or keypoint values")
    keypoints = []
    for index, schema_id in enumerate(spec.keypoint_map):
        if schema_id is None:
            continue
        x, y, confidence = row[KEYPOINTS_START + 3 * index : KEYPOINTS_START + 3 * index + 3]
        confidence = _confidence(confidence)
        keypoints.append(
            PredictedKeypoint(
                id=schema_id,
                x=round(x, PIXEL_DECIMALS),
                y=round(y, PIXEL_DECIMALS),
                confidence=confidence,
                visible=visibility_of(confidence, spec.visibility_threshold),
            )
        )
    box = [round(value, PIXEL_DECIMALS) for value in row[:4]]
    return DetectedPerson(box=box, score=_confidence(row[SCORE_COLUMN]), keypoints=keypoints)


def _confidence(value: float) -> float:
    # Sigmoid outputs are in [0, 1] in exact arithmetic; FP16 rounding may step a hair outside.
    # Visibility is derived from the rounded value, so a reader recomputing it from the stored
    # confidence gets the same answer.
    return round(min(1.0, max(0.0, value)), CONFIDENCE_DECIMALS)
