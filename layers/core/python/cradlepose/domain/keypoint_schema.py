"""The KeypointSchema definition: which keypoints an annotation has, how they connect, how they look.

A definition is the JSON stored in `keypoint_schemas.schema_definition`. It is only ever
constructed valid: unique ids and names, connections and body parts that reference existing
ids, `#RRGGBB` colours, and (for a whole schema) required keypoints that exist and a
`total_keypoints` equal to the number of keypoints.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from cradlepose.domain.errors import FieldProblem
from cradlepose.domain.validation import RuleViolations, parse

KeypointName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", min_length=1, max_length=50)]
HexColour = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]

_LEFT_RIGHT = re.compile(r"^(left|right)_(.+)$")

# COCO's per-keypoint OKS sigmas for its 17 keypoints (cocoapi, person_keypoints).
COCO17_SIGMAS: tuple[float, ...] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip


class KeypointDefinition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int = Field(ge=0, le=10_000)
    name: KeypointName
    color: HexColour
    required: bool = False
    # OKS falloff of this keypoint (COCO's sigma). None means: use COCO's for a COCO name, else 0.05.
    sigma: float | None = Field(default=None, gt=0, le=1)

    @field_validator("color")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class SchemaDefinition(BaseModel):
    """The `schema_definition` JSON: keypoints, skeleton connections and body parts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keypoints: list[KeypointDefinition] = Field(min_length=1, max_length=512)
    connections: list[tuple[int, int]] = Field(default_factory=list)
    body_parts: dict[str, list[int]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references_are_consistent(self) -> SchemaDefinition:
        problems = definition_problems(self)
        if problems:
            raise RuleViolations(problems)
        return self

    @cached_property
    def ids(self) -> tuple[int, ...]:
        return tuple(k.id for k in self.keypoints)

    @cached_property
    def by_id(self) -> dict[int, KeypointDefinition]:
        return {k.id: k for k in self.keypoints}

    @cached_property
    def index_of(self) -> dict[int, int]:
        """Position of each keypoint id in the definition (the order exports use)."""
        return {k.id: i for i, k in enumerate(self.keypoints)}

    @property
    def total_keypoints(self) -> int:
        return len(self.keypoints)

    @property
    def required_ids(self) -> list[int]:
        return [k.id for k in self.keypoints if k.required]

    def sigmas(self) -> list[float]:
        """OKS sigma per keypoint, in definition order."""
        coco_by_name = dict(zip(COCO17_NAMES, COCO17_SIGMAS, strict=True))
        return [
            k.sigma if k.sigma is not None else coco_by_name.get(k.name, DEFAULT_SIGMA)
            for k in self.keypoints
        ]

    def flip_index(self) -> list[int]:
        """For each position, the position of its mirror keypoint (left_x <-> right_x), else itself.

        This is what ultralytics calls `flip_idx`.
        """
        position_by_name = {k.name: i for i, k in enumerate(self.keypoints)}
        result = []
        for i, keypoint in enumerate(self.keypoints):
            match = _LEFT_RIGHT.match(keypoint.name)
            if match:
                other = ("right" if match.group(1) == "left" else "left") + "_" + match.group(2)
                result.append(position_by_name.get(other, i))
            else:
                result.append(i)
        return result


DEFAULT_SIGMA = 0.05


def definition_problems(definition: SchemaDefinition) -> list[FieldProblem]:
    known = {k.id for k in definition.keypoints}
    return [
        *_duplicate_keypoints(definition),
        *_connection_problems(definition.connections, known),
        *_body_part_problems(definition.body_parts, known),
    ]


def _duplicate_keypoints(definition: SchemaDefinition) -> list[FieldProblem]:
    problems = []
    id_counts = Counter(k.id for k in definition.keypoints)
    name_counts = Counter(k.name for k in definition.keypoints)
    for i, keypoint in enumerate(definition.keypoints):
        if id_counts[keypoint.id] > 1:
            problems.append(FieldProblem(f"keypoints[{i}].id", f"id {keypoint.id} is used more than once"))
        if name_counts[keypoint.name] > 1:
            problems.append(
                FieldProblem(f"keypoints[{i}].name", f"name {keypoint.name!r} is used more than once")
            )
    return problems


def _connection_problems(connections: list[tuple[int, int]], known: set[int]) -> list[FieldProblem]:
    problems = []
    seen: set[frozenset[int]] = set()
    for i, (a, b) in enumerate(connections):
        problems += [
            FieldProblem(f"connections[{i}][{j}]", f"keypoint id {end} does not exist")
            for j, end in enumerate((a, b))
            if end not in known
        ]
        edge = frozenset((a, b))
        if a == b:
            problems.append(FieldProblem(f"connections[{i}]", f"connects keypoint {a} to itself"))
        elif edge in seen:
            problems.append(FieldProblem(f"connections[{i}]", f"connection {a}-{b} is listed twice"))
        seen.add(edge)
    return problems


def _body_part_problems(body_parts: dict[str, list[int]], known: set[int]) -> list[FieldProblem]:
    problems = []
    for part, members in body_parts.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", part):
            problems.append(FieldProblem(f"body_parts.{part}", "body part names are lower_snake_case"))
        if not members:
            problems.append(FieldProblem(f"body_parts.{part}", "a body part lists at least one keypoint"))
        problems += [
            FieldProblem(f"body_parts.{part}[{j}]", f"keypoint id {member} does not exist")
            for j, member in enumerate(members)
            if member not in known
        ]
    return problems


class KeypointSchemaSpec(BaseModel):
    """Everything needed to create a KeypointSchema row, checked as a whole."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    version: str = Field(min_length=1, max_length=10, pattern=r"^v?\d+(\.\d+){0,2}([-.][a-z0-9]+)?$")
    description: str | None = None
    schema_definition: SchemaDefinition
    # Ids that must be present in every valid annotation. None: the keypoints marked `required`.
    required_keypoints: list[int] | None = None
    min_visibility_threshold: Decimal = Field(default=Decimal("0.5"), ge=0, le=1, decimal_places=1)
    max_missing_keypoints: int = Field(default=3, ge=0)
    total_keypoints: int | None = None

    @model_validator(mode="after")
    def _consistent(self) -> KeypointSchemaSpec:
        problems: list[FieldProblem] = []
        count = self.schema_definition.total_keypoints
        if self.total_keypoints is not None and self.total_keypoints != count:
            problems.append(
                FieldProblem(
                    "total_keypoints", f"is {self.total_keypoints} but the definition has {count} keypoints"
                )
            )
        if self.required_keypoints is not None:
            known = set(self.schema_definition.ids)
            for i, keypoint_id in enumerate(self.required_keypoints):
                if keypoint_id not in known:
                    problems.append(
                        FieldProblem(f"required_keypoints[{i}]", f"keypoint id {keypoint_id} does not exist")
                    )
            if len(set(self.required_keypoints)) != len(self.required_keypoints):
                problems.append(FieldProblem("required_keypoints", "lists a keypoint more than once"))
        if self.max_missing_keypoints > count:
            problems.append(
                FieldProblem(
                    "max_missing_keypoints", f"cannot exceed the {count} keypoints of the definition"
                )
            )
        if problems:
            raise RuleViolations(problems)
        return self

    @property
    def effective_required(self) -> list[int]:
        if self.required_keypoints is not None:
            return list(self.required_keypoints)
        return self.schema_definition.required_ids

    def row_values(self) -> dict[str, Any]:
        """Column values for the keypoint_schemas table."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "schema_definition": self.schema_definition.model_dump(mode="json"),
            "total_keypoints": self.schema_definition.total_keypoints,
            "required_keypoints": self.effective_required,
            "min_visibility_threshold": self.min_visibility_threshold,
            "max_missing_keypoints": self.max_missing_keypoints,
        }


def parse_definition(data: Any) -> SchemaDefinition:
    return parse(SchemaDefinition, data, prefix=("schema_definition",))


def parse_spec(data: Any) -> KeypointSchemaSpec:
    return parse(KeypointSchemaSpec, data)


# ---------------------------------------------------------------- the default schema

COCO17_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

# COCO's person skeleton, 0-based (COCO itself writes it 1-based).
COCO17_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip

# Head red, left side cool colours, right side warm ones: easy to tell apart on an infant.
_INFANT_COLOURS: tuple[str, ...] = (
    "#FF0000", "#00C853", "#FF6D00", "#00BFA5", "#FFAB00",
    "#2962FF", "#D50000", "#00B8D4", "#C51162", "#6200EA", "#AA00FF",
    "#304FFE", "#DD2C00", "#0091EA", "#FF3D00", "#00E5FF", "#FFD600",
)  # fmt: skip

_INFANT_REQUIRED = frozenset({"nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip"})

DEFAULT_SCHEMA_NAME = "infant-pose-17"
DEFAULT_SCHEMA_VERSION = "v1.0"


def infant_pose_17() -> KeypointSchemaSpec:
    """The default schema: COCO's 17 keypoints and skeleton, with the seed's body parts.

    The seed's head lists nose and eyes; the ears are added to it so that every keypoint
    belongs to a body part.
    """
    definition = SchemaDefinition(
        keypoints=[
            KeypointDefinition(
                id=i, name=name, color=_INFANT_COLOURS[i], required=name in _INFANT_REQUIRED, sigma=sigma
            )
            for i, (name, sigma) in enumerate(zip(COCO17_NAMES, COCO17_SIGMAS, strict=True))
        ],
        connections=list(COCO17_SKELETON),
        body_parts={
            "head": [0, 1, 2, 3, 4],
            "torso": [5, 6, 11, 12],
            "arms": [5, 7, 9, 6, 8, 10],
            "legs": [11, 13, 15, 12, 14, 16],
        },
    )
    return KeypointSchemaSpec(
        name=DEFAULT_SCHEMA_NAME,
        version=DEFAULT_SCHEMA_VERSION,
        description=(
            "Infant whole-body pose: the 17 COCO keypoints and skeleton, with COCO's OKS sigmas "
            "until infant-calibrated ones are adopted."
        ),
        schema_definition=definition,
        min_visibility_threshold=Decimal("0.5"),
        max_missing_keypoints=3,
    )
