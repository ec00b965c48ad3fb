"""From the model's result for an image to the image's `yolo_keypoints`.

The stored payload is the seed's keypoint structure (`{"keypoints": [...]}`, see
`cradlepose.domain.keypoints`) for the person the image is about, with the schema's names and
order. Labelled keypoints (visible > 0) must lie inside the image, as every keypoint payload in
Cradle must: the model may place one a few pixels outside the frame, so those are clamped to the
border rather than handed to an annotator as an invalid starting point.
"""

from __future__ import annotations

from typing import Any

from cradlepose.domain.enums import Visibility
from cradlepose.domain.inference import ImageResult
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.keypoints import round_coordinate


class KeypointOutsideSchema(ValueError):
    """The model's keypoint map names an id the schema does not have: the model is misconfigured."""


def yolo_keypoints(result: ImageResult, schema: SchemaDefinition, width: int, height: int) -> dict[str, Any]:
    """The payload for a successful result; no person found gives an empty keypoint list."""
    person = result.chosen
    if person is None:
        return {"keypoints": []}
    keypoints: list[dict[str, Any]] = []
    for predicted in person.keypoints:
        definition = schema.by_id.get(predicted.id)
        if definition is None:
            raise KeypointOutsideSchema(f"the model predicts keypoint id {predicted.id}, not in the schema")
        x, y = predicted.x, predicted.y
        if predicted.visible != Visibility.ABSENT:
            x, y = min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height))
        keypoints.append(
            {
                "id": predicted.id,
                "name": definition.name,
                "x": round_coordinate(x),  # rounded once, here where it is stored
                "y": round_coordinate(y),
                "confidence": predicted.confidence,
                "visible": int(predicted.visible),
            }
        )
    keypoints.sort(key=lambda k: schema.index_of[int(k["id"])])
    return {"keypoints": keypoints}
