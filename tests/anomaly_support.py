"""Verified synthetic poses in the database, for the anomaly screening tests.

Rows are written directly (a COMPLETED batch, APPROVED images with the infant's age in their
metadata, one APPROVED annotation each): the workflow that produces them has its own tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.db.models import Annotation, BatchAssignment, Image, ImageBatch
from cradlepose.domain import synthetic_poses
from cradlepose.domain.enums import AnnotationStatus, AssignmentStatus, BatchStatus, ImageStatus
from cradlepose.domain.keypoint_schema import COCO17_NAMES
from cradlepose.domain.synthetic_poses import SyntheticPoses
from tests.support import Persona


@dataclass(frozen=True)
class SeededBatch:
    batch_id: int
    annotation_ids: list[int]
    image_ids: list[int]


def keypoints_payload(poses: SyntheticPoses, i: int) -> dict[str, object]:
    return {
        "keypoints": [
            {
                "id": j,
                "name": name,
                "x": round(float(poses.points[i, j, 0]), 2) if poses.present[i, j] else 0.0,
                "y": round(float(poses.points[i, j, 1]), 2) if poses.present[i, j] else 0.0,
                "visible": 2 if poses.present[i, j] else 0,
            }
            for j, name in enumerate(COCO17_NAMES)
        ]
    }


def seed_batch(
    session_factory: sessionmaker[Session],
    owner: Persona,
    annotator: Persona,
    poses: SyntheticPoses,
    *,
    name: str,
    labels: Sequence[str | None] | None = None,
    subjects: Sequence[str | None] | None = None,
    ages: Sequence[float | None] | None = None,
) -> SeededBatch:
    """One COMPLETED batch holding the poses as verified annotations."""
    size = synthetic_poses.IMAGE_SIZE
    with session_factory() as session:
        schema_id = session.scalar(sa.text("SELECT id FROM keypoint_schemas WHERE name = 'infant-pose-17'"))
        batch = ImageBatch(
            batch_name=name, keypoint_schema_id=schema_id, total_images=len(poses),
            uploaded_by=owner.user_id, status=BatchStatus.COMPLETED,
        )  # fmt: skip
        session.add(batch)
        session.flush()
        assignment = BatchAssignment(
            batch_id=batch.id, annotator_id=annotator.user_id, assigned_by=owner.user_id,
            images_total=len(poses), status=AssignmentStatus.COMPLETED,
        )  # fmt: skip
        session.add(assignment)
        session.flush()
        images, annotations = [], []
        for i in range(len(poses)):
            metadata: dict[str, object] = {}
            age = ages[i] if ages is not None else float(poses.ages[i])
            if age is not None:
                metadata["age_months"] = round(float(age), 2)
            if labels is not None and labels[i] is not None:
                metadata["expert_label"] = labels[i]
            if subjects is not None and subjects[i] is not None:
                metadata["subject_id"] = subjects[i]
            images.append(
                Image(
                    batch_id=batch.id,
                    filename=f"{i}.jpg",
                    original_filename=f"{i}.jpg",
                    storage_path=f"images/{batch.id}/{i}.jpg",
                    width=size,
                    height=size,
                    file_size=1000,
                    mime_type="image/jpeg",
                    format="JPEG",
                    status=ImageStatus.APPROVED,
                    infant_metadata=metadata,
                    current_assignment_id=assignment.id,
                )
            )
        session.add_all(images)
        session.flush()
        for i, image in enumerate(images):
            annotations.append(
                Annotation(
                    image_id=image.id,
                    batch_assignment_id=assignment.id,
                    refined_keypoints=keypoints_payload(poses, i),
                    time_spent_seconds=30,
                    status=AnnotationStatus.APPROVED,
                )
            )
        session.add_all(annotations)
        session.commit()
        return SeededBatch(batch.id, [a.id for a in annotations], [im.id for im in images])


def band_poses(seed: int, n: int, profile_index: int, atypical_share: float = 0.0) -> SyntheticPoses:
    rng = np.random.default_rng(seed)
    return synthetic_poses.generate(
        rng, n, synthetic_poses.AGE_PROFILES[profile_index], atypical_share=atypical_share
    )
