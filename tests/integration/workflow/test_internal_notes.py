"""A verification's internal notes (seed 000: "for admin/research use"): admins read and write
them, audited; no other role writes them or sees them in any answer."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from tests.integration.workflow.conftest import Team, etag
from tests.support import ApiClient

pytestmark = pytest.mark.integration

SCORES = {"overall_quality_score": 8, "verification_time_seconds": 40, "certainty_level": 9}


def _submitted(api: ApiClient, team: Team, batch_id: int) -> None:
    assignment = api.post(
        f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": team.annotator.user_id}
    ).json
    api.post(f"/assignments/{assignment['id']}/start", team.annotator)
    item = api.get(f"/assignments/{assignment['id']}/next-image", team.annotator).json["item"]
    draft = api.put(
        f"/images/{item['image_id']}/annotation", team.annotator, body={"keypoints": item["yolo_keypoints"]}
    )
    submit = api.post(f"/images/{item['image_id']}/annotation/submit", team.annotator, headers=etag(draft))
    assert submit.status == 200, submit.body


def test_only_admins_write_and_read_internal_notes(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], engine: sa.Engine
) -> None:
    _submitted(api, team, ready_batch(1))
    item = api.post("/verifications/next", team.verifier).json["item"]
    annotation_id = item["annotation"]["id"]

    # A verifier's decision may not carry them: refused, nothing written
    refused = api.post(
        f"/annotations/{annotation_id}/verifications",
        team.verifier,
        body={**SCORES, "decision": "APPROVED", "internal_notes": "mine"},
    )
    assert refused.status == 403, refused.body
    assert "admins only" in refused.json["detail"]

    decided = api.post(
        f"/annotations/{annotation_id}/verifications", team.verifier, body={**SCORES, "decision": "APPROVED"}
    )
    assert decided.status == 201, decided.body
    verification_id = decided.json["verification"]["id"]
    path = f"/verifications/{verification_id}/internal-notes"

    # An admin writes them, and reads them back
    written = api.put(path, team.admin, body={"internal_notes": "  borderline: left hip occluded  "})
    assert written.status == 200, written.body
    assert written.json == {
        "verification_id": verification_id,
        "internal_notes": "borderline: left hip occluded",
    }
    assert api.get(path, team.admin).json["internal_notes"] == "borderline: left hip occluded"

    # Nobody else reads or writes them, and no other answer carries them
    for who in (team.verifier, team.annotator):
        assert api.get(path, who).status == 403
        assert api.put(path, who, body={"internal_notes": "x"}).status == 403
        listed = api.get(f"/annotations/{annotation_id}/verifications", who)
        assert listed.status == 200
        assert "borderline" not in json.dumps(listed.json)
        assert all("internal_notes" not in v for v in listed.json)

    # Clearing them is a change too; writing the same text again is none
    assert api.put(path, team.admin, body={"internal_notes": None}).json["internal_notes"] is None
    assert api.put(path, team.admin, body={"internal_notes": None}).status == 200
    assert api.put(path, team.admin, body={"internal_notes": "x" * 10_001}).status == 422

    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT user_id, old_values, new_values FROM audit_logs"
                " WHERE action = 'VERIFICATION_INTERNAL_NOTES_UPDATED' AND resource_id = :id ORDER BY id"
            ),
            {"id": verification_id},
        ).all()
        stored = conn.scalar(
            sa.text("SELECT internal_notes FROM verifications WHERE id = :id"), {"id": verification_id}
        )
    assert stored is None
    assert [(r.old_values, r.new_values) for r in rows] == [
        ({"internal_notes": None}, {"internal_notes": "borderline: left hip occluded"}),
        ({"internal_notes": "borderline: left hip occluded"}, {"internal_notes": None}),
    ]
    assert {r.user_id for r in rows} == {team.admin.user_id}
