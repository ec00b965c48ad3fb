"""Verified images for the dataset tests: real JPEGs in (moto's) S3 and approved keypoints in the
database, with every visibility flag COCO knows, infants who appear in several images, ages."""

from __future__ import annotations

import io
import secrets
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.db.models import Annotation, BatchAssignment, Image, ImageBatch, KeypointSchema
from cradlepose.domain.enums import AnnotationStatus, AssignmentStatus, BatchStatus, ImageStatus
from cradlepose.domain.keypoint_schema import DEFAULT_SCHEMA_NAME
from tests.images import photo

UPLOADS, EXPORTS, MODELS = "cradle-uploads", "cradle-exports", "cradle-models"


def keypoints_for(n: int, width: int, height: int) -> dict[str, Any]:
    """17 keypoints of image n: mostly visible, one occluded, one absent (at 0, 0, as COCO writes it).

    Coordinates have two decimals, what exports keep, so a round trip must give them back exactly."""
    absent, occluded = n % 17, (n + 5) % 17
    keypoints = []
    for i in range(17):
        if i == absent:
            keypoints.append({"id": i, "x": 0.0, "y": 0.0, "visible": 0})
            continue
        x = round(width * (0.2 + 0.6 * ((i * 7 + n) % 17) / 17) + 0.25, 2)
        y = round(height * (0.15 + 0.7 * ((i * 5 + 2 * n) % 17) / 17) + 0.5, 2)
        keypoints.append({"id": i, "x": x, "y": y, "visible": 1 if i == occluded else 2})
    return {"keypoints": keypoints}


def jpeg(size: tuple[int, int], seed: int) -> bytes:
    buffer = io.BytesIO()
    photo(size, seed).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


@dataclass
class VerifiedBatch:
    batch_id: int
    schema_id: int
    image_ids: list[int]
    keypoints: dict[int, dict[str, Any]]  # image id -> the approved payload
    subjects: dict[int, str]  # image id -> subject id
    size: tuple[int, int]


def add_verified_batch(
    session_factory: sessionmaker[Session],
    admin_id: int,
    annotator_id: int,
    *,
    images: int = 6,
    subjects: int = 3,
    size: tuple[int, int] = (128, 96),
    institution: str = "Site A",
    store: bool = True,
) -> VerifiedBatch:
    """A COMPLETED batch of the default schema whose images are all APPROVED; the JPEGs go to
    moto's uploads bucket when `store` (an export reads them from there)."""
    s3 = boto3.client("s3", region_name="us-east-1") if store else None
    width, height = size
    with session_factory() as session:
        schema_id = session.scalar(
            sa.select(KeypointSchema.id).where(KeypointSchema.name == DEFAULT_SCHEMA_NAME)
        )
        assert schema_id is not None
        batch = ImageBatch(
            batch_name=f"verified-{secrets.token_hex(3)}", keypoint_schema_id=schema_id, total_images=images,
            uploaded_by=admin_id, status=BatchStatus.COMPLETED,
        )  # fmt: skip
        session.add(batch)
        session.flush()
        assignment = BatchAssignment(
            batch_id=batch.id, annotator_id=annotator_id, assigned_by=admin_id, images_total=images,
            images_completed=images, status=AssignmentStatus.COMPLETED,
        )  # fmt: skip
        session.add(assignment)
        session.flush()
        result = VerifiedBatch(batch.id, schema_id, [], {}, {}, size)
        for n in range(images):
            key = f"images/{batch.id}/{secrets.token_hex(8)}"
            data = jpeg(size, seed=n)
            if s3 is not None:
                s3.put_object(Bucket=UPLOADS, Key=key, Body=data, ContentType="image/jpeg")
            subject = f"infant-{n % subjects}"
            image = Image(
                batch_id=batch.id, filename=f"{n}.jpg", original_filename=f"infant-{n}.jpg", storage_path=key,
                width=width, height=height, file_size=len(data), mime_type="image/jpeg", format="JPEG",
                infant_metadata={"subject_id": subject, "age_months": 2 + n % 4},
                source_institution=institution, image_quality_score=Decimal("8.0"), status=ImageStatus.APPROVED,
            )  # fmt: skip
            session.add(image)
            session.flush()
            payload = keypoints_for(n, width, height)
            session.add(
                Annotation(
                    image_id=image.id,
                    batch_assignment_id=assignment.id,
                    refined_keypoints=payload,
                    time_spent_seconds=60,
                    status=AnnotationStatus.APPROVED,
                )
            )
            result.image_ids.append(image.id)
            result.keypoints[image.id] = payload
            result.subjects[image.id] = subject
        session.commit()
    return result


def create_models_bucket() -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=MODELS)


def read_zip(bucket: str, key: str) -> zipfile.ZipFile:
    body = boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=key)["Body"].read()
    return zipfile.ZipFile(io.BytesIO(body))


def triplets(flat: list[float]) -> list[tuple[float, float, int]]:
    return [(flat[i], flat[i + 1], int(flat[i + 2])) for i in range(0, len(flat), 3)]
