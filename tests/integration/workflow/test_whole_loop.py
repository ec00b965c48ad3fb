"""One batch through the whole human loop, checking every status, counter, version and audit row."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from cradlepose.domain.enums import BatchStatus
from cradlepose.domain.events import BatchStatusChanged, Event
from tests.integration.workflow.conftest import Team, etag, moved
from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration

SCORES = {"overall_quality_score": 8, "verification_time_seconds": 40, "certainty_level": 9}


def _annotate_all(api: ApiClient, who: Persona, assignment_id: int, dx: float = 3.0) -> list[int]:
    """Annotate every image of the assignment: a draft, a second save, then submit. Returns image ids."""
    done: list[int] = []
    while True:
        response = api.get(f"/assignments/{assignment_id}/next-image", who)
        assert response.status == 200, response.body
        work = response.json["item"]
        if work is None:
            return done
        start_from = work["annotation"]["refined_keypoints"] if work["annotation"] else work["yolo_keypoints"]
        body = {"keypoints": moved(start_from, dx), "time_spent_seconds": 30, "difficulty_rating": "MEDIUM"}
        if work["annotation"]:
            draft = api.put(f"/images/{work['image_id']}/annotation", who, body=body,
                            headers={"If-Match": f'"{work["annotation"]["row_version"]}"'})  # fmt: skip
        else:
            draft = api.put(f"/images/{work['image_id']}/annotation", who, body=body)
        assert draft.status == 200, draft.body
        again = api.put(f"/images/{work['image_id']}/annotation", who, body={**body, "time_spent_seconds": 45},
                        headers=etag(draft))  # fmt: skip
        assert again.status == 200, again.body
        assert again.json["row_version"] == draft.json["row_version"] + 1
        submitted = api.post(f"/images/{work['image_id']}/annotation/submit", who, headers=etag(again))
        assert submitted.status == 200, submitted.body
        assert submitted.json["status"] == "SUBMITTED"
        done.append(work["image_id"])


def _claim(api: ApiClient, who: Persona, queue: str = "submitted") -> dict[str, Any]:
    response = api.post("/verifications/next", who, query={"queue": queue})
    assert response.status == 200, response.body
    assert response.json["item"] is not None, f"the {queue} queue is empty"
    return dict(response.json["item"])


def _decide(api: ApiClient, who: Persona, annotation_id: int, **decision: Any) -> dict[str, Any]:
    response = api.post(f"/annotations/{annotation_id}/verifications", who, body={**SCORES, **decision})
    assert response.status == 201, response.body
    return dict(response.json)


def _batch(api: ApiClient, admin: Persona, batch_id: int) -> dict[str, Any]:
    return dict(api.get(f"/batches/{batch_id}", admin).json)


def test_assign_annotate_verify_revise_second_opinion_complete(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], engine: sa.Engine, published: list[Event]
) -> None:
    batch_id = ready_batch(6)
    admin, ann, other, ver, ver2 = (
        team.admin,
        team.annotator,
        team.other_annotator,
        team.verifier,
        team.second_verifier,
    )

    # --- assignment
    assigned = api.post(f"/batches/{batch_id}/assignments", admin,
                        body={"annotator_id": ann.user_id, "priority": 7, "due_date": "2099-01-01T12:00:00Z",
                              "special_instructions": "watch the wrists"})  # fmt: skip
    assert assigned.status == 201, assigned.body
    assignment = assigned.json
    assert assignment["images_total"] == 6
    assert assignment["assignment_type"] == "INITIAL"
    assert _batch(api, admin, batch_id)["status"] == "ASSIGNED"
    assert _batch(api, admin, batch_id)["assigned_count"] == 6

    assert api.post(f"/assignments/{assignment['id']}/acknowledge", ann).json["status"] == "ACKNOWLEDGED"
    assert api.post(f"/assignments/{assignment['id']}/start", ann).json["status"] == "IN_PROGRESS"
    assert _batch(api, admin, batch_id)["status"] == "IN_PROGRESS"
    assert api.post(f"/assignments/{assignment['id']}/pause", ann).json["is_paused"] is True
    assert api.post(f"/assignments/{assignment['id']}/resume", ann).json["pause_count"] == 1

    # --- annotation: every image drafted twice and submitted
    images = _annotate_all(api, ann, assignment["id"])
    assert len(images) == 6
    after = api.get(f"/assignments/{assignment['id']}", ann).json
    assert after["status"] == "SUBMITTED"
    assert after["images_completed"] == 6
    assert after["progress_percentage"] == 100.0

    # --- verification: the five decisions and a second opinion
    decisions: dict[str, dict[str, Any]] = {
        "approved": {"decision": "APPROVED"},
        "corrected": {"decision": "APPROVED_WITH_CORRECTIONS", "correction_summary": "left wrist lower",
                      "corrected_keypoints": None},
        "minor": {"decision": "MINOR_REVISION_NEEDED", "feedback_to_annotator": "the right knee is off",
                  "problematic_keypoints": [14]},
        "rejected_redo": {"decision": "REJECTED", "rejection_reason": "INCORRECT_KEYPOINTS", "can_be_reannotated": True},
        "rejected_final": {"decision": "REJECTED", "rejection_reason": "POOR_IMAGE_QUALITY", "can_be_reannotated": False},
        "second": {"decision": "APPROVED", "requires_second_opinion": True},
    }  # fmt: skip
    outcome: dict[str, dict[str, Any]] = {}
    for label, decision in decisions.items():
        item = _claim(api, ver)
        annotation = item["annotation"]
        assert item["yolo_keypoints"] is not None
        assert len(item["displacement"]) == 17
        assert all(d["pixels"] == pytest.approx(3.0) for d in item["displacement"])
        body: dict[str, Any] = dict(decision)
        if label == "corrected":
            body["corrected_keypoints"] = moved(annotation["refined_keypoints"], 1.0, {9})
        outcome[label] = {"annotation": annotation, "result": _decide(api, ver, annotation["id"], **body)}
    assert api.post("/verifications/next", ver).json["item"] is None  # nothing left

    approved = outcome["approved"]["result"]
    assert approved["image_status"] == "APPROVED"
    corrected = outcome["corrected"]["result"]
    assert corrected["image_status"] == "APPROVED"
    assert corrected["new_annotation_id"] is not None
    minor = outcome["minor"]["result"]
    assert minor["image_status"] == "REQUIRES_REVISION"
    redo = outcome["rejected_redo"]["result"]
    assert redo["image_status"] == "ASSIGNED"
    assert outcome["rejected_final"]["result"]["image_status"] == "REJECTED"
    second = outcome["second"]["result"]
    assert second["verification"]["is_final_decision"] is False
    assert second["image_status"] == "UNDER_REVIEW"

    # The corrected version: a new APPROVED version pointing at the original
    corrected_image = outcome["corrected"]["annotation"]["image_id"]
    history = api.get(f"/images/{corrected_image}/annotations", admin).json
    assert [(a["version"], a["status"], a["is_revision"]) for a in history] == [
        (1, "APPROVED", False),
        (2, "APPROVED", True),
    ]
    assert history[1]["original_annotation_id"] == history[0]["id"]

    # --- the verifier cannot take the second opinion; another verifier can
    assert api.post("/verifications/next", ver, query={"queue": "second_opinion"}).json["item"] is None
    second_item = _claim(api, ver2, "second_opinion")
    final = _decide(api, ver2, second_item["annotation"]["id"], decision="APPROVED")
    assert final["verification"]["is_final_decision"] is True
    assert final["image_status"] == "APPROVED"

    # --- the minor revision goes back to the author as a REVISION assignment
    revision_id = minor["assignment_id"]
    revision = api.get(f"/assignments/{revision_id}", ann).json
    assert revision["assignment_type"] == "REVISION"
    assert revision["images_total"] == 1
    assert "right knee" in revision["special_instructions"]
    api.post(f"/assignments/{revision_id}/start", ann)
    work = api.get(f"/assignments/{revision_id}/next-image", ann).json["item"]
    assert work["revision"]["problematic_keypoints"] == [14]
    assert work["revision"]["feedback_to_annotator"] == "the right knee is off"
    assert _annotate_all(api, ann, revision_id, dx=-1.0) == [outcome["minor"]["annotation"]["image_id"]]
    revised = _claim(api, ver)
    assert revised["annotation"]["version"] == 2
    assert revised["annotation"]["is_revision"] is True
    _decide(api, ver, revised["annotation"]["id"], decision="APPROVED")

    # --- the rejected-but-redoable image is re-annotated by another annotator
    redo_assignment = api.get(f"/assignments/{redo['assignment_id']}", admin).json
    assert redo_assignment["annotator_id"] == other.user_id
    assert redo_assignment["assignment_type"] == "INITIAL"
    api.post(f"/assignments/{redo['assignment_id']}/start", other)
    assert len(_annotate_all(api, other, redo["assignment_id"])) == 1
    redone = _claim(api, ver)
    _decide(api, ver, redone["annotation"]["id"], decision="APPROVED")

    # --- everything has a final outcome: the batch and its assignments are COMPLETED
    batch = _batch(api, admin, batch_id)
    assert batch["status"] == "COMPLETED"
    assert (batch["approved_count"], batch["rejected_count"], batch["completed_count"]) == (5, 1, 6)
    for assignment_id in (assignment["id"], revision_id, redo["assignment_id"]):
        assert api.get(f"/assignments/{assignment_id}", admin).json["status"] == "COMPLETED"

    changes = [e.status for e in published if isinstance(e, BatchStatusChanged) and e.batch_id == batch_id]
    assert changes == [BatchStatus.ASSIGNED, BatchStatus.IN_PROGRESS, BatchStatus.COMPLETED]

    with engine.connect() as conn:
        actions = set(conn.scalars(sa.text("SELECT action FROM audit_logs WHERE status = 'SUCCESS'")))
        on_annotations = set(
            conn.execute(
                sa.text(
                    "SELECT action, CAST(action_category AS text) FROM audit_logs "
                    "WHERE resource_type = 'Annotation' AND status = 'SUCCESS'"
                )
            ).tuples()
        )
        verifier_stats = conn.execute(
            sa.text("SELECT total_verifications_completed FROM users WHERE id = :id"), {"id": ver.user_id}
        ).scalar_one()
        author = conn.execute(
            sa.text("SELECT accuracy_score, total_annotations_completed FROM users WHERE id = :id"),
            {"id": ann.user_id},
        ).one()
    assert {
        "BATCH_ASSIGNED", "ASSIGNMENT_ACKNOWLEDGED", "ASSIGNMENT_STARTED", "ASSIGNMENT_PAUSED", "ASSIGNMENT_RESUMED",
        "ANNOTATION_DRAFT_CREATED", "ANNOTATION_DRAFT_SAVED", "ANNOTATION_SUBMITTED", "VERIFICATION_CLAIMED",
        "VERIFICATION_APPROVED", "VERIFICATION_APPROVED_WITH_CORRECTIONS", "VERIFICATION_MINOR_REVISION_NEEDED",
        "VERIFICATION_REJECTED", "VERIFICATION_PENDING", "ANNOTATION_CORRECTED_BY_VERIFIER",
        "REVISION_ASSIGNMENT_CREATED", "INITIAL_ASSIGNMENT_CREATED", "BATCH_COMPLETED", "BATCH_IN_PROGRESS",
    } <= actions  # fmt: skip
    # Annotating and verifying audit the same annotation context, each under its own category
    assert {
        ("ANNOTATION_SUBMITTED", "ANNOTATION"),
        ("VERIFICATION_APPROVED", "VERIFICATION"),
    } <= on_annotations
    assert (
        verifier_stats == 7
    )  # six first decisions, the revised one and the redone one, minus the pending one
    assert author.total_annotations_completed == 5
    assert 0 < author.accuracy_score < 1


def test_a_repeated_major_revision_goes_to_another_annotator(
    api: ApiClient, team: Team, ready_batch: Callable[..., int]
) -> None:
    batch_id = ready_batch(1)
    ann, other, ver = team.annotator, team.other_annotator, team.verifier
    assignment = api.post(
        f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": ann.user_id}
    ).json
    api.post(f"/assignments/{assignment['id']}/start", ann)
    _annotate_all(api, ann, assignment["id"])
    major = {"decision": "MAJOR_REVISION_NEEDED", "feedback_to_annotator": "the whole left side is wrong"}

    first = _decide(api, ver, _claim(api, ver)["annotation"]["id"], **major)
    first_revision = api.get(f"/assignments/{first['assignment_id']}", team.admin).json
    assert first_revision["annotator_id"] == ann.user_id  # the first major revision: the author again

    api.post(f"/assignments/{first['assignment_id']}/start", ann)
    _annotate_all(api, ann, first["assignment_id"])
    second = _decide(api, ver, _claim(api, ver)["annotation"]["id"], **major)
    second_revision = api.get(f"/assignments/{second['assignment_id']}", team.admin).json
    assert second_revision["annotator_id"] == other.user_id  # a second one: fresh eyes
    api.post(f"/assignments/{second['assignment_id']}/start", other)
    _annotate_all(api, other, second["assignment_id"])
    third = _claim(api, ver)
    assert third["annotation"]["version"] == 3
    _decide(api, ver, third["annotation"]["id"], decision="APPROVED")
    assert _batch(api, team.admin, batch_id)["status"] == "COMPLETED"


def test_escalations_wait_for_an_admin(api: ApiClient, team: Team, ready_batch: Callable[..., int]) -> None:
    batch_id = ready_batch(1)
    assignment = api.post(
        f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": team.annotator.user_id}
    ).json
    api.post(f"/assignments/{assignment['id']}/start", team.annotator)
    _annotate_all(api, team.annotator, assignment["id"])
    item = _claim(api, team.verifier)
    pending = _decide(api, team.verifier, item["annotation"]["id"], decision="APPROVED", escalated_to_admin=True,
                      requires_specialist_input=True)  # fmt: skip
    assert pending["verification"]["is_final_decision"] is False
    assert api.get(f"/images/{item['image_id']}", team.admin).json["requires_specialist_review"] is True
    assert api.post("/verifications/next", team.verifier, query={"queue": "escalated"}).status == 403

    escalated = _claim(api, team.admin, "escalated")
    decided = _decide(api, team.admin, escalated["annotation"]["id"], decision="REJECTED",
                      rejection_reason="ANATOMICAL_ERRORS", can_be_reannotated=False)  # fmt: skip
    assert decided["image_status"] == "REJECTED"
    assert api.get(f"/images/{item['image_id']}", team.admin).json["requires_specialist_review"] is False
    assert _batch(api, team.admin, batch_id)["status"] == "COMPLETED"


def test_decisions_are_counted_for_the_dashboard(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    """The API emits `Verifications` per decision and `Approvals` per approving one (EMF on stdout)."""
    batch_id = ready_batch(2)
    assignment = api.post(
        f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": team.annotator.user_id}
    ).json
    api.post(f"/assignments/{assignment['id']}/start", team.annotator)
    _annotate_all(api, team.annotator, assignment["id"])
    capsys.readouterr()  # what came before

    _decide(api, team.verifier, _claim(api, team.verifier)["annotation"]["id"], decision="APPROVED")
    _decide(api, team.verifier, _claim(api, team.verifier)["annotation"]["id"], decision="MAJOR_REVISION_NEEDED",
            feedback_to_annotator="the hips are swapped")  # fmt: skip

    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    counted = {"Verifications": 0.0, "Approvals": 0.0}
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "Cradle"
            for metric in directive["Metrics"]:
                if metric["Name"] in counted:
                    assert document["service"] == "cradle-api"
                    values = document[metric["Name"]]
                    counted[metric["Name"]] += sum(values) if isinstance(values, list) else values
    assert counted == {"Verifications": 2, "Approvals": 1}
