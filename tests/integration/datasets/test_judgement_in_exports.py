"""Given verified images that a verifier judged not usable for research or of POOR diagnostic
quality, when datasets, collections and exports are made over HTTP, then those images stay out by
default, come in with `include_unusable`, and every archive's manifest says which it was."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.db.models import Annotation, Verification
from cradlepose.domain.enums import DiagnosticQuality, VerificationDecision
from tests.datasets_support import VerifiedBatch
from tests.integration.datasets.conftest import Work, download_zip, make_dataset
from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration


def _judge(
    session_factory: sessionmaker[Session],
    image_id: int,
    verifier_id: int,
    *,
    usable: bool = True,
    quality: DiagnosticQuality | None = None,
    final: bool = True,
) -> None:
    """A verification of the image's approved annotation, as the verification flow records it."""
    with session_factory() as session:
        annotation_id = session.scalar(sa.select(Annotation.id).where(Annotation.image_id == image_id))
        assert annotation_id is not None
        session.add(
            Verification(
                annotation_id=annotation_id, verifier_id=verifier_id, decision=VerificationDecision.APPROVED,
                overall_quality_score=7, verification_time_seconds=30, certainty_level=8,
                research_usability=usable, diagnostic_quality=quality, is_final_decision=final,
            )
        )  # fmt: skip
        session.commit()


@pytest.fixture
def judged(
    session_factory: sessionmaker[Session], verifier: Persona, verified: VerifiedBatch
) -> dict[str, int]:
    """Image 0 not usable, image 1 POOR; image 2 judged POOR only by a first, non-final verdict,
    then GOOD by the final one; image 3 GOOD. Images 4 and 5 carry no verification at all."""
    assert verifier.user_id is not None
    ids = verified.image_ids
    _judge(session_factory, ids[0], verifier.user_id, usable=False)
    _judge(session_factory, ids[1], verifier.user_id, quality=DiagnosticQuality.POOR)
    _judge(session_factory, ids[2], verifier.user_id, quality=DiagnosticQuality.POOR, final=False)
    _judge(session_factory, ids[2], verifier.user_id, quality=DiagnosticQuality.GOOD)
    _judge(session_factory, ids[3], verifier.user_id, quality=DiagnosticQuality.GOOD)
    return {"unusable": ids[0], "poor": ids[1]}


def _members(api: ApiClient, who: Persona, dataset_id: int) -> set[int]:
    return {m["image_id"] for m in api.get(f"/datasets/{dataset_id}/images", who).json["items"]}


def _export(api: ApiClient, who: Persona, dataset_id: int, pack: Work, **body: Any) -> dict[str, Any]:
    response = api.post(f"/datasets/{dataset_id}/exports", who, body={"format": "COCO_KEYPOINTS", **body})
    assert response.status == 202, response.body
    pack()
    collection = api.get(f"/collections/{response.json['id']}", who).json
    assert collection["status"] == "READY", collection
    archive = download_zip(collection)
    manifest = json.loads(archive.read("cradle.json"))
    exported: set[int] = set()
    for name in archive.namelist():
        if name.startswith("annotations/"):
            exported |= {a["image_id"] for a in json.loads(archive.read(name))["annotations"]}
    return {"manifest": manifest, "image_ids": exported, "collection": collection}


def test_a_dataset_leaves_out_judged_unusable_images_unless_asked(
    api: ApiClient, verifier: Persona, verified: VerifiedBatch, judged: dict[str, int]
) -> None:
    everyone = set(verified.image_ids)
    left_out = {judged["unusable"], judged["poor"]}

    default = make_dataset(api, verifier, verified.schema_id, name="usable only")
    assert default["train_count"] + default["validation_count"] + default["test_count"] == 4
    assert _members(api, verifier, default["id"]) == everyone - left_out
    assert default["filters"]["include_unusable"] is False

    everything = make_dataset(
        api, verifier, verified.schema_id, name="everything", filters={"include_unusable": True}
    )
    assert _members(api, verifier, everything["id"]) == everyone
    assert everything["filters"]["include_unusable"] is True


def test_an_export_leaves_them_out_by_default_and_its_manifest_says_so(
    api: ApiClient, verifier: Persona, verified: VerifiedBatch, judged: dict[str, int], pack: Work
) -> None:
    everyone = set(verified.image_ids)
    left_out = {judged["unusable"], judged["poor"]}
    dataset = make_dataset(api, verifier, verified.schema_id, filters={"include_unusable": True})

    default = _export(api, verifier, dataset["id"], pack)
    assert default["image_ids"] == everyone - left_out
    assert default["manifest"]["include_unusable"] is False
    assert default["collection"]["num_images"] == 4

    included = _export(api, verifier, dataset["id"], pack, include_unusable=True)
    assert included["image_ids"] == everyone
    assert included["manifest"]["include_unusable"] is True
    assert included["collection"]["filter_snapshot"]["include_unusable"] is True


def test_a_yolo_collection_from_a_query_respects_the_judgement(
    api: ApiClient, verifier: Persona, verified: VerifiedBatch, judged: dict[str, int], pack: Work
) -> None:
    def collect(filters: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        body = {"name": "all", "keypoint_schema_id": verified.schema_id, "format": "YOLO_POSE"}
        created = api.post("/collections", verifier, body={**body, "query": {"filters": filters}})
        assert created.status == 202, created.body
        pack()
        ready = api.get(f"/collections/{created.json['id']}", verifier).json
        archive = download_zip(ready)
        labels = [n for n in archive.namelist() if n.startswith("labels/") and n.endswith(".txt")]
        return len(labels), json.loads(archive.read("cradle.json"))

    count, manifest = collect({})
    assert (count, manifest["include_unusable"]) == (4, False)
    count, manifest = collect({"include_unusable": True})
    assert (count, manifest["include_unusable"]) == (6, True)


def test_an_export_of_nothing_but_unusable_images_is_refused(
    api: ApiClient,
    verifier: Persona,
    verified: VerifiedBatch,
    session_factory: sessionmaker[Session],
) -> None:
    dataset = make_dataset(api, verifier, verified.schema_id, filters={"include_unusable": True})
    assert verifier.user_id is not None
    for image_id in verified.image_ids:
        _judge(session_factory, image_id, verifier.user_id, usable=False)
    response = api.post(f"/datasets/{dataset['id']}/exports", verifier, body={"format": "YOLO_POSE"})
    assert response.status == 422, response.body
    assert "unusable" in (response.body or "")
