"""Verified poses, their embeddings (pgvector), and "poses most like this one" (HNSW).

A verified pose is an image's verified keypoints: the image is APPROVED and the pose is its latest
APPROVED annotation version (a verifier's correction is a newer APPROVED version than the
annotator's). The infant's age and pseudonymous subject come from `Image.infant_metadata`
(`age_months`, `subject_id`); an expert's judgement, where a study has one, from its `expert_label`
("typical" or "atypical").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from cradlepose.db.models import Annotation, Image, ImageBatch, KeypointSchema
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access, pose_embedding
from cradlepose.domain.anomaly_text import RESEARCH_NOTICE
from cradlepose.domain.enums import AnnotationStatus, ImageStatus
from cradlepose.domain.errors import Conflict
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.keypoints import KeypointSet

AGE_KEY = "age_months"
SUBJECT_KEY = "subject_id"
LABEL_KEY = "expert_label"
MAX_AGE_MONTHS = 240.0
RECIPE, VERSION, DIMENSION = (
    pose_embedding.RECIPE_NAME,
    pose_embedding.RECIPE_VERSION,
    pose_embedding.DIMENSION,
)


@dataclass(frozen=True)
class VerifiedPose:
    annotation_id: int
    image_id: int
    batch_id: int
    schema_id: int
    keypoints: dict[str, tuple[float, float]]  # labelled keypoints by name, pixels
    width: int
    height: int
    metadata: dict[str, Any]
    thumbnail_path: str | None

    @property
    def age_months(self) -> float | None:
        value = self.metadata.get(AGE_KEY)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return None
        try:
            age = float(value)
        except ValueError:
            return None
        return age if math.isfinite(age) and 0 <= age <= MAX_AGE_MONTHS else None

    @property
    def group(self) -> str:
        """Who the infant is, for splits: the subject id, else the image alone."""
        subject = self.metadata.get(SUBJECT_KEY)
        return f"subject:{subject}" if subject not in (None, "") else f"image:{self.image_id}"

    @property
    def expert_label(self) -> bool | None:
        """True: an expert judged the pose atypical; False: typical; None: no judgement."""
        label = str(self.metadata.get(LABEL_KEY) or "").strip().lower()
        return {"atypical": True, "typical": False}.get(label)


def final_annotations() -> Any:
    """Per image, its latest APPROVED annotation version: (image_id, annotation_id)."""
    return (
        sa.select(Annotation.image_id.label("image_id"), Annotation.id.label("annotation_id"))
        .where(Annotation.status == AnnotationStatus.APPROVED)
        .ext(distinct_on(Annotation.image_id))
        .order_by(Annotation.image_id, Annotation.version.desc(), Annotation.id.desc())
        .subquery("final_annotation")
    )


def verified_poses(
    session: Session,
    *,
    schema_id: int | None = None,
    batch_ids: Sequence[int] | None = None,
    annotation_ids: Sequence[int] | None = None,
) -> list[VerifiedPose]:
    final = final_annotations()
    query = (
        sa.select(
            Annotation.id,
            Annotation.image_id,
            Image.batch_id,
            ImageBatch.keypoint_schema_id,
            Annotation.refined_keypoints,
            Image.width,
            Image.height,
            Image.infant_metadata,
            Image.thumbnail_path,
        )
        .join(final, final.c.annotation_id == Annotation.id)
        .join(Image, Image.id == Annotation.image_id)
        .join(ImageBatch, ImageBatch.id == Image.batch_id)
        .where(Image.status == ImageStatus.APPROVED)
        .order_by(Annotation.id)
    )
    if schema_id is not None:
        query = query.where(ImageBatch.keypoint_schema_id == schema_id)
    if batch_ids is not None:
        query = query.where(Image.batch_id.in_(list(batch_ids)))
    if annotation_ids is not None:
        query = query.where(Annotation.id.in_(list(annotation_ids)))
    rows = session.execute(query).all()
    definitions = _definitions(session, {row[3] for row in rows})
    return [
        VerifiedPose(
            annotation_id=annotation_id,
            image_id=image_id,
            batch_id=batch,
            schema_id=schema,
            keypoints=labelled_by_name(refined, definitions[schema]),
            width=width,
            height=height,
            metadata=dict(metadata or {}),
            thumbnail_path=thumbnail,
        )
        for annotation_id, image_id, batch, schema, refined, width, height, metadata, thumbnail in rows
    ]


def _definitions(session: Session, schema_ids: Iterable[int]) -> dict[int, SchemaDefinition]:
    ids = list(schema_ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(KeypointSchema.id, KeypointSchema.schema_definition).where(KeypointSchema.id.in_(ids))
    )
    return {schema_id: SchemaDefinition.model_validate(definition) for schema_id, definition in rows}


def labelled_by_name(refined: dict[str, Any], definition: SchemaDefinition) -> dict[str, tuple[float, float]]:
    """The labelled keypoints of a stored payload, by their schema names."""
    keypoint_set = KeypointSet.model_validate(refined)
    return {
        definition.by_id[k.id].name: (k.x, k.y)
        for k in keypoint_set.keypoints
        if k.is_labelled and k.id in definition.by_id
    }


def embed(poses: Sequence[VerifiedPose]) -> tuple[np.ndarray, np.ndarray]:
    """The vectors (n, 67) of the poses and which of them have a body frame (n,)."""
    names = pose_embedding.KEYPOINTS
    points = np.zeros((len(poses), len(names), 2))
    present = np.zeros((len(poses), len(names)), dtype=bool)
    for i, pose in enumerate(poses):
        for j, name in enumerate(names):
            if name in pose.keypoints:
                points[i, j] = pose.keypoints[name]
                present[i, j] = True
    return pose_embedding.embed_many(points, present)


def store(uow: UnitOfWork, poses: Sequence[VerifiedPose], vectors: np.ndarray) -> dict[int, int]:
    """Store the embeddings not stored yet; {annotation id: embedding id} for every pose given."""
    rows = [
        {
            "annotation_id": pose.annotation_id,
            "image_id": pose.image_id,
            "dimension": DIMENSION,
            "vector": [float(v) for v in vector],
        }
        for pose, vector in zip(poses, vectors, strict=True)
    ]
    return uow.pose_embeddings.add_missing(rows, RECIPE, VERSION) if rows else {}


# ------------------------------------------------------------------ similar poses


class SimilarPose(BaseModel):
    annotation_id: int
    image_id: int
    batch_id: int
    distance: float = Field(description="L2 distance between the pose embeddings (0: the same pose)")
    age_months: float | None


class SimilarPoses(BaseModel):
    annotation_id: int
    embedding_model: str
    embedding_version: str
    dimension: int
    neighbours: list[SimilarPose]
    notice: str = RESEARCH_NOTICE


class PoseKeypoint(BaseModel):
    name: str
    x: float
    y: float


class VerifiedPoseOut(BaseModel):
    """A verified pose's labelled keypoints, to draw it (no link to the picture: that is a PHI read)."""

    annotation_id: int
    image_id: int
    batch_id: int
    keypoint_schema_id: int
    width: int
    height: int
    age_months: float | None
    keypoints: list[PoseKeypoint] = Field(description="the labelled keypoints, in image pixels")
    notice: str = RESEARCH_NOTICE


def verified_pose(uow: UnitOfWork, annotation_id: int) -> VerifiedPoseOut:
    """One verified pose as the anomaly models see it: its labelled keypoints and frame (researchers)."""
    access.require_researcher(uow.actor)
    pose = require_verified(uow, annotation_id)
    return VerifiedPoseOut(
        annotation_id=pose.annotation_id,
        image_id=pose.image_id,
        batch_id=pose.batch_id,
        keypoint_schema_id=pose.schema_id,
        width=pose.width,
        height=pose.height,
        age_months=pose.age_months,
        keypoints=[PoseKeypoint(name=name, x=x, y=y) for name, (x, y) in pose.keypoints.items()],
    )


def require_verified(uow: UnitOfWork, annotation_id: int) -> VerifiedPose:
    """The annotation as a verified pose, or NotFound / Conflict saying why it is not one."""
    uow.annotations.require(annotation_id)
    found = verified_poses(uow.session, annotation_ids=[annotation_id])
    if not found:
        raise Conflict(
            f"annotation {annotation_id} is not a verified pose: only an APPROVED image's latest "
            "APPROVED annotation version is analysed"
        )
    return found[0]


def vector_of(uow: UnitOfWork, pose: VerifiedPose) -> list[float]:
    stored = uow.pose_embeddings.of_annotation(pose.annotation_id, RECIPE, VERSION)
    if stored is not None:
        return [float(v) for v in stored.vector]
    vectors, ok = embed([pose])
    if not ok[0]:
        raise Conflict(
            f"annotation {pose.annotation_id} cannot be embedded: both shoulders and both hips must be "
            "labelled to set the pose's frame"
        )
    return [float(v) for v in vectors[0]]


def similar_poses(uow: UnitOfWork, annotation_id: int, limit: int = 10) -> SimilarPoses:
    """The stored verified poses nearest to this one (HNSW, L2); the pose itself comes first."""
    access.require_researcher(uow.actor)
    pose = require_verified(uow, annotation_id)
    vector = vector_of(uow, pose)
    found = uow.pose_embeddings.nearest(
        vector, RECIPE, VERSION, DIMENSION, limit, ef_search=max(40, 4 * limit)
    )
    ages = _ages(uow.session, [row.image_id for row, _ in found])
    return SimilarPoses(
        annotation_id=annotation_id,
        embedding_model=RECIPE,
        embedding_version=VERSION,
        dimension=DIMENSION,
        neighbours=[
            SimilarPose(
                annotation_id=row.annotation_id,
                image_id=row.image_id,
                batch_id=batch_id,
                distance=round(distance, 6),
                age_months=age,
            )
            for row, distance in found
            for batch_id, age in [ages.get(row.image_id, (0, None))]
        ],
    )


def _ages(session: Session, image_ids: list[int]) -> dict[int, tuple[int, float | None]]:
    rows = session.execute(
        sa.select(Image.id, Image.batch_id, Image.infant_metadata).where(Image.id.in_(image_ids))
    )
    result = {}
    for image_id, batch_id, metadata in rows:
        age = (metadata or {}).get(AGE_KEY)
        result[image_id] = (batch_id, float(age) if isinstance(age, int | float) else None)
    return result
