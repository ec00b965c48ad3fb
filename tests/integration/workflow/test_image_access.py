"""Issue 18: an image is seen only by whoever's open work covers it, and every read is audited.

An annotator sees an image while an open assignment of theirs is its current assignment; a
verifier while they hold its claimed verification. Afterwards (handed in, reassigned, decided) the
image answers exactly as one that does not exist. Every PHI read writes one audit row: who, what,
and from where (ip, user agent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.db.models import Collection
from cradlepose.domain.enums import CollectionStatus, ExportFormat
from tests.integration.workflow.conftest import Team, etag
from tests.support import ApiClient, ApiResponse, Persona

pytestmark = pytest.mark.integration

MISSING = 2_000_000_000
IP = "203.0.113.7"
SCORES = {"overall_quality_score": 7, "verification_time_seconds": 10, "certainty_level": 8}


def _like_missing(api: ApiClient, who: Persona, path: str, real_id: int) -> None:
    """The answer for `path` is the answer for the same path naming an id that does not exist."""
    seen = api.get(path, who)
    missing = api.get(path.replace(str(real_id), str(MISSING)), who)
    assert seen.status == missing.status == 404, (seen.body, missing.body)
    a, b = seen.json, missing.json
    assert set(a) == set(b)
    assert (a["type"], a["title"]) == (b["type"], b["title"])
    assert a["detail"].replace(str(real_id), "#") == b["detail"].replace(str(MISSING), "#")


def _submit(api: ApiClient, who: Persona, work: dict[str, Any]) -> None:
    draft = api.put(f"/images/{work['image_id']}/annotation", who, body={"keypoints": work["yolo_keypoints"]})
    assert draft.status == 200, draft.body
    done = api.post(f"/images/{work['image_id']}/annotation/submit", who, headers=etag(draft))
    assert done.status == 200, done.body


def test_access_to_an_image_ends_with_the_work_that_covers_it(
    api: ApiClient, team: Team, ready_batch: Callable[..., int]
) -> None:
    batch_id = ready_batch(2)
    ann, other = team.annotator, team.other_annotator
    assignment = api.post(
        f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": ann.user_id}
    ).json
    api.post(f"/assignments/{assignment['id']}/start", ann)
    first = api.get(f"/assignments/{assignment['id']}/next-image", ann).json["item"]
    image_id = first["image_id"]

    # While the assignment is open: the image, its links, its annotations, its batch's list
    assert api.get(f"/images/{image_id}", ann).status == 200
    assert api.get(f"/images/{image_id}/annotations", ann).status == 200
    assert len(api.get(f"/batches/{batch_id}/images", ann).json["items"]) == 2
    _submit(api, ann, first)

    # A verifier sees it only once they hold its verification; another verifier does not
    _like_missing(api, team.verifier, f"/images/{image_id}", image_id)
    claimed = api.post("/verifications/next", team.verifier).json["item"]
    assert claimed["image_id"] == image_id
    assert api.get(f"/images/{image_id}", team.verifier).status == 200
    assert api.get(f"/images/{image_id}/annotations", team.verifier).status == 200
    assert [i["id"] for i in api.get(f"/batches/{batch_id}/images", team.verifier).json["items"]] == [
        image_id
    ]
    _like_missing(api, team.second_verifier, f"/images/{image_id}", image_id)

    # Rejected for re-annotation: the verification is decided and the image goes to someone else
    decided = api.post(
        f"/annotations/{claimed['annotation']['id']}/verifications",
        team.verifier,
        body={**SCORES, "decision": "REJECTED", "rejection_reason": "POOR_IMAGE_QUALITY"},
    )
    assert decided.status == 201, decided.body
    for path in (f"/images/{image_id}", f"/images/{image_id}/annotations"):
        _like_missing(api, team.verifier, path, image_id)
        _like_missing(
            api, ann, path, image_id
        )  # reassigned: their assignment is open, the image is not theirs
    _like_missing(api, ann, f"/images/{image_id}/work", image_id)
    assert api.get(f"/images/{image_id}", other).status == 200
    assert image_id not in [i["id"] for i in api.get(f"/batches/{batch_id}/images", ann).json["items"]]

    # The annotator hands in their last image: the assignment is over, and so is access to the batch
    second = api.get(f"/assignments/{assignment['id']}/next-image", ann).json["item"]
    assert api.get(f"/images/{second['image_id']}", ann).status == 200
    _submit(api, ann, second)
    _like_missing(api, ann, f"/images/{second['image_id']}", second["image_id"])
    _like_missing(api, ann, f"/batches/{batch_id}", batch_id)
    _like_missing(api, ann, f"/batches/{batch_id}/images", batch_id)


def _audit_rows(engine: sa.Engine) -> list[sa.Row[Any]]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT user_id, action, resource_type, resource_id, host(ip_address) AS ip, user_agent,"
                    " request_method, api_endpoint FROM audit_logs ORDER BY id"
                )
            )
        )


def _one_row_for(api: ApiClient, engine: sa.Engine, who: Persona, path: str) -> sa.Row[Any]:
    before = len(_audit_rows(engine))
    response: ApiResponse = api.get(path, who, source_ip=IP, headers={"User-Agent": "phi-probe/1"})
    assert response.status == 200, response.body
    rows = _audit_rows(engine)[before:]
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row.user_id, row.ip, row.user_agent, row.request_method, row.api_endpoint) == (
        who.user_id, IP, "phi-probe/1", "GET", path,
    )  # fmt: skip
    return row


def test_every_phi_read_writes_one_audit_row_with_who_what_and_where(
    api: ApiClient,
    team: Team,
    ready_batch: Callable[..., int],
    engine: sa.Engine,
    session_factory: sessionmaker[Session],
) -> None:
    batch_id = ready_batch(1)
    image_id = api.get(f"/batches/{batch_id}/images", team.admin).json["items"][0]["id"]

    row = _one_row_for(api, engine, team.admin, f"/images/{image_id}")
    assert (row.action, row.resource_type, row.resource_id) == ("IMAGE_VIEWED", "Image", image_id)
    row = _one_row_for(api, engine, team.admin, f"/batches/{batch_id}/images")
    assert (row.action, row.resource_type, row.resource_id) == ("IMAGES_LISTED", "ImageBatch", batch_id)
    row = _one_row_for(api, engine, team.admin, f"/images/{image_id}/annotations")
    assert (row.action, row.resource_type, row.resource_id) == ("ANNOTATIONS_VIEWED", "Image", image_id)

    # A collection (a dataset's export, or a query's) once READY: its download link is a PHI read
    with session_factory() as session:
        schema_id = session.scalar(sa.text("SELECT id FROM keypoint_schemas WHERE name = 'infant-pose-17'"))
        collection = Collection(
            user_id=team.verifier.user_id, name="export", filter_snapshot={}, format=ExportFormat.YOLO_POSE,
            keypoint_schema_id=schema_id, num_images=1, status=CollectionStatus.READY,
            archive_path="collections/phi/export.zip",
        )  # fmt: skip
        session.add(collection)
        session.commit()
        collection_id = collection.id
    row = _one_row_for(api, engine, team.verifier, f"/collections/{collection_id}")
    assert (row.action, row.resource_type, row.resource_id) == (
        "COLLECTION_DOWNLOAD_URL_ISSUED", "Collection", collection_id,
    )  # fmt: skip
