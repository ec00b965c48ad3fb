"""The metrics roll-up, gold images, and the users' running figures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.workflow.conftest import Team, etag, moved
from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration

SCORES = {"overall_quality_score": 8, "verification_time_seconds": 40, "certainty_level": 9}


def _annotate(api: ApiClient, who: Persona, assignment_id: int, dx: float) -> None:
    api.post(f"/assignments/{assignment_id}/start", who)
    while (item := api.get(f"/assignments/{assignment_id}/next-image", who).json["item"]) is not None:
        body = {
            "keypoints": moved(item["yolo_keypoints"], dx),
            "time_spent_seconds": 60,
            "difficulty_rating": "HARD",
        }
        draft = api.put(f"/images/{item['image_id']}/annotation", who, body=body)
        assert (
            api.post(f"/images/{item['image_id']}/annotation/submit", who, headers=etag(draft)).status == 200
        )


def _verify_all(api: ApiClient, who: Persona, **decision: Any) -> None:
    while (item := api.post("/verifications/next", who).json["item"]) is not None:
        body = {**SCORES, "decision": "APPROVED", **decision}
        assert (
            api.post(f"/annotations/{item['annotation']['id']}/verifications", who, body=body).status == 201
        )


def test_gold_images_and_the_rollup(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], engine: sa.Engine
) -> None:
    batch_id = ready_batch(4)
    gold_image = api.get(f"/batches/{batch_id}/images", team.admin).json["items"][0]
    truth = api.get(f"/images/{gold_image['id']}", team.admin).json["yolo_keypoints"]
    # The gold keypoints sit 12 px right of YOLO's; the annotator will move YOLO's by 2 px only.
    assert api.put(f"/batches/{batch_id}/images/{gold_image['id']}/gold", team.admin,
                   body={"keypoints": moved(truth, 12)}).status == 200  # fmt: skip
    assignment = api.post(
        f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": team.annotator.user_id}
    ).json
    _annotate(api, team.annotator, assignment["id"], dx=2)
    _verify_all(api, team.verifier)

    me = api.get("/me", team.annotator).json
    # Three images approved as submitted (OKS 1, first pass), one gold image with OKS < 1.
    assert 0.5 < me["accuracy_score"] < 1.0
    assert me["total_annotations_completed"] == 4
    assert me["avg_annotation_time_minutes"] == 1.0
    assert api.get("/me", team.verifier).json["total_verifications_completed"] == 4
    assert api.put(f"/batches/{batch_id}/images/{gold_image['id']}/gold", team.admin,
                   body={"keypoints": truth}).status == 409  # fmt: skip
    # Scored against its gold already: it stays a quality check
    assert api.delete(f"/batches/{batch_id}/images/{gold_image['id']}/gold", team.admin).status == 409

    today = dt.datetime.now(dt.UTC).date().isoformat()
    first = api.post("/metrics/rollup", team.admin, query={"period": "DAILY", "day": today})
    second = api.post("/metrics/rollup", team.admin, query={"period": "DAILY", "day": today})
    assert first.status == 200, first.body
    assert first.json["users"] == second.json["users"] >= 2
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM performance_metrics")) == first.json["users"]

    rows = api.get(f"/users/{team.annotator.user_id}/metrics", team.admin, query={"period": "DAILY"}).json
    assert len(rows) == 1
    row = rows[0]
    assert row["images_annotated"] == 4
    assert row["annotations_created"] == 4
    assert row["total_annotation_time_minutes"] == 4
    assert row["accuracy_score"] == me["accuracy_score"]
    assert row["avg_quality_rating"] == 0.8
    assert row["difficulty_distribution"] == {"HARD": 4}
    assert row["keypoint_accuracy_breakdown"]["nose"]["samples"] == 4
    assert row["keypoint_accuracy_breakdown"]["nose"]["mean_similarity"] < 1
    assert row["peer_comparison_percentile"] == 100
    assert row["productivity_score"] == 1.0
    assert 0 <= row["consistency_score"] <= 1
    assert row["time_distribution"]["p50_seconds"] == 60
    verifier_rows = api.get(f"/users/{team.verifier.user_id}/metrics", team.verifier).json
    assert verifier_rows[0]["annotations_verified"] == 4
    assert verifier_rows[0]["annotations_approved"] == 4
    assert api.get(f"/users/{team.verifier.user_id}/metrics", team.annotator).status == 403

    for period in ("WEEKLY", "MONTHLY", "QUARTERLY"):
        assert api.post("/metrics/rollup", team.admin, query={"period": period, "day": today}).status == 200
    periods = {r["period_type"] for r in api.get(f"/users/{team.annotator.user_id}/metrics", team.admin).json}
    assert periods == {"DAILY", "WEEKLY", "MONTHLY", "QUARTERLY"}


def test_an_admin_sees_and_unmarks_quality_checks_and_an_annotator_never_sees_them(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], engine: sa.Engine
) -> None:
    batch_id = ready_batch(2)
    first, second = api.get(f"/batches/{batch_id}/images", team.admin).json["items"]
    gold_url = f"/batches/{batch_id}/images/{first['id']}/gold"
    assert (first["quality_check"], second["quality_check"]) == (False, False)
    truth = api.get(f"/images/{first['id']}", team.admin).json["yolo_keypoints"]
    assert api.put(gold_url, team.admin, body={"keypoints": truth}).status == 200

    listed = {
        i["id"]: i["quality_check"] for i in api.get(f"/batches/{batch_id}/images", team.admin).json["items"]
    }
    assert listed == {first["id"]: True, second["id"]: False}
    api.post(f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": team.annotator.user_id})
    seen = api.get(f"/batches/{batch_id}/images", team.annotator).json["items"]
    assert len(seen) == 2
    assert {i["quality_check"] for i in seen} == {None}

    assert api.delete(gold_url, team.annotator).status == 403
    cleared = api.delete(gold_url, team.admin)
    assert cleared.status == 200, cleared.body
    assert api.delete(gold_url, team.admin).status == 409  # not a quality check any more
    listed = {
        i["id"]: i["quality_check"] for i in api.get(f"/batches/{batch_id}/images", team.admin).json["items"]
    }
    assert listed[first["id"]] is False
    with engine.connect() as conn:
        actions = conn.scalars(
            sa.text("SELECT action FROM audit_logs WHERE resource_type = 'Image' AND resource_id = :i"
                    " AND action LIKE 'QUALITY_CHECK_%' ORDER BY id"),
            {"i": first["id"]},
        ).all()  # fmt: skip
        # SQL NULL, as the metrics' `IS NOT NULL` needs, not JSON null
        assert conn.scalar(
            sa.text("SELECT gold_keypoints IS NULL FROM images WHERE id = :i"), {"i": first["id"]}
        )
    assert actions == ["QUALITY_CHECK_SET", "QUALITY_CHECK_CLEARED"]


def test_rejections_and_revisions_show_as_error_patterns(
    api: ApiClient, team: Team, ready_batch: Callable[..., int]
) -> None:
    batch_id = ready_batch(2)
    assignment = api.post(
        f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": team.annotator.user_id}
    ).json
    _annotate(api, team.annotator, assignment["id"], dx=1)
    first = api.post("/verifications/next", team.verifier).json["item"]
    api.post(f"/annotations/{first['annotation']['id']}/verifications", team.verifier,
             body={**SCORES, "decision": "MINOR_REVISION_NEEDED", "feedback_to_annotator": "wrists",
                   "problematic_keypoints": [9, 10]})  # fmt: skip
    second = api.post("/verifications/next", team.verifier).json["item"]
    api.post(f"/annotations/{second['annotation']['id']}/verifications", team.verifier,
             body={**SCORES, "decision": "REJECTED", "rejection_reason": "POOR_IMAGE_QUALITY",
                   "can_be_reannotated": False})  # fmt: skip
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert api.post("/metrics/rollup", team.admin, query={"day": today}).status == 200
    row = api.get(f"/users/{team.annotator.user_id}/metrics", team.annotator).json[0]
    assert row["error_patterns"]["rejection_reasons"] == {"POOR_IMAGE_QUALITY": 1}
    assert row["error_patterns"]["problematic_keypoints"] == {"left_wrist": 1, "right_wrist": 1}
    assert row["error_patterns"]["decisions"] == {"MINOR_REVISION_NEEDED": 1, "REJECTED": 1}
    # The rejected image counts with OKS 0 and no first pass: accuracy falls
    assert api.get("/me", team.annotator).json["accuracy_score"] == 0.0
