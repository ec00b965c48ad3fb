"""Infant-calibrated OKS sigmas: measured from a schema's repeatedly annotated images, then adopted.

For every image of the schema's batches that has a verified result (its latest APPROVED
annotation version), the other annotations it received are measurements of where annotators put
each keypoint: every other submitted version (first submissions, revisions, re-annotations after
a rejection) and the admin's gold keypoints of a quality-check image. Against the verified
result they give each keypoint's σ as COCO defined it (domain.sigma_calibration). The result is
stored with COCO's sigma and the schema's current one beside each estimate, and the number of
samples behind it.

Adopting a calibration makes a new (inactive) version of the schema whose keypoints carry the
estimated sigmas where at least `min_samples` back them; activating that version makes it the one
new batches use, and with it every OKS Cradle computes for them: annotators' accuracy, the
verification view, and evaluations (which may also name a schema's sigmas explicitly).
The images behind a calibration are those that needed a second look (rejected, revised,
corrected, or quality checks), so the estimates lean towards the harder cases; the sample
counts say how much each rests on.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.common.paging import keyset_page
from cradlepose.common.use_cases import Page, audit
from cradlepose.datasets.verified_images import final_annotations
from cradlepose.db.models import Annotation, Image, ImageBatch, SigmaCalibration
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.enums import AuditCategory, ImageStatus
from cradlepose.domain.errors import Conflict, NotFound, ValidationFailed
from cradlepose.domain.keypoint_schema import COCO17_NAMES, COCO17_SIGMAS, SchemaDefinition
from cradlepose.domain.keypoints import KeypointSet
from cradlepose.domain.sigma_calibration import (
    MIN_SAMPLES,
    RepeatedAnnotations,
    SigmaEstimate,
    adopted_sigmas,
    estimate,
    labelled_points,
)
from cradlepose.keypoint_schemas import schemas

METHOD = "against-verified-result"


class CalibrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_samples: int = Field(
        default=MIN_SAMPLES, ge=1, le=100_000, description="samples a sigma needs to be adopted"
    )


class SigmaRow(BaseModel):
    keypoint_id: int
    name: str
    sigma: float | None = Field(description="the estimate; null without samples")
    samples: int
    current_sigma: float = Field(description="what the schema uses now")
    coco_sigma: float | None = Field(description="COCO's sigma (adults) for a COCO keypoint")
    adoptable: bool = Field(description="enough samples back the estimate")


class CalibrationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    keypoint_schema_id: int
    method: str
    estimates: list[SigmaRow]
    images: int
    annotations: int
    min_samples: int
    adopted_schema_id: int | None
    created_by: int
    created_at: dt.datetime


class AdoptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=10, pattern=r"^v?\d+(\.\d+){0,2}([-.][a-z0-9]+)?$")
    description: str | None = Field(default=None, max_length=5000)


def calibrate(uow: UnitOfWork, schema_id: int, command: CalibrationIn) -> CalibrationOut:
    actor = access.require_researcher(uow.actor)
    schema_row = uow.schemas.require(schema_id)
    schema = SchemaDefinition.model_validate(schema_row.schema_definition)
    images, annotation_count = _repeated_annotations(uow, schema_id)
    if not images:
        raise Conflict(
            f"no image of schema {schema_row.name} {schema_row.version} has both a verified result and "
            "another annotation (a revision, a correction, a re-annotation or gold keypoints) to measure"
        )
    estimates = estimate(images, list(schema.ids))
    row = uow.sigma_calibrations.add(
        SigmaCalibration(
            keypoint_schema_id=schema_id,
            method=METHOD,
            estimates=[r.model_dump() for r in _rows(schema, estimates, command.min_samples)],
            images=len(images),
            annotations=annotation_count,
            min_samples=command.min_samples,
            created_by=actor.user_id,
        )
    )
    _audit(uow, row, "SIGMAS_CALIBRATED", new={"images": len(images), "annotations": annotation_count})
    uow.commit()
    return CalibrationOut.model_validate(row)


def get_calibration(uow: UnitOfWork, calibration_id: int) -> CalibrationOut:
    access.require_researcher(uow.actor)
    row = uow.sigma_calibrations.get(calibration_id)
    if row is None:
        raise NotFound("SigmaCalibration", calibration_id)
    return CalibrationOut.model_validate(row)


def list_calibrations(
    uow: UnitOfWork, schema_id: int, cursor: str | None, limit: int
) -> Page[CalibrationOut]:
    """A schema's calibrations, newest first: what an admin reviews before adopting one."""
    access.require_researcher(uow.actor)
    uow.schemas.require(schema_id)
    return keyset_page(
        uow.session,
        sa.select(SigmaCalibration).where(SigmaCalibration.keypoint_schema_id == schema_id),
        order_by=[SigmaCalibration.id.desc()],
        cursor=cursor,
        limit=limit,
        to_model=CalibrationOut.model_validate,
    )


def adopt(uow: UnitOfWork, calibration_id: int, command: AdoptIn) -> schemas.SchemaOut:
    """A new, inactive version of the schema with the calibrated sigmas; activate it to use them."""
    access.require_admin(uow.actor)
    calibration = uow.sigma_calibrations.require(calibration_id, for_update=True)
    if calibration.adopted_schema_id is not None:
        raise Conflict(f"calibration {calibration.id} was adopted by schema {calibration.adopted_schema_id}")
    base = uow.schemas.require(calibration.keypoint_schema_id)
    definition = SchemaDefinition.model_validate(base.schema_definition)
    current = dict(zip(definition.ids, definition.sigmas(), strict=True))
    rows = [SigmaRow.model_validate(r) for r in calibration.estimates]
    sigmas = adopted_sigmas(
        current,
        [SigmaEstimate(r.keypoint_id, r.sigma, r.samples) for r in rows],
        calibration.min_samples,
    )
    if sigmas == current:
        raise ValidationFailed.single(
            "calibration", f"no keypoint has {calibration.min_samples} samples: nothing would change"
        )
    new_definition = definition.model_copy(
        update={"keypoints": [k.model_copy(update={"sigma": sigmas[k.id]}) for k in definition.keypoints]}
    ).model_dump(mode="json")
    row, spec = schemas.add_version(
        uow,
        base.id,
        schemas.NewVersion(
            version=command.version,
            schema_definition=new_definition,
            description=command.description
            or f"{base.description or base.name}; sigmas of calibration {calibration.id}",
        ),
        summary=f"sigmas of calibration {calibration.id}",
    )
    calibration.adopted_schema_id = row.id
    _audit(
        uow,
        calibration,
        "SIGMAS_ADOPTED",
        new={"schema_id": row.id, "version": row.version, "sigmas": sigmas},
    )
    schemas.commit(uow, spec)
    return schemas.out(uow, row)


def _repeated_annotations(uow: UnitOfWork, schema_id: int) -> tuple[list[RepeatedAnnotations], int]:
    final = final_annotations()
    finals = uow.session.execute(
        sa.select(Image.id, Image.gold_keypoints, final.c.annotation_id, Annotation.refined_keypoints)
        .join(ImageBatch, ImageBatch.id == Image.batch_id)
        .join(final, final.c.image_id == Image.id)
        .join(Annotation, Annotation.id == final.c.annotation_id)
        .where(ImageBatch.keypoint_schema_id == schema_id, Image.status == ImageStatus.APPROVED)
    ).all()
    final_by_image = {
        image_id: (gold, annotation_id, refined) for image_id, gold, annotation_id, refined in finals
    }
    others: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if final_by_image:
        for image_id, annotation_id, refined in uow.session.execute(
            sa.select(Annotation.image_id, Annotation.id, Annotation.refined_keypoints).where(
                Annotation.image_id.in_(list(final_by_image)), Annotation.submitted_at.is_not(None)
            )
        ):
            if annotation_id != final_by_image[image_id][1]:
                others[image_id].append(refined)
    images, annotations = [], 0
    for image_id, (gold, _, refined) in final_by_image.items():
        measurements = [*others[image_id], *([gold] if gold else [])]
        if not measurements:
            continue
        reference = labelled_points(KeypointSet.model_validate(refined).keypoints)
        points = [labelled_points(KeypointSet.model_validate(m).keypoints) for m in measurements]
        images.append(RepeatedAnnotations(points, reference=reference))
        annotations += len(points)
    return images, annotations


def _rows(schema: SchemaDefinition, estimates: list[SigmaEstimate], min_samples: int) -> list[SigmaRow]:
    coco = dict(zip(COCO17_NAMES, COCO17_SIGMAS, strict=True))
    current = dict(zip(schema.ids, schema.sigmas(), strict=True))
    names = {k.id: k.name for k in schema.keypoints}
    return [
        SigmaRow(
            keypoint_id=e.keypoint_id,
            name=names[e.keypoint_id],
            sigma=round(e.sigma, 5) if e.sigma is not None else None,
            samples=e.samples,
            current_sigma=current[e.keypoint_id],
            coco_sigma=coco.get(names[e.keypoint_id]),
            adoptable=e.sigma is not None and e.samples >= min_samples,
        )
        for e in estimates
    ]


def _audit(uow: UnitOfWork, row: SigmaCalibration, action: str, *, new: dict[str, Any]) -> None:
    audit(uow, action, AuditCategory.SYSTEM, "SigmaCalibration", row.id, new=new)
