"""The keypoint payload of an annotation (seed 000's "Keypoint Data Structure").

    {"keypoints": [{"id": 0, "name": "nose", "x": 245.5, "y": 123.2, "confidence": 0.95, "visible": 2}],
     "modifications_from_yolo": {"total_moved": 12, "major_changes": [0, 5], "avg_displacement": 15.3}}

`visible` is COCO's flag: 0 absent, 1 occluded, 2 visible. Coordinates are pixels of the
original image, origin at the top-left corner. An absent keypoint carries no position that
means anything (exports write 0, 0), so only labelled ones (visible > 0) must lie inside the image.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cradlepose.domain.enums import Visibility
from cradlepose.domain.errors import FieldProblem, ValidationFailed
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.validation import parse

COORDINATE_DECIMALS = 2  # pixel decimals kept: far finer than any annotator clicks or model predicts


class Keypoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: int = Field(ge=0)
    name: str | None = None
    x: float
    y: float
    confidence: float | None = Field(default=None, ge=0, le=1)
    visible: Visibility = Visibility.VISIBLE

    @property
    def is_labelled(self) -> bool:
        return self.visible != Visibility.ABSENT


class ModificationsFromYolo(BaseModel):
    """How far the annotator moved YOLO's keypoints. Always computed by the server."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    total_moved: int = Field(ge=0)
    major_changes: list[int] = Field(default_factory=list)
    avg_displacement: float = Field(ge=0)


def round_coordinate(value: float) -> float:
    """A pixel coordinate as Cradle stores and exports it: COORDINATE_DECIMALS decimals.

    Rounded once, where keypoints are stored (validate_keypoints, the model's predictions), so an
    export's keypoints, and the bbox and area derived from them, are the stored values themselves:
    a re-import stores the very same numbers and a second export writes the very same file.
    Rounding a rounded value changes nothing.
    """
    return round(value, COORDINATE_DECIMALS) + 0.0  # + 0.0: -0.0 becomes 0.0


def rounded(keypoint: Keypoint) -> Keypoint:
    x, y = round_coordinate(keypoint.x), round_coordinate(keypoint.y)
    if x == keypoint.x and y == keypoint.y:
        return keypoint
    return keypoint.model_copy(update={"x": x, "y": y})


def rounded_set(keypoint_set: KeypointSet) -> KeypointSet:
    return keypoint_set.model_copy(update={"keypoints": [rounded(k) for k in keypoint_set.keypoints]})


class KeypointSet(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    keypoints: list[Keypoint]
    modifications_from_yolo: ModificationsFromYolo | None = None

    def by_id(self) -> dict[int, Keypoint]:
        return {k.id: k for k in self.keypoints}

    def labelled_ids(self) -> set[int]:
        return {k.id for k in self.keypoints if k.is_labelled}


def validate_keypoints(
    data: Any,
    schema: SchemaDefinition,
    width: int,
    height: int,
    *,
    within: str | None = None,
) -> KeypointSet:
    """Parse `data` and check it against the schema and the image size.

    Every problem is reported, each naming its field (`keypoints[3].x`, or
    `corrected_keypoints.keypoints[3].x` when the payload sits `within` a larger body). Names are
    filled in from the schema where the payload leaves them out, so stored payloads describe themselves.
    """
    keypoint_set = parse(KeypointSet, data, prefix=(within,) if within else ())
    base = f"{within}." if within else ""
    problems: list[FieldProblem] = []
    counts = Counter(k.id for k in keypoint_set.keypoints)
    for i, keypoint in enumerate(keypoint_set.keypoints):
        where = f"{base}keypoints[{i}]"
        definition = schema.by_id.get(keypoint.id)
        if definition is None:
            problems.append(FieldProblem(f"{where}.id", f"keypoint id {keypoint.id} is not in the schema"))
        elif keypoint.name is not None and keypoint.name != definition.name:
            problems.append(
                FieldProblem(
                    f"{where}.name",
                    f"keypoint {keypoint.id} is {definition.name!r} in the schema, not {keypoint.name!r}",
                )
            )
        if counts[keypoint.id] > 1:
            problems.append(FieldProblem(f"{where}.id", f"keypoint id {keypoint.id} appears more than once"))
        if keypoint.is_labelled:
            if not 0 <= keypoint.x <= width:
                problems.append(FieldProblem(f"{where}.x", f"{keypoint.x} is outside the image (0..{width})"))
            if not 0 <= keypoint.y <= height:
                problems.append(
                    FieldProblem(f"{where}.y", f"{keypoint.y} is outside the image (0..{height})")
                )
    if problems:
        raise ValidationFailed(problems)
    named = [
        rounded(k if k.name is not None else k.model_copy(update={"name": schema.by_id[k.id].name}))
        for k in keypoint_set.keypoints
    ]
    order = schema.index_of
    named.sort(key=lambda k: order[k.id])
    return keypoint_set.model_copy(update={"keypoints": named})


def completeness_problems(
    keypoint_set: KeypointSet,
    schema: SchemaDefinition,
    required_ids: list[int],
    max_missing: int,
) -> list[FieldProblem]:
    """Submit-time rules: every required keypoint labelled, at most `max_missing` absent.

    A keypoint is missing when it is absent from the payload or marked visible=0.
    """
    labelled = keypoint_set.labelled_ids()
    problems = [
        FieldProblem(
            "keypoints", f"required keypoint {schema.by_id[i].name} (id {i}) is missing or marked absent"
        )
        for i in required_ids
        if i not in labelled
    ]
    missing = [i for i in schema.ids if i not in labelled]
    if len(missing) > max_missing:
        names = ", ".join(schema.by_id[i].name for i in missing)
        problems.append(
            FieldProblem(
                "keypoints",
                f"{len(missing)} keypoints are missing ({names}); the schema allows at most {max_missing}",
            )
        )
    return problems
