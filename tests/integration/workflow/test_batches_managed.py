"""Issue 19: batches are managed and no one gets stuck, through HTTP.

Editing a batch; unassigning, reassigning and deactivating without losing work; verification
claims as leases; flagging an image as unusable and deciding on the flag.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.db.models import Image
from cradlepose.domain.enums import Role
from tests.integration.workflow.conftest import Team, etag, moved
from tests.support import ApiClient, Persona, make_user

pytestmark = pytest.mark.integration

SCORES = {"overall_quality_score": 8, "verification_time_seconds": 30, "certainty_level": 8}


def _audit_rows(engine: sa.Engine, action: str) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT resource_id, old_values, new_values FROM audit_logs WHERE action = :a ORDER BY id"
                ),
                {"a": action},
            )
        )


def _assign(
    api: ApiClient, team: Team, batch_id: int, who: Persona | None = None, **body: Any
) -> dict[str, Any]:
    annotator = who or team.annotator
    response = api.post(
        f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": annotator.user_id, **body}
    )
    assert response.status == 201, response.body
    return dict(response.json)


def _submit_next(api: ApiClient, who: Persona, assignment_id: int) -> int:
    work = api.get(f"/assignments/{assignment_id}/next-image", who).json["item"]
    draft = api.put(
        f"/images/{work['image_id']}/annotation", who, body={"keypoints": moved(work["yolo_keypoints"], 4)}
    )
    assert draft.status == 200, draft.body
    submitted = api.post(f"/images/{work['image_id']}/annotation/submit", who, headers=etag(draft))
    assert submitted.status == 200, submitted.body
    return int(work["image_id"])


# ------------------------------------------------------------------ PATCH /batches/{id}


def test_an_admin_edits_a_batch_and_the_audit_holds_old_and_new(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], engine: sa.Engine
) -> None:
    batch_id = ready_batch(1, name="before", priority=5)
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).replace(microsecond=0)

    for body, fragment in [
        ({"processing_priority": 11}, "less than or equal to 10"),
        ({"due_date": "2001-01-01T00:00:00Z"}, "in the future"),
        ({"due_date": "2099-01-01T00:00:00"}, "time zone"),
        ({"batch_name": None}, "not set to null"),
        ({"batch_name": ""}, "at least 1 character"),
        ({"status": "COMPLETED"}, "Extra inputs"),
        ({}, "nothing to change"),
    ]:
        refused = api.patch(f"/batches/{batch_id}", team.admin, body=body)
        assert refused.status == 422, (body, refused.body)
        assert fragment in (refused.body or ""), (body, refused.body)
    assert api.patch(f"/batches/{batch_id}", team.annotator, body={"processing_priority": 9}).status == 403
    assert _audit_rows(engine, "BATCH_UPDATED") == []

    edited = api.patch(
        f"/batches/{batch_id}",
        team.admin,
        body={"batch_name": "after", "description": "NICU week 3", "processing_priority": 9,
              "due_date": due.isoformat()},
    )  # fmt: skip
    assert edited.status == 200, edited.body
    assert edited.json["batch_name"] == "after"
    assert edited.json["processing_priority"] == 9
    assert dt.datetime.fromisoformat(edited.json["due_date"]) == due
    [(resource_id, old, new)] = _audit_rows(engine, "BATCH_UPDATED")
    assert resource_id == batch_id
    assert old == {"batch_name": "before", "description": None, "processing_priority": 5, "due_date": None}
    assert new["batch_name"] == "after"
    assert new["processing_priority"] == 9

    # The batch's due date is the default of the assignments made for it
    assignment = _assign(api, team, batch_id)
    assert dt.datetime.fromisoformat(assignment["due_date"]) == due
    assert assignment["priority"] == 5  # an admin's explicit assignment keeps its own priority


def test_the_higher_priority_batch_is_auto_assigned_first_after_an_edit(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:  # one annotator with room for one batch
        session.execute(sa.text("UPDATE users SET max_concurrent_batches = 0 WHERE role = 'ANNOTATOR'"))
        session.execute(
            sa.text("UPDATE users SET max_concurrent_batches = 1 WHERE id = :id"),
            {"id": team.annotator.user_id},
        )
        session.commit()
    older, newer = ready_batch(1, priority=5), ready_batch(1, priority=5)
    assert api.patch(f"/batches/{newer}", team.admin, body={"processing_priority": 8}).status == 200
    result = api.post("/auto-assignments", team.admin).json
    assert [a["batch_id"] for a in result["assigned"]] == [newer]
    assert result["waiting_batches"] == [older]


# ------------------------------------------------------------------ unassign, reassign, deactivate


def test_reassigning_moves_the_work_and_its_drafts_and_the_old_holder_loses_access(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], engine: sa.Engine
) -> None:
    batch_id = ready_batch(2)
    assignment = _assign(api, team, batch_id)
    ann, bea = team.annotator, team.other_annotator
    assert api.post(f"/assignments/{assignment['id']}/start", ann).status == 200
    work = api.get(f"/assignments/{assignment['id']}/next-image", ann).json["item"]
    image_id = work["image_id"]
    draft = api.put(
        f"/images/{image_id}/annotation", ann, body={"keypoints": moved(work["yolo_keypoints"], 7)}
    )
    assert draft.status == 200

    # Refusals first: nothing changes
    assert (
        api.post(f"/assignments/{assignment['id']}/reassign", ann, body={"annotator_id": bea.user_id}).status
        == 403
    )
    same = api.post(
        f"/assignments/{assignment['id']}/reassign", team.admin, body={"annotator_id": ann.user_id}
    )
    assert same.status == 409
    verifier = api.post(
        f"/assignments/{assignment['id']}/reassign", team.admin, body={"annotator_id": team.verifier.user_id}
    )
    assert verifier.status == 409
    assert "only annotators" in verifier.json["detail"]
    assert (
        api.post("/assignments/999999/reassign", team.admin, body={"annotator_id": bea.user_id}).status == 404
    )

    moved_ = api.post(
        f"/assignments/{assignment['id']}/reassign", team.admin, body={"annotator_id": bea.user_id}
    )
    assert moved_.status == 200, moved_.body
    assert moved_.json == {
        "assignment_id": assignment["id"], "from_annotator_id": ann.user_id, "to": "annotator",
        "annotator_id": bea.user_id, "now_in_assignment_id": assignment["id"], "images_moved": 2, "drafts_kept": 1,
    }  # fmt: skip

    # The old holder sees nothing any more; the new one goes on from the draft
    assert api.get(f"/images/{image_id}/annotations", ann).status == 404
    assert (
        api.put(f"/images/{image_id}/annotation", ann, body={"keypoints": work["yolo_keypoints"]}).status
        == 404
    )
    assert api.get(f"/assignments/{assignment['id']}", ann).status == 404
    item = api.get(f"/assignments/{assignment['id']}/next-image", bea).json["item"]
    assert item["image_id"] == image_id
    assert item["annotation"]["id"] == draft.json["id"]
    [(resource_id, old, new)] = _audit_rows(engine, "ASSIGNMENT_REASSIGNED")
    assert resource_id == assignment["id"]
    assert old == {"annotator_id": ann.user_id}
    assert new["annotator_id"] == bea.user_id


def test_work_already_handed_in_stays_with_its_author_when_the_rest_moves(
    api: ApiClient, team: Team, ready_batch: Callable[..., int]
) -> None:
    batch_id = ready_batch(2)
    assignment = _assign(api, team, batch_id)
    ann, bea = team.annotator, team.other_annotator
    assert api.post(f"/assignments/{assignment['id']}/start", ann).status == 200
    done = _submit_next(api, ann, assignment["id"])

    moved_ = api.post(
        f"/assignments/{assignment['id']}/reassign", team.admin, body={"annotator_id": bea.user_id}
    )
    assert moved_.status == 200, moved_.body
    new_id = moved_.json["now_in_assignment_id"]
    assert new_id != assignment["id"]
    assert moved_.json["images_moved"] == 1

    old = api.get(f"/assignments/{assignment['id']}", team.admin).json
    assert (old["annotator_id"], old["status"], old["images_total"], old["images_completed"]) == (
        ann.user_id, "SUBMITTED", 1, 1,
    )  # fmt: skip
    new = api.get(f"/assignments/{new_id}", team.admin).json
    assert (new["annotator_id"], new["status"], new["images_total"]) == (bea.user_id, "ASSIGNED", 1)
    # The submitted annotation is still ann's: the verifier sees it as ann's work, bea cannot verify-claim it
    versions = api.get(f"/images/{done}/annotations", team.admin).json
    assert versions[0]["batch_assignment_id"] == assignment["id"]


def test_unassigned_work_waits_in_the_pool_until_auto_assignment_hands_it_out(
    api: ApiClient, team: Team, ready_batch: Callable[..., int]
) -> None:
    batch_id = ready_batch(1)
    assignment = _assign(api, team, batch_id)
    pooled = api.post(f"/assignments/{assignment['id']}/unassign", team.admin)
    assert pooled.status == 200, pooled.body
    assert pooled.json["to"] == "pool"
    assert pooled.json["annotator_id"] is None
    assert api.post(f"/assignments/{assignment['id']}/unassign", team.admin).status == 409  # already pooled
    assert api.get(f"/assignments/{assignment['id']}", team.annotator).status == 404
    listed = api.get("/assignments", team.admin, query={"in_pool": "true"}).json["items"]
    assert [(a["id"], a["in_pool"]) for a in listed] == [(assignment["id"], True)]

    handed = api.post("/auto-assignments", team.admin).json["from_pool"]
    assert [h["assignment_id"] for h in handed] == [assignment["id"]]
    assert handed[0]["annotator_id"] in (team.annotator.user_id, team.other_annotator.user_id)
    assert api.get("/assignments", team.admin, query={"in_pool": "true"}).json["items"] == []


def test_deactivating_an_annotator_hands_their_open_work_on_and_says_where(
    api: ApiClient,
    team: Team,
    ready_batch: Callable[..., int],
    session_factory: sessionmaker[Session],
    engine: sa.Engine,
) -> None:
    first, second = ready_batch(1, priority=9), ready_batch(1, priority=3)
    a1, a2 = _assign(api, team, first), _assign(api, team, second)
    with session_factory() as session:  # bea has room for one more batch only
        session.execute(
            sa.text("UPDATE users SET max_concurrent_batches = 1 WHERE id = :id"),
            {"id": team.other_annotator.user_id},
        )
        session.commit()

    response = api.post(f"/users/{team.annotator.user_id}/deactivate", team.admin)
    assert response.status == 200, response.body
    assert response.json["is_active"] is False
    where = {h["assignment_id"]: (h["to"], h["annotator_id"]) for h in response.json["handed_over"]}
    # the higher priority batch's assignment goes to bea, the other waits in the pool
    assert where == {a1["id"]: ("annotator", team.other_annotator.user_id), a2["id"]: ("pool", None)}
    assert len(_audit_rows(engine, "ASSIGNMENT_REASSIGNED")) == 1
    assert len(_audit_rows(engine, "ASSIGNMENT_UNASSIGNED")) == 1
    assert len(_audit_rows(engine, "USER_DEACTIVATED")) == 1


# ------------------------------------------------------------------ claims are leases


def _submitted_images(api: ApiClient, team: Team, ready_batch: Callable[..., int], n: int) -> list[int]:
    assignment = _assign(api, team, ready_batch(n))
    assert api.post(f"/assignments/{assignment['id']}/start", team.annotator).status == 200
    return [_submit_next(api, team.annotator, assignment["id"]) for _ in range(n)]


def _age_claim(session_factory: sessionmaker[Session], image_id: int, minutes: int) -> None:
    """The holder's tab died `minutes` ago: the only way to let time pass in a test."""
    with session_factory() as session:
        session.execute(
            sa.update(Image)
            .where(Image.id == image_id)
            .values(verifier_claimed_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes))
        )
        session.commit()


def test_an_idle_claim_expires_to_someone_else_and_a_live_one_comes_back_to_its_holder(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], session_factory: sessionmaker[Session]
) -> None:
    images = _submitted_images(api, team, ready_batch, 2)
    ver, vera = team.verifier, team.second_verifier
    first = api.post("/verifications/next", ver).json["item"]
    # The holder returns (a new tab): their own claim comes back first, not a new image
    again = api.post("/verifications/next", ver).json["item"]
    assert again["image_id"] == first["image_id"]
    # Another verifier gets the other image, not the held one
    other = api.post("/verifications/next", vera).json["item"]
    assert other["image_id"] != first["image_id"]
    assert {other["image_id"], first["image_id"]} == set(images)

    # ver renews, so an idle time of 29 minutes is still a live claim
    assert api.post(f"/claims/{first['image_id']}/renew", ver).status == 200
    assert api.post(f"/claims/{first['image_id']}/renew", vera).status == 409  # not theirs
    _age_claim(session_factory, first["image_id"], 29)
    assert api.post("/verifications/next", vera).json["item"]["image_id"] == other["image_id"]  # her own
    _age_claim(session_factory, first["image_id"], 31)  # the default idle time is 30 minutes
    assert api.post(f"/annotations/{other['annotation']['id']}/release", vera).status == 200
    taken = api.post("/verifications/next", vera).json["item"]
    # vera gets the lapsed claim before the released (older status change is not the point: it lapsed)
    assert taken["image_id"] in (first["image_id"], other["image_id"])
    lapsed_taken = taken["image_id"] == first["image_id"]
    if not lapsed_taken:  # she took the released one; the lapsed one is the next
        taken = api.post("/verifications/next", vera).json["item"]
        assert taken["image_id"] == first["image_id"]
    # ver comes back too late: the claim is vera's
    late = api.post(
        f"/annotations/{first['annotation']['id']}/verifications",
        ver,
        body={**SCORES, "decision": "APPROVED"},
    )
    assert late.status == 409
    decided = api.post(
        f"/annotations/{first['annotation']['id']}/verifications",
        vera,
        body={**SCORES, "decision": "APPROVED"},
    )
    assert decided.status == 201, decided.body


def test_the_holder_of_a_lapsed_claim_keeps_it_while_nobody_took_it(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], session_factory: sessionmaker[Session]
) -> None:
    [image_id] = _submitted_images(api, team, ready_batch, 1)
    item = api.post("/verifications/next", team.verifier).json["item"]
    _age_claim(session_factory, image_id, 120)
    decided = api.post(
        f"/annotations/{item['annotation']['id']}/verifications",
        team.verifier,
        body={**SCORES, "decision": "APPROVED"},
    )
    assert decided.status == 201, decided.body


def test_an_admin_lists_open_claims_and_releases_any(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], session_factory: sessionmaker[Session]
) -> None:
    images = _submitted_images(api, team, ready_batch, 2)
    held = api.post("/verifications/next", team.verifier).json["item"]
    api.post("/verifications/next", team.second_verifier)
    _age_claim(session_factory, held["image_id"], 45)
    assert api.get("/claims", team.verifier).status == 403
    claims = {c["image_id"]: c for c in api.get("/claims", team.admin).json["items"]}
    assert set(claims) == set(images)
    assert claims[held["image_id"]]["expired"] is True
    assert claims[held["image_id"]]["verifier_id"] == team.verifier.user_id
    assert [c["expired"] for i, c in claims.items() if i != held["image_id"]] == [False]

    released = api.post(f"/claims/{held['image_id']}/release", team.admin)
    assert released.status == 200, released.body
    assert api.post(f"/claims/{held['image_id']}/release", team.admin).status == 404  # no claim any more
    assert held["image_id"] not in {c["image_id"] for c in api.get("/claims", team.admin).json["items"]}
    # back in the queue, for anyone
    assert api.post("/verifications/next", team.admin).json["item"]["image_id"] == held["image_id"]
    # the old holder's decision is refused: the claim is gone
    late = api.post(
        f"/annotations/{held['annotation']['id']}/verifications",
        team.verifier,
        body={**SCORES, "decision": "APPROVED"},
    )
    assert late.status == 409


# ------------------------------------------------------------------ flagging an image as unusable


def test_a_flagged_image_waits_for_a_decision_and_an_accepted_flag_lets_the_batch_complete(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], engine: sa.Engine
) -> None:
    batch_id = ready_batch(2)
    assignment = _assign(api, team, batch_id)
    ann = team.annotator
    assert api.post(f"/assignments/{assignment['id']}/start", ann).status == 200
    work = api.get(f"/assignments/{assignment['id']}/next-image", ann).json["item"]
    image_id = work["image_id"]

    bad = api.post(f"/images/{image_id}/flag-unusable", ann, body={"reason": "OTHER"})
    assert bad.status == 422
    assert "text" in (bad.body or "")
    assert api.post(f"/images/{image_id}/flag-unusable", ann, body={"reason": "BLURRY"}).status == 422
    assert api.post(f"/images/{image_id}/flag-unusable", team.other_annotator,
                    body={"reason": "BODY_OUT_OF_FRAME"}).status == 404  # fmt: skip

    flagged = api.post(
        f"/images/{image_id}/flag-unusable", ann, body={"reason": "BODY_OUT_OF_FRAME", "text": "legs cut off"}
    )
    assert flagged.status == 200, flagged.body
    assert flagged.json["status"] == "SUBMITTED"
    assert flagged.json["quality_issues"] == ["body_out_of_frame"]
    assert flagged.json["has_quality_issues"]
    assert flagged.json["has_annotation_issues"]
    assert api.post(f"/images/{image_id}/flag-unusable", ann, body={"reason": "OCCLUDED"}).status == 409

    # It is not in the review queue (no keypoints to review) but in the flags list
    other = _submit_next(api, ann, assignment["id"])
    assert api.get(f"/assignments/{assignment['id']}", ann).json["status"] == "SUBMITTED"  # the flag counts
    item = api.post("/verifications/next", team.verifier).json["item"]
    assert item["image_id"] == other
    assert api.post("/verifications/next", team.second_verifier).json["item"] is None
    assert api.get("/flags", ann).status == 403
    assert [f["image_id"] for f in api.get("/flags", team.verifier).json["items"]] == [image_id]

    assert api.post(f"/images/{image_id}/flag-decision", team.verifier, body={"accept": False}).status == 422
    accepted = api.post(f"/images/{image_id}/flag-decision", team.second_verifier, body={"accept": True})
    assert accepted.status == 200, accepted.body
    assert accepted.json["status"] == "REJECTED"
    assert accepted.json["decision"] == "ACCEPTED"
    assert api.get("/flags", team.verifier).json["items"] == []
    assert api.post(f"/images/{image_id}/flag-decision", team.verifier, body={"accept": True}).status == 409

    decided = api.post(
        f"/annotations/{item['annotation']['id']}/verifications",
        team.verifier,
        body={**SCORES, "decision": "APPROVED"},
    )
    assert decided.status == 201
    batch = api.get(f"/batches/{batch_id}", team.admin).json
    assert (batch["status"], batch["approved_count"], batch["rejected_count"], batch["completed_count"]) == (
        "COMPLETED", 1, 1, 2,
    )  # fmt: skip
    assert len(_audit_rows(engine, "IMAGE_FLAGGED_UNUSABLE")) == 1
    assert len(_audit_rows(engine, "UNUSABLE_FLAG_ACCEPTED")) == 1


def test_a_flag_sent_back_returns_the_image_to_its_annotator_with_the_note_and_the_draft(
    api: ApiClient, team: Team, ready_batch: Callable[..., int]
) -> None:
    batch_id = ready_batch(1)
    assignment = _assign(api, team, batch_id)
    ann = team.annotator
    assert api.post(f"/assignments/{assignment['id']}/start", ann).status == 200
    work = api.get(f"/assignments/{assignment['id']}/next-image", ann).json["item"]
    image_id = work["image_id"]
    draft = api.put(
        f"/images/{image_id}/annotation", ann, body={"keypoints": moved(work["yolo_keypoints"], 3)}
    )
    assert draft.status == 200
    assert (
        api.post(f"/images/{image_id}/flag-unusable", ann, body={"reason": "KEYPOINT_NOT_PLACEABLE"}).status
        == 200
    )

    back = api.post(
        f"/images/{image_id}/flag-decision",
        team.admin,
        body={"accept": False, "note": "the left wrist is visible"},
    )
    assert back.status == 200, back.body
    assert back.json["status"] == "REQUIRES_REVISION"
    assert back.json["decision"] == "SENT_BACK"
    revisions = api.get("/assignments", ann, query={"assignment_type": "REVISION"}).json["items"]
    assert len(revisions) == 1
    assert "left wrist" in revisions[0]["special_instructions"]
    assert api.post(f"/assignments/{revisions[0]['id']}/start", ann).status == 200
    item = api.get(f"/assignments/{revisions[0]['id']}/next-image", ann).json["item"]
    assert item["image_id"] == image_id
    assert item["annotation"]["id"] == draft.json["id"]  # the draft left before flagging
    assert api.get(f"/assignments/{assignment['id']}", team.admin).json["status"] in (
        "SUBMITTED",
        "COMPLETED",
    )


def test_an_annotator_who_is_not_the_holder_cannot_flag(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], session_factory: sessionmaker[Session]
) -> None:
    batch_id = ready_batch(1)
    assignment = _assign(api, team, batch_id)
    work = api.get(f"/assignments/{assignment['id']}/next-image", team.annotator).json["item"]
    not_started = api.post(
        f"/images/{work['image_id']}/flag-unusable", team.annotator, body={"reason": "OCCLUDED"}
    )
    assert not_started.status == 409
    assert "start assignment" in not_started.json["detail"]
    stranger = make_user(session_factory, Role.ANNOTATOR, name="carl")
    assert (
        api.post(f"/images/{work['image_id']}/flag-unusable", stranger, body={"reason": "OCCLUDED"}).status
        == 404
    )
