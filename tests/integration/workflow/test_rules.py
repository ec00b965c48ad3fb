"""Every rule violation is a clear 4xx that names the rule, and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.domain.enums import Role
from tests.integration.workflow.conftest import Team, etag, moved
from tests.support import ApiClient, make_user

pytestmark = pytest.mark.integration


def _snapshot(engine: sa.Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        counts = [
            int(conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) or 0)
            for t in ("batch_assignments", "annotations", "verifications")
        ]
        counts.append(int(conn.scalar(sa.text("SELECT count(*) FROM images WHERE status = 'ASSIGNED'")) or 0))
        return tuple(counts)


def test_assignment_rules(
    api: ApiClient,
    team: Team,
    ready_batch: Callable[..., int],
    session_factory: sessionmaker[Session],
    engine: sa.Engine,
) -> None:
    first, second, third = ready_batch(1), ready_batch(1), ready_batch(1)
    unapproved = make_user(session_factory, Role.ANNOTATOR, approved=False, name="waiting")
    inactive = make_user(session_factory, Role.ANNOTATOR, active=False, name="gone")
    admin = team.admin
    before = _snapshot(engine)

    cases = [
        ({"annotator_id": team.verifier.user_id}, 409, "only annotators"),
        ({"annotator_id": unapproved.user_id}, 409, "not approved"),
        ({"annotator_id": inactive.user_id}, 409, "deactivated"),
        ({"annotator_id": 999_999}, 422, "does not exist"),
        ({"annotator_id": team.annotator.user_id, "due_date": "2001-01-01T00:00:00Z"}, 422, "in the future"),
        ({"annotator_id": team.annotator.user_id, "priority": 11}, 422, "less than or equal to 10"),
    ]
    for body, status, fragment in cases:
        response = api.post(f"/batches/{first}/assignments", admin, body=body)
        assert response.status == status, (body, response.body)
        assert fragment in response.json["detail"], response.json
    assert _snapshot(engine) == before

    # Capacity: max_concurrent_batches is 2
    for batch_id in (first, second):
        assert (
            api.post(
                f"/batches/{batch_id}/assignments", admin, body={"annotator_id": team.annotator.user_id}
            ).status
            == 201
        )
    over = api.post(f"/batches/{third}/assignments", admin, body={"annotator_id": team.annotator.user_id})
    assert over.status == 409
    assert "already has 2 open assignment(s)" in over.json["detail"]
    assert "max_concurrent_batches" in over.json["detail"]
    again = api.post(
        f"/batches/{first}/assignments", admin, body={"annotator_id": team.other_annotator.user_id}
    )
    assert again.status == 409
    assert "only READY_FOR_ANNOTATION batches" in again.json["detail"]


def test_annotation_rules(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], engine: sa.Engine
) -> None:
    batch_id = ready_batch(1)
    ann = team.annotator
    assignment = api.post(
        f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": ann.user_id}
    ).json
    work = api.get(f"/assignments/{assignment['id']}/next-image", ann).json["item"]
    image_id = work["image_id"]
    body = {"keypoints": work["yolo_keypoints"]}

    not_started = api.put(f"/images/{image_id}/annotation", ann, body=body)
    assert not_started.status == 409
    assert "start assignment" in not_started.json["detail"]
    assert api.post(f"/assignments/{assignment['id']}/pause", ann).status == 409  # not being worked on
    assert api.post(f"/assignments/{assignment['id']}/start", ann).status == 200

    # Someone else's image does not exist for them
    assert api.put(f"/images/{image_id}/annotation", team.other_annotator, body=body).status == 404

    bad = api.put(f"/images/{image_id}/annotation", ann,
                  body={"keypoints": {"keypoints": [{"id": 0, "x": 9999, "y": 1}, {"id": 99, "x": 1, "y": 1}]}})  # fmt: skip
    assert bad.status == 422
    assert {e["location"] for e in bad.json["errors"]} == {"keypoints[0].x", "keypoints[1].id"}

    incomplete = moved(work["yolo_keypoints"], 0)
    for keypoint in incomplete["keypoints"]:
        if keypoint["id"] in (0, 13, 14, 15, 16):
            keypoint["visible"] = 0
    draft = api.put(f"/images/{image_id}/annotation", ann, body={"keypoints": incomplete})
    assert draft.status == 200, draft.body
    refused = api.post(f"/images/{image_id}/annotation/submit", ann, headers=etag(draft))
    assert refused.status == 422
    messages = " ".join(e["message"] for e in refused.json["errors"])
    assert "required keypoint nose" in messages
    assert "5 keypoints are missing" in messages
    assert api.post(f"/images/{image_id}/annotation/submit", ann).status == 412  # no If-Match
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT status FROM annotations")) == "DRAFT"


def test_verification_rules(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], session_factory: sessionmaker[Session]
) -> None:
    batch_id = ready_batch(1)
    # An annotator who is also asked to verify: give the verifier role to a second account of theirs is
    # not possible, so make the author an admin afterwards and try to verify their own work.
    author = team.annotator
    assignment = api.post(
        f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": author.user_id}
    ).json
    api.post(f"/assignments/{assignment['id']}/start", author)
    work = api.get(f"/assignments/{assignment['id']}/next-image", author).json["item"]
    draft = api.put(
        f"/images/{work['image_id']}/annotation", author, body={"keypoints": work["yolo_keypoints"]}
    )
    api.post(f"/images/{work['image_id']}/annotation/submit", author, headers=etag(draft))

    assert api.post("/verifications/next", author).status == 403  # annotators do not verify
    api.put(f"/users/{author.user_id}/role", team.admin, body={"role": "VERIFIER"})
    assert api.post("/verifications/next", author).json["item"] is None  # their own work is not offered

    item = api.post("/verifications/next", team.verifier).json["item"]
    annotation_id = item["annotation"]["id"]
    scores = {"overall_quality_score": 7, "verification_time_seconds": 10, "certainty_level": 8}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"decision": "REJECTED"}, "rejection_reason"),
        ({"decision": "APPROVED_WITH_CORRECTIONS"}, "corrected_keypoints"),
        ({"decision": "MINOR_REVISION_NEEDED"}, "feedback_to_annotator"),
        ({"decision": "APPROVED", "overall_quality_score": 11}, "less than or equal to 10"),
        ({"decision": "APPROVED", "problematic_keypoints": [42]}, "keypoint id 42 is not in the schema"),
    ]
    for body, fragment in cases:
        response = api.post(
            f"/annotations/{annotation_id}/verifications", team.verifier, body={**scores, **body}
        )
        assert response.status == 422, body
        assert fragment in (response.body or "")
    # Only the verifier who claimed it decides
    stranger = api.post(f"/annotations/{annotation_id}/verifications", team.second_verifier,
                        body={**scores, "decision": "APPROVED"})  # fmt: skip
    assert stranger.status == 409
    assert "claim" in stranger.json["detail"]
    assert api.get(f"/annotations/{annotation_id}/verifications", team.admin).json == []
    # Released work goes back to the queue
    assert api.post(f"/annotations/{annotation_id}/release", team.verifier).json["status"] == "SUBMITTED"
    assert (
        api.post("/verifications/next", team.second_verifier).json["item"]["annotation"]["id"]
        == annotation_id
    )
