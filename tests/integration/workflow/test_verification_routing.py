"""Verification uses expertise and rules, over HTTP: a verifier with the batch's expertise gets its
items first; difficult cases and annotation issues are flagged by rule and shown; a second opinion
(asked or required by rule) becomes a SECOND_OPINION assignment to another verifier; gold images
set the batch's quality_check_passed and produce QUALITY_CHECK assignments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cradlepose.domain.enums import Role
from tests.integration.workflow.conftest import Team, etag, moved
from tests.support import ApiClient, Persona, make_user

pytestmark = pytest.mark.integration

SCORES = {"overall_quality_score": 8, "verification_time_seconds": 40, "certainty_level": 9}


def _assign_and_annotate(
    api: ApiClient, team: Team, batch_id: int, dx: float = 2.0, difficulty: str = "MEDIUM"
) -> list[int]:
    created = api.post(
        f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": team.annotator.user_id}
    )
    assert created.status == 201, created.body
    assignment_id = created.json["id"]
    assert api.post(f"/assignments/{assignment_id}/start", team.annotator).status == 200
    done = []
    while (
        item := api.get(f"/assignments/{assignment_id}/next-image", team.annotator).json["item"]
    ) is not None:
        body = {
            "keypoints": moved(item["yolo_keypoints"], dx),
            "time_spent_seconds": 30,
            "difficulty_rating": difficulty,
        }
        draft = api.put(f"/images/{item['image_id']}/annotation", team.annotator, body=body)
        assert draft.status == 200, draft.body
        submitted = api.post(
            f"/images/{item['image_id']}/annotation/submit", team.annotator, headers=etag(draft)
        )
        assert submitted.status == 200, submitted.body
        done.append(item["image_id"])
    return done


def _claim(api: ApiClient, who: Persona, queue: str = "submitted") -> dict[str, Any] | None:
    response = api.post("/verifications/next", who, query={"queue": queue})
    assert response.status == 200, response.body
    item: dict[str, Any] | None = response.json["item"]
    return item


def _decide(api: ApiClient, who: Persona, annotation_id: int, **decision: Any) -> dict[str, Any]:
    response = api.post(f"/annotations/{annotation_id}/verifications", who, body={**SCORES, **decision})
    assert response.status == 201, response.body
    return dict(response.json)


def _expertise(api: ApiClient, team: Team, who: Persona, expertise: str) -> None:
    response = api.patch(f"/users/{who.user_id}", team.admin, body={"verification_expertise": expertise})
    assert response.status == 200, response.body


def _assignments(api: ApiClient, team: Team, **query: Any) -> list[dict[str, Any]]:
    return list(api.get("/assignments", team.admin, query=query).json["items"])


def test_a_verifier_with_the_batchs_expertise_gets_its_items_first(
    api: ApiClient, team: Team, ready_batch: Callable[..., int]
) -> None:
    urgent = ready_batch(1, name="urgent", priority=9)
    neuro = ready_batch(1, name="neuro", priority=3, metadata={"verification_expertise": "neurology"})
    [urgent_image] = _assign_and_annotate(api, team, urgent)
    [neuro_image] = _assign_and_annotate(api, team, neuro)
    _expertise(api, team, team.second_verifier, "neurology")

    # Batch priority alone would give the neurologist the urgent batch first.
    specialist = _claim(api, team.second_verifier)
    assert specialist is not None
    assert (specialist["image_id"], specialist["needed_expertise"]) == (neuro_image, "neurology")
    generalist = _claim(api, team.verifier)
    assert generalist is not None
    assert (generalist["image_id"], generalist["needed_expertise"]) == (urgent_image, None)


def test_an_item_needing_an_expertise_still_reaches_a_verifier_without_it(
    api: ApiClient, team: Team, ready_batch: Callable[..., int]
) -> None:
    neuro = ready_batch(1, name="neuro", metadata={"verification_expertise": "neurology"})
    [image_id] = _assign_and_annotate(api, team, neuro)
    item = _claim(api, team.verifier)  # nobody has the expertise: preferred, never blocked
    assert item is not None
    assert item["image_id"] == image_id


def test_difficult_cases_get_a_second_opinion_by_rule_from_another_verifier(
    api: ApiClient, team: Team, ready_batch: Callable[..., int]
) -> None:
    batch_id = ready_batch(2)
    first_image, second_image = _assign_and_annotate(api, team, batch_id, difficulty="VERY_HARD")

    item = _claim(api, team.verifier)
    assert item is not None
    assert item["is_difficult_case"] is True  # the annotator rated it VERY_HARD
    assert item["has_annotation_issues"] is False
    assert item["needed_expertise"] == "*"
    unsure = _decide(api, team.verifier, item["annotation"]["id"], decision="APPROVED", certainty_level=2)
    assert unsure["second_opinion_by_rule"] is True
    assert unsure["verification"]["is_final_decision"] is False
    assert unsure["verification"]["requires_second_opinion"] is True
    assert unsure["image_status"] == "UNDER_REVIEW"
    [second] = _assignments(api, team, assignment_type="SECOND_OPINION", batch_id=batch_id)
    assert second["id"] == unsure["second_opinion_assignment_id"]
    assert (second["annotator_id"], second["image_id"], second["status"]) == (
        team.second_verifier.user_id,
        item["image_id"],
        "ASSIGNED",
    )
    # The image is reserved for the second verifier: the first one cannot take it back.
    assert _claim(api, team.verifier, "second_opinion") is None
    mine = api.get("/assignments", team.second_verifier, query={"assignment_type": "SECOND_OPINION"}).json
    assert [a["id"] for a in mine["items"]] == [second["id"]]

    opinion = _claim(api, team.second_verifier, "second_opinion")
    assert opinion is not None
    assert (opinion["image_id"], opinion["review_assignment_id"]) == (item["image_id"], second["id"])
    assert opinion["review_assignment_type"] == "SECOND_OPINION"
    assert len(opinion["earlier_verifications"]) == 1
    final = _decide(
        api, team.second_verifier, opinion["annotation"]["id"], decision="APPROVED", certainty_level=3
    )
    assert final["verification"]["is_final_decision"] is True  # a second opinion is never sent for a third
    assert final["image_status"] == "APPROVED"
    assert final["completed_review_assignment_ids"] == [second["id"]]
    assert api.get(f"/assignments/{second['id']}", team.admin).json["status"] == "COMPLETED"

    # A verifier's marks raise has_annotation_issues, shown on the image.
    other = _claim(api, team.verifier)
    assert other is not None
    assert other["image_id"] == second_image
    _decide(api, team.verifier, other["annotation"]["id"], decision="MINOR_REVISION_NEEDED",
            feedback_to_annotator="the left wrist", problematic_keypoints=[9])  # fmt: skip
    shown = api.get(f"/images/{second_image}", team.admin).json
    assert (shown["is_difficult_case"], shown["has_annotation_issues"]) == (True, True)
    assert api.get(f"/images/{first_image}", team.admin).json["has_annotation_issues"] is False


def test_an_asked_second_opinion_is_an_assignment_and_easy_cases_need_none(
    api: ApiClient, team: Team, ready_batch: Callable[..., int]
) -> None:
    batch_id = ready_batch(2)
    _assign_and_annotate(api, team, batch_id)
    item = _claim(api, team.verifier)
    assert item is not None
    assert item["is_difficult_case"] is False
    sure_enough = _decide(
        api, team.verifier, item["annotation"]["id"], decision="APPROVED", certainty_level=2
    )
    assert sure_enough["verification"]["is_final_decision"] is True  # not difficult: low certainty is enough
    assert sure_enough["second_opinion_by_rule"] is False

    item = _claim(api, team.verifier)
    assert item is not None
    asked = _decide(
        api, team.verifier, item["annotation"]["id"], decision="APPROVED", requires_second_opinion=True
    )
    assert asked["second_opinion_by_rule"] is False
    [second] = _assignments(api, team, assignment_type="SECOND_OPINION", batch_id=batch_id)
    assert second["annotator_id"] == team.second_verifier.user_id
    assert second["id"] == asked["second_opinion_assignment_id"]


def test_gold_images_set_quality_check_passed_and_open_quality_checks(
    api: ApiClient, team: Team, ready_batch: Callable[..., int]
) -> None:
    results = {}
    for name, offset in (("close", 2.0), ("far", 60.0)):
        batch_id = ready_batch(1, name=name)
        [image] = api.get(f"/batches/{batch_id}/images", team.admin).json["items"]
        truth = api.get(f"/images/{image['id']}", team.admin).json["yolo_keypoints"]
        gold = api.put(f"/batches/{batch_id}/images/{image['id']}/gold", team.admin,
                       body={"keypoints": moved(truth, offset)})  # fmt: skip
        assert gold.status == 200, gold.body
        assert api.get(f"/batches/{batch_id}", team.admin).json["quality_check_passed"] is False
        _assign_and_annotate(api, team, batch_id, dx=2.0)  # the annotator moves YOLO's by 2 px
        results[name] = (batch_id, image["id"])

    close_batch, close_image = results["close"]
    far_batch, far_image = results["far"]
    assert api.get(f"/batches/{close_batch}", team.admin).json["quality_check_passed"] is True
    assert api.get(f"/batches/{far_batch}", team.admin).json["quality_check_passed"] is False
    assert api.get(f"/images/{close_image}", team.admin).json["has_annotation_issues"] is False
    assert api.get(f"/images/{far_image}", team.admin).json["has_annotation_issues"] is True

    checks = {a["image_id"]: a for a in _assignments(api, team, assignment_type="QUALITY_CHECK")}
    assert set(checks) == {close_image, far_image}
    assert "failed" in checks[far_image]["special_instructions"]
    assert "passed" in checks[close_image]["special_instructions"]

    holder = next(
        p for p in (team.verifier, team.second_verifier) if p.user_id == checks[far_image]["annotator_id"]
    )
    reviewed = set()
    while (item := _claim(api, holder)) is not None:
        assert item["review_assignment_type"] == "QUALITY_CHECK"
        verdict = _decide(api, holder, item["annotation"]["id"], decision="APPROVED")
        assert verdict["completed_review_assignment_ids"] == [checks[item["image_id"]]["id"]]
        reviewed.add(item["image_id"])
    assert far_image in reviewed
    for image_id in reviewed:
        assert api.get(f"/assignments/{checks[image_id]['id']}", team.admin).json["status"] == "COMPLETED"


def test_an_image_marked_annotated_waits_complete_until_submitted(
    api: ApiClient, team: Team, ready_batch: Callable[..., int]
) -> None:
    batch_id = ready_batch(1)
    created = api.post(
        f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": team.annotator.user_id}
    )
    assignment_id = created.json["id"]
    api.post(f"/assignments/{assignment_id}/start", team.annotator)
    item = api.get(f"/assignments/{assignment_id}/next-image", team.annotator).json["item"]
    image_id, keypoints = item["image_id"], moved(item["yolo_keypoints"], 1.0)

    incomplete = {"keypoints": [{**k, "visible": 0} if k["id"] == 0 else k for k in keypoints["keypoints"]]}
    refused = api.put(f"/images/{image_id}/annotation", team.annotator,
                      body={"keypoints": incomplete, "mark_annotated": True})  # fmt: skip
    assert refused.status == 422, refused.body  # the nose is required: checked like a submission

    done = api.put(
        f"/images/{image_id}/annotation",
        team.annotator,
        body={"keypoints": keypoints, "mark_annotated": True},
    )
    assert done.status == 200, done.body
    assert done.json["status"] == "COMPLETED"
    assert api.get(f"/images/{image_id}", team.admin).json["status"] == "ANNOTATED"

    reopened = api.put(
        f"/images/{image_id}/annotation", team.annotator, body={"keypoints": keypoints}, headers=etag(done)
    )
    assert reopened.json["status"] == "DRAFT"
    assert api.get(f"/images/{image_id}", team.admin).json["status"] == "IN_PROGRESS"

    again = api.put(f"/images/{image_id}/annotation", team.annotator,
                    body={"keypoints": keypoints, "mark_annotated": True}, headers=etag(reopened))  # fmt: skip
    assert again.json["status"] == "COMPLETED"
    submitted = api.post(f"/images/{image_id}/annotation/submit", team.annotator, headers=etag(again))
    assert submitted.status == 200, submitted.body
    assert api.get(f"/images/{image_id}", team.admin).json["status"] == "SUBMITTED"


def test_a_second_opinion_reserved_for_a_verifier_who_left_goes_to_another(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], session_factory: Any
) -> None:
    third = make_user(session_factory, Role.VERIFIER, name="vic")
    batch_id = ready_batch(1)
    _assign_and_annotate(api, team, batch_id)
    item = _claim(api, team.verifier)
    assert item is not None
    asked = _decide(
        api, team.verifier, item["annotation"]["id"], decision="APPROVED", requires_second_opinion=True
    )
    second = api.get(f"/assignments/{asked['second_opinion_assignment_id']}", team.admin).json
    holder = team.second_verifier if second["annotator_id"] == team.second_verifier.user_id else third
    other = third if holder is team.second_verifier else team.second_verifier
    assert _claim(api, other, "second_opinion") is None  # reserved for the holder

    assert api.post(f"/users/{holder.user_id}/deactivate", team.admin).status == 200
    taken = _claim(api, other, "second_opinion")
    assert taken is not None
    assert taken["image_id"] == item["image_id"]
    moved_to = api.get(f"/assignments/{second['id']}", team.admin).json
    assert (moved_to["annotator_id"], moved_to["status"]) == (other.user_id, "IN_PROGRESS")
