"""What Cradle's inference engine can run: the checks a model's config passes before it is registered.

The engine (containers/inference) loads Ultralytics YOLO pose weights and nothing else, so a model
registered for it must be:
- `model_type` YOLO, `framework` YOLO11 or YOLO12 (RT-DETR is a detector without a pose head),
  `model_parameters.task` "pose" where it is given;
- weights the engine can find (cradle_inference.weights): `package:<package>/<file>.pt`,
  `s3://<bucket>/<key>.pt` or an absolute local path to a `.pt` file;
- an input size the engine accepts (ModelSpec.input_size: MIN_INPUT..MAX_INPUT pixels a side);
- thresholds within their ranges (conf and iou 0..1, max_det 1..300);
- keypoints that are the schema's: the model's i-th keypoint goes to `keypoint_map[i]` (default:
  COCO's 17 in order, ids 0..16), every schema keypoint is predicted exactly once, no model
  keypoint maps to an id the schema lacks, and a declared `keypoint_count` is the map's length.

`problems` returns every problem at once, each naming its field, so one 422 says all that is wrong.
Pure domain: no database, no torch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from cradlepose.domain.enums import ModelFramework, ModelType
from cradlepose.domain.errors import FieldProblem
from cradlepose.domain.keypoint_schema import SchemaDefinition

RUNNABLE_TYPES = frozenset({ModelType.YOLO})
RUNNABLE_FRAMEWORKS = frozenset({ModelFramework.YOLO11, ModelFramework.YOLO12})
TASK = "pose"
WEIGHTS_SUFFIX = ".pt"
MIN_INPUT, MAX_INPUT = 32, 2048  # ModelSpec.input_size's bounds
COCO17 = 17
KNOWN_PARAMETERS = frozenset({"conf", "iou", "max_det", "keypoint_map", "keypoint_count", "task"})


def problems(
    *,
    model_type: ModelType,
    framework: ModelFramework,
    model_path: str | None,
    input_resolution: Mapping[str, Any],
    model_parameters: Mapping[str, Any],
    schema: SchemaDefinition,
) -> list[FieldProblem]:
    found: list[FieldProblem] = []
    if model_type not in RUNNABLE_TYPES:
        found.append(
            FieldProblem("model_type", f"{model_type.value} models cannot run: the engine runs YOLO pose")
        )
    if framework not in RUNNABLE_FRAMEWORKS:
        runnable = ", ".join(sorted(f.value for f in RUNNABLE_FRAMEWORKS))
        found.append(
            FieldProblem("framework", f"{framework.value} has no pose head the engine runs; use {runnable}")
        )
    weights = weights_problem(model_path)
    if weights:
        found.append(FieldProblem("model_path", weights))
    for side in ("width", "height"):
        value = input_resolution.get(side)
        if not isinstance(value, int) or isinstance(value, bool) or not MIN_INPUT <= value <= MAX_INPUT:
            found.append(
                FieldProblem(
                    f"input_resolution.{side}",
                    f"{value!r} is not a whole number of {MIN_INPUT}..{MAX_INPUT} pixels",
                )
            )
    found += _parameter_problems(model_parameters, schema)
    return found


def weights_problem(path: str | None) -> str | None:
    """Why the engine could not find weights at `path` by its form alone; None when the form is good."""
    if not path:
        return "the weights are required: package:<package>/<file>.pt, s3://<bucket>/<key>.pt or /abs/path.pt"
    if not path.endswith(WEIGHTS_SUFFIX):
        return f"{path!r} is not a {WEIGHTS_SUFFIX} weights file (Ultralytics pose weights)"
    if path.startswith("package:"):
        package, _, name = path.removeprefix("package:").partition("/")
        return None if package and name else f"{path!r} is not package:<package>/<file>.pt"
    if path.startswith("s3://"):
        bucket, _, key = path.removeprefix("s3://").partition("/")
        return None if bucket and key else f"{path!r} is not s3://<bucket>/<key>.pt"
    if "://" in path:
        return f"{path!r}: the engine reads package:, s3:// or local paths only"
    return None if path.startswith("/") else f"{path!r}: a local path must be absolute"


def _parameter_problems(parameters: Mapping[str, Any], schema: SchemaDefinition) -> list[FieldProblem]:
    found: list[FieldProblem] = []
    unknown = sorted(set(parameters) - KNOWN_PARAMETERS)
    for name in unknown:
        known = ", ".join(sorted(KNOWN_PARAMETERS))
        found.append(
            FieldProblem(f"model_parameters.{name}", f"is not a parameter the engine reads: {known}")
        )
    task = parameters.get("task", TASK)
    if task != TASK:
        found.append(FieldProblem("model_parameters.task", f"{task!r}: the engine runs {TASK!r} models only"))
    for name in ("conf", "iou"):
        value = parameters.get(name)
        if value is not None and not (_number(value) and 0 <= value <= 1):
            found.append(FieldProblem(f"model_parameters.{name}", f"{value!r} is not a number from 0 to 1"))
    max_det = parameters.get("max_det")
    if max_det is not None and not (_whole(max_det) and 1 <= max_det <= 300):
        found.append(FieldProblem("model_parameters.max_det", f"{max_det!r} is not a whole number 1..300"))
    found += _keypoint_problems(parameters, schema)
    return found


def _keypoint_problems(parameters: Mapping[str, Any], schema: SchemaDefinition) -> list[FieldProblem]:
    where = "model_parameters.keypoint_map"
    mapping = parameters.get("keypoint_map", list(range(COCO17)))
    if not isinstance(mapping, list) or not all(m is None or _whole(m) for m in mapping) or not mapping:
        return [FieldProblem(where, "is not a list of schema keypoint ids (null drops a model keypoint)")]
    found: list[FieldProblem] = []
    declared = parameters.get("keypoint_count")
    if declared is not None and declared != len(mapping):
        found.append(
            FieldProblem(
                "model_parameters.keypoint_count",
                f"{declared!r}, but keypoint_map maps {len(mapping)} model keypoints",
            )
        )
    ids = set(schema.ids)
    mapped = [m for m in mapping if m is not None]
    for i, target in enumerate(mapping):
        if target is not None and target not in ids:
            found.append(FieldProblem(f"{where}[{i}]", f"{target} is not a keypoint id of the schema"))
    twice = sorted(k for k, n in Counter(mapped).items() if n > 1)
    if twice:
        found.append(FieldProblem(where, f"maps two model keypoints to schema id(s) {twice}"))
    missing = [i for i in schema.ids if i not in set(mapped)]
    if missing:
        found.append(
            FieldProblem(
                where,
                f"the model predicts {len(mapped)} of the schema's {schema.total_keypoints} keypoints; "
                f"ids {missing} would never be pre-annotated",
            )
        )
    return found


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
