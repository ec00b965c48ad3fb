"""A lived-in project for the screenshots: people, batches in every state, work done, a month of figures.

Work is done through the services (so statuses, counters and audit rows are the real ones);
only the PerformanceMetrics history of the past month is written directly, since the roll-up can
only measure work that happened, and everything here happened a minute ago.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from cradlepose.accounts import users
from cradlepose.db.models import PerformanceMetrics, SigmaCalibration
from cradlepose.domain.actor import Claims
from cradlepose.domain.enums import PeriodType, Role
from cradlepose.domain.keypoint_schema import COCO17_NAMES, COCO17_SIGMAS
from cradlepose.workflow import annotations as annotation_service
from cradlepose.workflow import assignments, verifications
from tests.browser import scene
from tests.browser.stack import Person, RunningStack

SCORES = {"overall_quality_score": 8, "certainty_level": 8, "verification_time_seconds": 95}


@dataclass
class Demo:
    admin: Person
    annotators: list[Person]
    verifiers: list[Person]
    revision_image: int
    review_image: int


def build(stack: RunningStack) -> Demo:
    admin = stack.admin("ada")
    anna = stack.worker("anna", Role.ANNOTATOR, admin)
    ben = stack.worker("ben", Role.ANNOTATOR, admin)
    chloe = stack.worker("chloe", Role.ANNOTATOR, admin)
    victor = stack.worker("victor", Role.VERIFIER, admin)
    vera = stack.worker("vera", Role.VERIFIER, admin)
    for name, role in (("dora", "ANNOTATOR"), ("emil", "VERIFIER")):
        subject = stack.sign_up(name)
        with stack.uow_factory() as uow:
            users.register(
                uow,
                Claims(subject, name, f"{name}@example.org"),
                users.Registration(role=role),
            )

    # ward A: ben annotated every image, most approved → the batch is well on its way
    ward_a = stack.ready_batch(admin, n=6, name="ward-a-2026-02", priority=6)
    assign(stack, admin, ward_a, ben)
    a_images = annotate(stack, ben, ward_a, correct=True)
    for image_id in a_images[:4]:
        decide(stack, victor, image_id, "APPROVED")

    # ward B: anna's work; one image goes back to her with feedback, one waits for review
    ward_b = stack.ready_batch(admin, n=4, name="ward-b-2026-03", priority=7)
    assign(stack, admin, ward_b, anna)
    b_images = annotate(stack, anna, ward_b, correct=True, only=2)
    decide(
        stack,
        victor,
        b_images[0],
        "MINOR_REVISION_NEEDED",
        feedback_to_annotator="The right wrist sits on the forearm and the left knee is low: "
        "place the wrist at the crease and the knee at the centre of the joint.",
        problematic_keypoints=[10, 13],
    )
    # the other waits in the submitted queue for vera

    # ward C: ready, nobody on it yet; clinic D: chloe has started
    stack.ready_batch(admin, n=5, name="ward-c-2026-03", priority=5)
    clinic_d = stack.ready_batch(admin, n=3, name="clinic-d-followup", priority=4)
    assign(stack, admin, clinic_d, chloe)

    _history(stack, [anna, ben, chloe], [victor, vera])
    return Demo(
        admin, [anna, ben, chloe], [victor, vera], revision_image=b_images[0], review_image=b_images[1]
    )


def sigma_calibration(stack: RunningStack, admin: Person) -> tuple[int, int]:
    """A calibration of infant-pose-17 as `calibrate` stores it: infants' hips and heads measured
    wider than COCO's adults, the ankles on too few samples to adopt. Returns (schema, calibration)."""
    schema_id = int(stack.scalar("SELECT id FROM keypoint_schemas WHERE name = 'infant-pose-17'"))
    samples = [120] * 15 + [12, 0]
    estimates = [
        {
            "keypoint_id": i,
            "name": name,
            "sigma": round(coco * (1.6 if name.endswith("hip") else 1.25 if i < 5 else 0.9), 5)
            if n
            else None,
            "samples": n,
            "current_sigma": coco,
            "coco_sigma": coco,
            "adoptable": n >= 30,
        }
        for i, (name, coco, n) in enumerate(zip(COCO17_NAMES, COCO17_SIGMAS, samples, strict=True))
    ]
    with stack.session_factory() as session:
        row = SigmaCalibration(
            keypoint_schema_id=schema_id, method="against-verified-result", estimates=estimates,
            images=64, annotations=131, min_samples=30, created_by=admin.user_id,
        )  # fmt: skip
        session.add(row)
        session.commit()
        return schema_id, row.id


def assign(stack: RunningStack, admin: Person, batch_id: int, who: Person) -> int:
    with stack.uow_factory(admin.actor) as uow:
        made = assignments.assign_batch(
            uow, batch_id, assignments.AssignmentIn(annotator_id=who.user_id or 0)
        )
    with stack.uow_factory(who.actor) as uow:
        assignments.start(uow, made.id)
    return made.id


def annotate(
    stack: RunningStack, who: Person, batch_id: int, *, correct: bool, only: int | None = None
) -> list[int]:
    """Submit the batch's images: YOLO's keypoints moved to the truth of the picture (when `correct`)."""
    rows = stack.rows("SELECT id, yolo_keypoints FROM images WHERE batch_id = :b ORDER BY id", b=batch_id)
    done = []
    for image_id, yolo in rows[:only]:
        seed = batch_id * 100 + (image_id - rows[0][0])
        truth = scene.pose(seed)
        keypoints = {
            "keypoints": [
                {**k, "x": truth[k["id"]][0], "y": truth[k["id"]][1]} if correct else dict(k)
                for k in yolo["keypoints"]
            ]
        }
        body = annotation_service.AnnotationIn(
            keypoints=keypoints,
            time_spent_seconds=random.Random(image_id).randint(90, 260),
            difficulty_rating="MEDIUM",
            annotation_quality_score=0.8,
        )
        with stack.uow_factory(who.actor) as uow:
            draft = annotation_service.save_draft(uow, image_id, body, None)
        with stack.uow_factory(who.actor) as uow:
            annotation_service.submit(uow, image_id, draft.row_version)
        done.append(image_id)
    return done


def decide(stack: RunningStack, who: Person, image_id: int, decision: str, **extra: Any) -> None:
    with stack.uow_factory(who.actor) as uow:
        item = verifications.claim_next(uow, verifications.Queue.SUBMITTED)
    assert item is not None
    assert item.image_id == image_id, (item.image_id, image_id)
    with stack.uow_factory(who.actor) as uow:
        verifications.decide(
            uow, item.annotation.id, verifications.VerificationIn(decision=decision, **SCORES, **extra)
        )


def _history(stack: RunningStack, annotators: list[Person], verifiers: list[Person], days: int = 30) -> None:
    """A month of DAILY figures: each annotator learning at their own pace, verifiers at theirs."""
    today = dt.datetime.now(dt.UTC).date()
    rows = []
    latest: dict[int, float] = {}
    for n, person in enumerate(annotators):
        rng = random.Random(n)
        start, gain, pace = (0.62, 0.22, 14), (0.74, 0.12, 20), (0.55, 0.2, 9)
        base, growth, speed = (start, gain, pace)[n % 3]
        for d in range(days, 0, -1):
            day = today - dt.timedelta(days=d)
            if day.weekday() >= 5:
                continue
            progress = 1 - math.exp(-(days - d) / 12)
            accuracy = min(0.98, base + growth * progress + rng.uniform(-0.03, 0.03))
            images = max(0, round(speed * (0.7 + 0.6 * progress) + rng.uniform(-3, 3)))
            latest[person.user_id or 0] = accuracy
            rows.append(
                _row(
                    person,
                    day,
                    images_annotated=images,
                    annotations_created=images + rng.randint(0, 2),
                    annotations_revised=rng.randint(0, 2),
                    avg_time_per_annotation_minutes=Decimal(
                        str(round(4.5 - 2 * progress + rng.uniform(-0.4, 0.4), 2))
                    ),
                    total_annotation_time_minutes=round(images * (4.5 - 2 * progress)),
                    accuracy_score=Decimal(str(round(accuracy, 4))),
                    avg_quality_rating=Decimal(str(round(min(1, accuracy + 0.05), 2))),
                    keypoint_accuracy_breakdown={
                        name: {
                            "mean_similarity": round(
                                min(
                                    1.0,
                                    accuracy + (0.08 if i < 5 else -0.12 if i in (9, 10, 15, 16) else 0.0),
                                ),
                                4,
                            ),
                            "samples": images,
                        }
                        for i, name in enumerate(COCO17_NAMES)
                    },
                )
            )
    for n, person in enumerate(verifiers):
        rng = random.Random(100 + n)
        for d in range(days, 0, -1):
            day = today - dt.timedelta(days=d)
            if day.weekday() >= 5:
                continue
            verified = rng.randint(18, 34) if n == 0 else rng.randint(10, 22)
            rate = (
                (0.72 if n == 0 else 0.8) + 0.12 * (1 - math.exp(-(days - d) / 10)) + rng.uniform(-0.05, 0.05)
            )
            approved = min(verified, round(verified * rate))
            rows.append(
                _row(
                    person,
                    day,
                    annotations_verified=verified,
                    annotations_approved=approved,
                    annotations_rejected=max(0, rng.randint(-1, 2)),
                    avg_verification_time_minutes=Decimal(str(round(rng.uniform(1.2, 2.6), 2))),
                )
            )
    with stack.session_factory() as session:
        session.add_all(rows)
        # The running figure on the user row follows the same story (the next decision recomputes it).
        for user_id, accuracy in latest.items():
            session.execute(
                sa.text("UPDATE users SET accuracy_score = :a WHERE id = :u"),
                {"a": round(accuracy, 4), "u": user_id},
            )
        session.commit()


def _row(person: Person, day: dt.date, **figures: Any) -> PerformanceMetrics:
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    return PerformanceMetrics(
        user_id=person.user_id,
        metrics_date=day,
        period_type=PeriodType.DAILY,
        period_start=start,
        period_end=start + dt.timedelta(days=1),
        calculated_at=start + dt.timedelta(days=1, hours=2),
        **figures,
    )
