"""Given verified images that were also annotated otherwise (revisions, second looks) with errors
drawn from known per-keypoint sigmas, when a researcher calibrates the schema, then the stored
estimates recover those sigmas beside COCO's, and an admin can adopt them as a new schema version."""

from __future__ import annotations

import math
import random

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.db.models import Annotation
from cradlepose.domain.enums import AnnotationStatus
from cradlepose.domain.keypoint_schema import COCO17_SIGMAS
from cradlepose.domain.keypoints import Keypoint
from cradlepose.domain.person_box import object_area
from tests.datasets_support import add_verified_batch
from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration

# Infant-like sigmas, unlike COCO's adult ones: a rounder head, a less certain hip.
TRUE_SIGMAS = [
    0.04,
    0.03,
    0.03,
    0.05,
    0.05,
    0.08,
    0.08,
    0.06,
    0.06,
    0.05,
    0.05,
    0.12,
    0.12,
    0.08,
    0.08,
    0.07,
    0.07,
]


def test_calibration_recovers_the_sigmas_annotations_were_drawn_with(
    api: ApiClient,
    aws: str,
    admin: Persona,
    annotator: Persona,
    verifier: Persona,
    session_factory: sessionmaker[Session],
) -> None:
    assert admin.user_id is not None
    assert annotator.user_id is not None
    batch = add_verified_batch(
        session_factory, admin.user_id, annotator.user_id, images=80, size=(640, 480), store=False
    )
    rng = random.Random(11)
    with session_factory() as session:
        finals = {a.image_id: a for a in session.scalars(sa.select(Annotation))}
        for image_id, payload in batch.keypoints.items():
            labelled = [k for k in payload["keypoints"] if k["visible"]]
            scale = math.sqrt(object_area([Keypoint(id=k["id"], x=k["x"], y=k["y"]) for k in labelled]))
            finals[image_id].version = 3  # the verified result is the latest APPROVED version
            for version in (1, 2):  # two earlier submissions sent back for revision
                drawn = [
                    {**k, "x": k["x"] + rng.gauss(0, TRUE_SIGMAS[k["id"]] * scale / math.sqrt(2)),
                     "y": k["y"] + rng.gauss(0, TRUE_SIGMAS[k["id"]] * scale / math.sqrt(2))}
                    for k in labelled
                ]  # fmt: skip
                session.add(
                    Annotation(
                        image_id=image_id,
                        batch_assignment_id=finals[image_id].batch_assignment_id,
                        refined_keypoints={"keypoints": drawn},
                        time_spent_seconds=30,
                        version=version,
                        status=AnnotationStatus.REVISION_REQUESTED,
                        submitted_at=sa.func.now(),
                    )
                )
        session.commit()

    assert api.post(f"/schemas/{batch.schema_id}/sigma-calibrations", annotator, body={}).status == 403
    made = api.post(f"/schemas/{batch.schema_id}/sigma-calibrations", verifier, body={"min_samples": 100})
    assert made.status == 201, made.body
    calibration = made.json
    assert (calibration["images"], calibration["annotations"]) == (80, 160)
    for row, truth, coco in zip(calibration["estimates"], TRUE_SIGMAS, COCO17_SIGMAS, strict=True):
        assert row["samples"] >= 140  # two per image, less the images where the keypoint is absent
        assert row["sigma"] == pytest.approx(truth, rel=0.15), row["name"]
        assert row["coco_sigma"] == coco
        assert row["current_sigma"] == coco
        assert row["adoptable"]
    assert api.get(f"/sigma-calibrations/{calibration['id']}", verifier).json == calibration
    # The schema's calibrations, newest first: a second one with a lower bar comes before it
    second = api.post(
        f"/schemas/{batch.schema_id}/sigma-calibrations", verifier, body={"min_samples": 5}
    ).json
    listed = api.get(f"/schemas/{batch.schema_id}/sigma-calibrations", verifier)
    assert listed.status == 200, listed.body
    assert [c["id"] for c in listed.json["items"]] == [second["id"], calibration["id"]]
    assert listed.json["items"][1] == calibration
    assert api.get(f"/schemas/{batch.schema_id}/sigma-calibrations", annotator).status == 403
    assert api.get("/schemas/987654/sigma-calibrations", verifier).status == 404

    assert (
        api.post(f"/sigma-calibrations/{calibration['id']}/adopt", verifier, body={"version": "v1.1"}).status
        == 403
    )
    adopted = api.post(f"/sigma-calibrations/{calibration['id']}/adopt", admin, body={"version": "v1.1"})
    assert adopted.status == 201, adopted.body
    schema = adopted.json
    assert (schema["version"], schema["is_active"]) == ("v1.1", False)
    sigmas = [k["sigma"] for k in schema["schema_definition"]["keypoints"]]
    assert sigmas == [round(r["sigma"], 4) for r in calibration["estimates"]]
    again = api.post(f"/sigma-calibrations/{calibration['id']}/adopt", admin, body={"version": "v1.2"})
    assert again.status == 409
