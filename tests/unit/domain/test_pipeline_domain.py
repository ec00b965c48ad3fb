"""The pipeline's pure rules: chunking, keys, labels, the stage answer, the summary, the keypoint payload."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cradlepose.domain.batch_summary import hundredths, quality_check_passed
from cradlepose.domain.enums import BatchStatus, Visibility
from cradlepose.domain.inference import DetectedPerson, ImageResult, PredictedKeypoint
from cradlepose.domain.keypoint_schema import infant_pose_17
from cradlepose.domain.keypoints import KeypointSet, validate_keypoints
from cradlepose.domain.pipeline import (
    StageReport,
    chunked,
    execution_name,
    manifest_key,
    model_label,
    results_key,
)
from cradlepose.domain.preannotation import KeypointOutsideSchema, yolo_keypoints

pytestmark = pytest.mark.unit


@given(st.lists(st.integers(), max_size=300), st.integers(min_value=1, max_value=50))
def test_chunks_keep_every_image_once_in_order(ids: list[int], size: int) -> None:
    chunks = chunked(ids, size)
    assert [i for chunk in chunks for i in chunk] == ids
    assert all(1 <= len(chunk) <= size for chunk in chunks)
    assert all(len(chunk) == size for chunk in chunks[:-1])


def test_keys_are_deterministic_per_batch_run_and_chunk() -> None:
    assert manifest_key(12, 2, 3) == "manifests/12/run-2/chunk-00003.json"
    assert results_key(12, 2, 3) == "results/12/run-2/chunk-00003.jsonl"
    assert results_key(12, 1, 3) != results_key(12, 2, 3)


def test_model_label_fits_the_column() -> None:
    assert model_label("yolo11n-pose", "8.4") == "yolo11n-pose@8.4"
    assert model_label("a-very-long-model-name-indeed", "2026.11.23") == "2026.11.23"
    assert len(model_label("x" * 100, "y" * 40)) == 20


def test_execution_name_is_the_last_part_of_the_arn() -> None:
    arn = "arn:aws:states:us-east-1:000000000000:execution:cradle-batch-pipeline:cradle-batch-7-run-2"
    assert execution_name(arn) == "cradle-batch-7-run-2"


@pytest.mark.parametrize(
    ("status", "completed"),
    [(BatchStatus.READY_FOR_ANNOTATION, False), (BatchStatus.IN_PROGRESS, False),
     (BatchStatus.COMPLETED, True), (BatchStatus.ARCHIVED, True)],
)  # fmt: skip
def test_the_stage_report_says_when_the_batch_is_done(status: BatchStatus, completed: bool) -> None:
    assert StageReport.of(status) == StageReport(status=status, completed=completed)


@pytest.mark.parametrize(
    ("passing", "total", "passed"),
    [(9, 10, True), (8, 10, False), (10, 10, True), (0, 0, False), (1, 1, True)],
)
def test_quality_check_is_a_share_of_the_batch(passing: int, total: int, passed: bool) -> None:
    assert quality_check_passed(passing, total) is passed


def test_confidences_are_kept_to_hundredths() -> None:
    assert hundredths(0.845) == Decimal("0.85")
    assert hundredths(None) is None


def _result(points: list[tuple[int, float, float, float]]) -> ImageResult:
    keypoints = [
        PredictedKeypoint(
            id=i, x=x, y=y, confidence=c, visible=Visibility.VISIBLE if c >= 0.5 else Visibility.ABSENT
        )
        for i, x, y, c in points
    ]
    person = DetectedPerson(box=[0, 0, 100, 100], score=0.9, keypoints=keypoints)
    return ImageResult(image_id=1, key="k", ok=True, persons=[person], best_person=0, yolo_confidence=0.9)


def test_the_payload_names_orders_and_keeps_labelled_points_inside_the_image() -> None:
    schema = infant_pose_17()
    result = _result([(5, 700.0, -3.0, 0.9), (0, 10.0, 20.0, 0.8), (1, -50.0, 900.0, 0.1)])

    payload = yolo_keypoints(result, schema.schema_definition, 640, 480)

    assert [k["id"] for k in payload["keypoints"]] == [0, 1, 5]
    assert payload["keypoints"][0] == {
        "id": 0,
        "name": "nose",
        "x": 10.0,
        "y": 20.0,
        "confidence": 0.8,
        "visible": 2,
    }
    assert payload["keypoints"][2]["x"] == 640.0  # clamped to the border
    assert payload["keypoints"][2]["y"] == 0.0
    assert payload["keypoints"][1]["x"] == -50.0  # absent: its position means nothing and stays
    # and it is a valid keypoint payload for this image
    validate_keypoints(payload, schema.schema_definition, 640, 480)
    assert KeypointSet.model_validate(payload).keypoints[0].name == "nose"


def test_no_person_gives_no_keypoints_and_an_unknown_id_is_refused() -> None:
    schema = infant_pose_17().schema_definition
    nobody = ImageResult(image_id=1, key="k", ok=True)
    assert yolo_keypoints(nobody, schema, 640, 480) == {"keypoints": []}
    with pytest.raises(KeypointOutsideSchema):
        yolo_keypoints(_result([(99, 1.0, 1.0, 0.9)]), schema, 640, 480)
