"""An infant image in moto's S3 with the model's keypoints, and the reference notes in the database."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from PIL import Image as PILImage
from PIL import ImageDraw
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.db.models import Annotation, BatchAssignment, Image, ImageBatch
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.enums import AnnotationStatus, AssignmentStatus, BatchStatus, ImageStatus
from cradlepose.domain.keypoint_schema import COCO17_NAMES
from cradlepose.reports import reference_library
from tests.support import Persona

WIDTH, HEIGHT = 640, 480
# An infant on its back seen from above (the 17 COCO keypoints): the right knee bent, the left straight.
SUPINE = {
    "nose": (320, 110), "left_eye": (330, 100), "right_eye": (310, 100), "left_ear": (342, 106),
    "right_ear": (298, 106), "left_shoulder": (360, 160), "right_shoulder": (280, 160),
    "left_elbow": (400, 200), "right_elbow": (240, 200), "left_wrist": (410, 250), "right_wrist": (230, 250),
    "left_hip": (345, 290), "right_hip": (295, 290), "left_knee": (350, 360), "right_knee": (260, 340),
    "left_ankle": (355, 430), "right_ankle": (280, 410),
}  # fmt: skip


def keypoints(points: Mapping[str, tuple[float, float]] = SUPINE, confidence: float = 0.8) -> dict[str, Any]:
    return {
        "keypoints": [
            {"id": i, "name": name, "x": float(points[name][0]), "y": float(points[name][1]),
             "confidence": confidence, "visible": 2}
            for i, name in enumerate(COCO17_NAMES)
        ]
    }  # fmt: skip


def jpeg() -> bytes:
    picture = PILImage.new("RGB", (WIDTH, HEIGHT), (236, 226, 214))
    ImageDraw.Draw(picture).ellipse([260, 80, 380, 440], fill=(222, 184, 160))
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=85)
    return out.getvalue()


@dataclass(frozen=True)
class AnalysedImage:
    image_id: int
    batch_id: int
    storage_path: str


@pytest.fixture
def library(uow_factory: UnitOfWorkFactory) -> reference_library.SyncResult:
    return reference_library.sync(uow_factory)


@pytest.fixture
def infant_image(aws: str, session_factory: sessionmaker[Session], admin: Persona) -> AnalysedImage:
    """An image the pipeline has pre-annotated, its pixels in the uploads bucket."""
    with session_factory() as session:
        schema_id = session.scalar(sa.text("SELECT id FROM keypoint_schemas WHERE name = 'infant-pose-17'"))
        batch = ImageBatch(
            batch_name="analysis", keypoint_schema_id=schema_id, total_images=1, uploaded_by=admin.user_id,
            status=BatchStatus.READY_FOR_ANNOTATION,
        )  # fmt: skip
        session.add(batch)
        session.flush()
        path = f"images/{batch.id}/0.jpg"
        image = Image(
            batch_id=batch.id, filename="0.jpg", original_filename="infant.jpg", storage_path=path,
            width=WIDTH, height=HEIGHT, file_size=1000, mime_type="image/jpeg", format="JPEG",
            status=ImageStatus.YOLO_PROCESSED, yolo_keypoints=keypoints(), yolo_confidence=0.8,
            yolo_model_version="yolo11n-pose",
        )  # fmt: skip
        session.add(image)
        session.commit()
        boto3.client("s3").put_object(
            Bucket="cradle-uploads", Key=path, Body=jpeg(), ContentType="image/jpeg"
        )
        return AnalysedImage(image.id, batch.id, path)


def approve(
    session_factory: sessionmaker[Session], image: AnalysedImage, annotator: Persona, points: dict[str, Any]
) -> int:
    """A verified annotation of the image, as the workflow leaves it once a verifier approved it."""
    with session_factory() as session:
        assignment = BatchAssignment(
            batch_id=image.batch_id, annotator_id=annotator.user_id, assigned_by=annotator.user_id,
            images_total=1, status=AssignmentStatus.IN_PROGRESS,
        )  # fmt: skip
        session.add(assignment)
        session.flush()
        annotation = Annotation(
            image_id=image.image_id, batch_assignment_id=assignment.id, refined_keypoints=points,
            time_spent_seconds=60, status=AnnotationStatus.APPROVED,
        )  # fmt: skip
        session.add(annotation)
        session.execute(
            sa.update(Image).where(Image.id == image.image_id).values(status=ImageStatus.APPROVED)
        )
        session.commit()
        return annotation.id
