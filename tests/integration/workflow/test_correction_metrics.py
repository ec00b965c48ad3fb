"""GET /metrics/corrections against the embedded PostgreSQL: known keypoints → known figures, and the
SQL aggregate agrees with the domain's rule (domain.corrections) image by image on varied data."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.db.models import Annotation, Verification
from cradlepose.domain.corrections import CorrectionFigures, CorrectionTally, correction_of
from cradlepose.domain.enums import AnnotationStatus, RejectionReason, VerificationDecision
from cradlepose.domain.keypoints import KeypointSet
from tests.integration.workflow.conftest import Team, moved
from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration

SCORES = {"overall_quality_score": 8, "verification_time_seconds": 40, "certainty_level": 9}
DAY = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)
BUILT_IN = {"model_config_id": None, "name": "yolo11n-pose", "version": "8.4"}


def _pre_annotated(engine: sa.Engine, batch_id: int, days: int, spec: dict[str, Any]) -> None:
    """What the pipeline leaves behind: the run's model spec and when pre-annotation completed."""
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE image_batches SET yolo_processing_completed = :at WHERE id = :id"),
            {"at": DAY + dt.timedelta(days=days), "id": batch_id},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pipeline_runs (batch_id, attempt, execution_name, status, model_spec) "
                "VALUES (:id, 1, :name, 'SUCCEEDED', CAST(:spec AS jsonb))"
            ),
            {"id": batch_id, "name": f"batch-{batch_id}-1", "spec": json.dumps(spec)},
        )


def _submit_all(
    api: ApiClient,
    who: Persona,
    assignment_id: int,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    seconds: int,
) -> list[int]:
    api.post(f"/assignments/{assignment_id}/start", who)
    done = []
    while (work := api.get(f"/assignments/{assignment_id}/next-image", who).json["item"]) is not None:
        start = work["annotation"]["refined_keypoints"] if work["annotation"] else work["yolo_keypoints"]
        body = {"keypoints": change(start), "time_spent_seconds": seconds}
        headers = {"If-Match": f'"{work["annotation"]["row_version"]}"'} if work["annotation"] else {}
        draft = api.put(f"/images/{work['image_id']}/annotation", who, body=body, headers=headers)
        assert draft.status == 200, draft.body
        submitted = api.post(
            f"/images/{work['image_id']}/annotation/submit", who, headers={"If-Match": draft.headers["etag"]}
        )
        assert submitted.status == 200, submitted.body
        done.append(work["image_id"])
    return done


def _claim(api: ApiClient, who: Persona, queue: str = "submitted") -> dict[str, Any]:
    item = api.post("/verifications/next", who, query={"queue": queue}).json["item"]
    assert item is not None, f"the {queue} queue is empty"
    return dict(item)


def _decide(api: ApiClient, who: Persona, item: dict[str, Any], **decision: Any) -> dict[str, Any]:
    body = {**SCORES, **decision}
    if decision["decision"] == "APPROVED_WITH_CORRECTIONS":
        body["corrected_keypoints"] = moved(item["annotation"]["refined_keypoints"], 2.0, {9})
    response = api.post(f"/annotations/{item['annotation']['id']}/verifications", who, body=body)
    assert response.status == 201, response.body
    return dict(response.json)


def _assign(api: ApiClient, team: Team, batch_id: int) -> int:
    response = api.post(
        f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": team.annotator.user_id}
    )
    assert response.status == 201, response.body
    return int(response.json["id"])


def test_known_corrections_give_known_figures_per_batch_and_per_model(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], engine: sa.Engine
) -> None:
    # Given a registered model and four pre-annotated batches: week 1 by the built-in model, weeks 2
    # and 3 by the registered one, week 4 by the built-in one but not annotated yet
    schema_id = api.get("/schemas", team.admin).json["items"][0]["id"]
    model = api.post("/models", team.admin, body={"model_name": "cradle-infant", "version": "2",
                     "keypoint_schema_id": schema_id, "model_path": "s3://models/cradle-infant-2.pt"})  # fmt: skip
    assert model.status == 201, model.body
    spec = {"model_config_id": model.json["id"], "name": "cradle-infant", "version": "2"}
    week = {n: ready_batch(size, name=f"week {n}") for n, size in ((1, 3), (2, 2), (3, 1), (4, 1))}
    for n, model_spec in ((1, BUILT_IN), (2, spec), (3, spec), (4, BUILT_IN)):
        _pre_annotated(engine, week[n], n, model_spec)

    # When the annotator moves every keypoint 3 px in week 1 (60 s an image), two keypoints 4 px in
    # week 2 (30 s), every keypoint 1 px in week 3 (90 s)
    batch_of: dict[int, int] = {}
    for n, change, seconds in (
        (1, lambda k: moved(k, 3.0), 60),
        (2, lambda k: moved(k, 4.0, {0, 1}), 30),
        (3, lambda k: moved(k, 1.0), 90),
    ):
        for image_id in _submit_all(api, team.annotator, _assign(api, team, week[n]), change, seconds):
            batch_of[image_id] = n
    # and the verifiers decide: week 1 approved / corrected / sent back for revision (whose second
    # submission, back on the model's keypoints in 200 s, must not count); week 2 approved pending a
    # second opinion that then corrects it (no verdict until the final one), and approved; week 3 approved
    week_one = ["APPROVED", "APPROVED_WITH_CORRECTIONS", "MINOR_REVISION_NEEDED"]
    week_two: list[dict[str, Any]] = [
        {"decision": "APPROVED", "requires_second_opinion": True},
        {"decision": "APPROVED"},
    ]
    revision_id = None
    for _ in range(6):
        item = _claim(api, team.verifier)
        week_of_item = batch_of[item["annotation"]["image_id"]]
        if week_of_item == 1:
            decision = week_one.pop(0)
            result = _decide(api, team.verifier, item, decision=decision,
                             feedback_to_annotator="the knees" if decision.startswith("MINOR") else None)  # fmt: skip
            revision_id = result["assignment_id"] if decision.startswith("MINOR") else revision_id
        elif week_of_item == 2:
            _decide(api, team.verifier, item, **week_two.pop(0))
        else:
            _decide(api, team.verifier, item, decision="APPROVED")
    _decide(api, team.second_verifier, _claim(api, team.second_verifier, "second_opinion"),
            decision="APPROVED_WITH_CORRECTIONS")  # fmt: skip
    assert revision_id is not None
    assert len(_submit_all(api, team.annotator, revision_id, lambda k: moved(k, -3.0), 200)) == 1
    _decide(api, team.verifier, _claim(api, team.verifier), decision="APPROVED")

    # Then per batch, oldest first, week 4 (nothing submitted) left out
    response = api.get("/metrics/corrections", team.admin, query={"schema_id": schema_id})
    assert response.status == 200, response.body
    assert response.json["group_by"] == "batch"
    assert response.json["untouched_tolerance_px"] == 0.5
    rows = response.json["items"]
    assert [r["batch_id"] for r in rows] == [week[1], week[2], week[3]]
    assert [(r["model_id"], r["model_name"], r["model_version"]) for r in rows] == [
        (None, "yolo11n-pose", "8.4"), (model.json["id"], "cradle-infant", "2"), (model.json["id"], "cradle-infant", "2"),
    ]  # fmt: skip
    assert [r["preannotated_at"][:10] for r in rows] == ["2025-03-04", "2025-03-05", "2025-03-06"]
    assert [(r["images"], r["keypoints"]) for r in rows] == [(3, 51), (2, 34), (1, 17)]
    assert rows[0]["mean_correction_px"] == pytest.approx(3.0)
    assert rows[1]["mean_correction_px"] == pytest.approx(2 * 4.0 * 2 / 34)
    assert rows[2]["mean_correction_px"] == pytest.approx(1.0)
    assert [r["untouched_share"] for r in rows] == pytest.approx([0.0, 30 / 34, 0.0])
    assert [r["first_pass_acceptance"] for r in rows] == pytest.approx([1 / 3, 1 / 2, 1.0])
    assert [r["annotation_seconds_per_image"] for r in rows] == pytest.approx([60.0, 30.0, 90.0])

    # and per model version: the registered model's two batches together, dated by its first
    by_model = api.get("/metrics/corrections", team.verifier, query={"group_by": "model"}).json["items"]
    assert [(r["model_id"], r["batches"], r["images"], r["keypoints"]) for r in by_model] == [
        (None, 1, 3, 51), (model.json["id"], 2, 3, 51),
    ]  # fmt: skip
    assert all(r["batch_id"] is None for r in by_model)
    assert by_model[1]["preannotated_at"][:10] == "2025-03-05"
    assert by_model[1]["mean_correction_px"] == pytest.approx((16 + 17) / 51)
    assert by_model[1]["untouched_share"] == pytest.approx(30 / 51)
    assert by_model[1]["first_pass_acceptance"] == pytest.approx(2 / 3)
    assert by_model[1]["annotation_seconds_per_image"] == pytest.approx(50.0)


def test_bad_parameters_and_callers_are_refused(api: ApiClient, team: Team) -> None:
    bad = api.get("/metrics/corrections", team.admin, query={"group_by": "annotator"})
    assert bad.status == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "group_by" in str(bad.json)
    assert api.get("/metrics/corrections", team.admin, query={"schema_id": "0"}).status == 422
    missing = api.get("/metrics/corrections", team.admin, query={"schema_id": "987654"})
    assert missing.status == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert api.get("/metrics/corrections", team.annotator).status == 403
    assert api.get("/metrics/corrections").status == 401
    assert api.get("/metrics/corrections", team.admin).json["items"] == []


# ------------------------------------------------------------------ the SQL and the rule agree


def _random_keypoints(rng: random.Random) -> dict[str, Any]:
    ids = rng.sample(range(17), rng.randint(0, 17))
    return {"keypoints": [{"id": i, "x": round(rng.uniform(0, 640), 2), "y": round(rng.uniform(0, 480), 2),
                           "visible": rng.choice([0, 1, 2, 2])} for i in sorted(ids)]}  # fmt: skip


def _random_submission(rng: random.Random, model: dict[str, Any]) -> dict[str, Any]:
    """Every kind of edit: kept, nudged within and exactly on the tolerance, moved, relabelled,
    removed, and keypoints the model left out added."""
    out = []
    for k in model["keypoints"]:
        action = rng.choice(["keep", "nudge", "edge", "move", "flag", "drop"])
        if action == "drop":
            continue
        x, y, v = k["x"], k["y"], k["visible"]
        if action == "nudge":
            x, y = x + rng.choice([-0.2, 0.1, 0.3]), y + rng.choice([0.0, -0.1, 0.2])
        elif action == "edge":
            x, y = x + 0.3, y + 0.4
        elif action == "move":
            x, y = x + rng.uniform(-40, 40), y + rng.uniform(-40, 40)
        elif action == "flag":
            v = rng.choice([0, 1, 2])
        out.append({"id": k["id"], "x": round(x, 2), "y": round(y, 2), "visible": v})
    present = {k["id"] for k in out}
    out += [
        {"id": i, "x": 10.0, "y": 10.0, "visible": 2}
        for i in range(17)
        if i not in present and rng.random() < 0.2
    ]
    return {"keypoints": out}


def test_the_sql_agrees_with_the_domain_rule_image_by_image(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], engine: sa.Engine,
    session_factory: sessionmaker[Session],
) -> None:  # fmt: skip
    rng = random.Random(23)
    batches = [ready_batch(25, name="first"), ready_batch(25, name="second")]
    assignments = {b: _assign(api, team, b) for b in batches}
    for n, batch_id in enumerate(batches):
        _pre_annotated(engine, batch_id, n, BUILT_IN)
    expected = {b: CorrectionTally() for b in batches}
    decisions = list(VerificationDecision)
    with session_factory() as session:
        images = session.execute(sa.text("SELECT id, batch_id FROM images ORDER BY id")).all()
        clock = DAY
        for image_id, batch_id in images:
            model = _random_keypoints(rng) if rng.random() < 0.9 else None
            session.execute(sa.text("UPDATE images SET yolo_keypoints = CAST(:k AS jsonb) WHERE id = :id"),
                            {"k": json.dumps(model) if model else None, "id": image_id})  # fmt: skip
            # versions: none, a draft never submitted, then up to three submissions
            shape = rng.choice(["none", "one", "revised", "handed_over", "three"])
            if shape == "none":
                continue
            submitted_flags = {"one": [True], "revised": [True, True], "handed_over": [False, True],
                               "three": [True, True, True]}[shape]  # fmt: skip
            versions = []
            for version, is_submitted in enumerate(submitted_flags, start=1):
                clock += dt.timedelta(minutes=1)
                annotation = Annotation(
                    image_id=image_id, batch_assignment_id=assignments[batch_id], version=version,
                    refined_keypoints=_random_submission(rng, model or {"keypoints": []}),
                    time_spent_seconds=rng.randint(0, 600),
                    status=AnnotationStatus.SUBMITTED if is_submitted else AnnotationStatus.DRAFT,
                    submitted_at=clock if is_submitted else None,
                )  # fmt: skip
                session.add(annotation)
                session.flush()
                versions.append(annotation)
            first = next(a for a in versions if a.submitted_at is not None)
            verdicts: list[tuple[dt.datetime, int, VerificationDecision]] = []
            for _ in range(rng.randint(0, 3)):
                clock += dt.timedelta(minutes=1)
                decision = rng.choice(decisions)
                final = rng.random() < 0.7
                verification = Verification(
                    annotation_id=rng.choice([a for a in versions if a.submitted_at is not None]).id,
                    verifier_id=team.verifier.user_id, decision=decision, overall_quality_score=8,
                    verification_time_seconds=10, certainty_level=9, is_final_decision=final,
                    verified_at=clock,
                    corrected_keypoints={"keypoints": []} if decision is VerificationDecision.APPROVED_WITH_CORRECTIONS else None,
                    rejection_reason=RejectionReason.OTHER if decision is VerificationDecision.REJECTED else None,
                )  # fmt: skip
                session.add(verification)
                session.flush()
                if final:
                    verdicts.append((clock, verification.id, decision))
            correction = correction_of(
                KeypointSet.model_validate(model) if model else None,
                KeypointSet.model_validate(first.refined_keypoints),
            )
            first_verdict = min(verdicts)[2] if verdicts else None
            expected[batch_id] = expected[batch_id].add(correction, first.time_spent_seconds, first_verdict)
        session.commit()

    rows = {r["batch_id"]: r for r in api.get("/metrics/corrections", team.admin).json["items"]}
    assert set(rows) == set(batches)
    for batch_id in batches:
        tally = expected[batch_id]
        figures = CorrectionFigures.of(tally)
        row = rows[batch_id]
        assert (row["images"], row["keypoints"]) == (tally.images, tally.model_keypoints)
        for name in (
            "mean_correction_px",
            "untouched_share",
            "first_pass_acceptance",
            "annotation_seconds_per_image",
        ):
            assert row[name] == pytest.approx(getattr(figures, name), abs=1e-9), name
    # The varied data did exercise every part of the rule
    assert all(0 < expected[b].untouched < expected[b].paired < expected[b].model_keypoints for b in batches)
    assert all(0 < expected[b].accepted < expected[b].verified < expected[b].images for b in batches)
