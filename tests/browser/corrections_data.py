"""Four weeks of the learning loop for the Corrections screen (issue 23), shared by its browser test
and the screenshots script (test-only).

Models are registered and every image annotated and verified through the capabilities (what the
API calls). Only what the batch pipeline would have written when it pre-annotated each batch (the
run's model spec and when it completed) is set directly: running the pipeline here would need the
state machine and the inference task, and measure nothing more about this screen.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cradlepose.models import model_configs
from cradlepose.workflow import annotations as annotation_service
from cradlepose.workflow import verifications
from tests.browser import demo_data, scene
from tests.browser.stack import Person, RunningStack

BUILT_IN = ("yolo11n-pose", "8.4")


@dataclass(frozen=True)
class Week:
    name: str
    model: tuple[str, str]
    weeks_ago: int
    shift_px: float  # how far the annotator moves each keypoint they correct
    corrected: int  # how many of the 17 keypoints they correct; the rest stay as the model put them
    seconds: int
    approved: int  # of the 3 images, how many the verifier approves as submitted


WEEKS = (
    Week("ward-g-week-1", BUILT_IN, 4, 9.0, 17, 240, 1),
    Week("ward-g-week-2", ("ward-pose", "1.0"), 3, 6.0, 12, 180, 2),
    Week("ward-g-week-3", ("ward-pose", "1.0"), 2, 4.0, 9, 150, 2),
    Week("ward-g-week-4", ("ward-pose", "1.1"), 1, 2.0, 5, 95, 3),
)


def build(stack: RunningStack, admin: Person, annotator: Person, verifier: Person) -> dict[str, int]:
    """Returns the batches' ids by name. The batches take the highest priority, so the verifier's
    queue hands them out before any other work waiting there."""
    models = _register(stack, admin)
    batches: dict[str, int] = {}
    for week in WEEKS:
        batch_id = stack.ready_batch(admin, n=3, name=week.name, priority=10)
        _pre_annotated(stack, batch_id, week, models.get(week.model))
        demo_data.assign(stack, admin, batch_id, annotator)
        for n, image_id in enumerate(_annotate(stack, annotator, batch_id, week)):
            _verify(stack, verifier, image_id, approve=n < week.approved)
        batches[week.name] = batch_id
    return batches


def _register(stack: RunningStack, admin: Person) -> dict[tuple[str, str], int]:
    schema_id = int(stack.scalar("SELECT id FROM keypoint_schemas WHERE name = 'infant-pose-17'"))
    made = {}
    for name, version in {w.model for w in WEEKS if w.model != BUILT_IN}:
        with stack.uow_factory(admin.actor) as uow:
            model = model_configs.create_model(
                uow,
                model_configs.ModelConfigIn(
                    model_name=name,
                    version=version,
                    keypoint_schema_id=schema_id,
                    model_path=f"s3://cradle-models/{name}-{version}.pt",
                ),
            )
        made[(name, version)] = model.id
    return made


def _pre_annotated(stack: RunningStack, batch_id: int, week: Week, model_id: int | None) -> None:
    name, version = week.model
    spec = {"model_config_id": model_id, "name": name, "version": version}
    with stack.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE image_batches SET yolo_processing_completed = :at, yolo_model_version = :label "
                "WHERE id = :id"
            ),
            {
                "at": dt.datetime.now(dt.UTC) - dt.timedelta(weeks=week.weeks_ago),
                "label": f"{name}@{version}"[:20],
                "id": batch_id,
            },
        )
        conn.execute(
            sa.text(
                "INSERT INTO pipeline_runs (batch_id, attempt, execution_name, status, model_spec) "
                "VALUES (:id, 1, :execution, 'SUCCEEDED', CAST(:spec AS jsonb))"
            ),
            {"id": batch_id, "execution": f"corrections-demo-{batch_id}", "spec": json.dumps(spec)},
        )


def _annotate(stack: RunningStack, who: Person, batch_id: int, week: Week) -> list[int]:
    rows = stack.rows("SELECT id, yolo_keypoints FROM images WHERE batch_id = :b ORDER BY id", b=batch_id)
    done = []
    for n, (image_id, yolo) in enumerate(rows):
        keypoints = {"keypoints": [_corrected(k, week) for k in yolo["keypoints"]]}
        body = annotation_service.AnnotationIn(
            keypoints=keypoints, time_spent_seconds=week.seconds + 10 * n, difficulty_rating="MEDIUM"
        )
        with stack.uow_factory(who.actor) as uow:
            draft = annotation_service.save_draft(uow, image_id, body, None)
        with stack.uow_factory(who.actor) as uow:
            annotation_service.submit(uow, image_id, draft.row_version)
        done.append(image_id)
    return done


def _corrected(keypoint: dict[str, Any], week: Week) -> dict[str, Any]:
    """The model's keypoint, moved `shift_px` in a direction of its own when it is one corrected."""
    if keypoint["id"] >= week.corrected or not keypoint.get("visible"):
        return dict(keypoint)
    angle = keypoint["id"] * 2.4
    x = min(max(keypoint["x"] + week.shift_px * math.cos(angle), 0), scene.WIDTH)
    y = min(max(keypoint["y"] + week.shift_px * math.sin(angle), 0), scene.HEIGHT)
    return {**keypoint, "x": round(x, 2), "y": round(y, 2)}


def _verify(stack: RunningStack, who: Person, image_id: int, *, approve: bool) -> None:
    with stack.uow_factory(who.actor) as uow:
        item = verifications.claim_next(uow, verifications.Queue.SUBMITTED)
    assert item is not None
    assert item.image_id == image_id, (item.image_id, image_id)
    decision: dict[str, Any] = {"decision": "APPROVED"}
    if not approve:
        corrected = [
            {**k, "y": k["y"] + 3.0} if k["id"] == 9 else k
            for k in item.annotation.refined_keypoints["keypoints"]
        ]
        decision = {
            "decision": "APPROVED_WITH_CORRECTIONS",
            "corrected_keypoints": {"keypoints": corrected},
            "correction_summary": "left wrist lower",
        }
    with stack.uow_factory(who.actor) as uow:
        verifications.decide(
            uow, item.annotation.id, verifications.VerificationIn(**decision, **demo_data.SCORES)
        )
