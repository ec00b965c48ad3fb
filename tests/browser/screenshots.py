"""Screenshots of the web UI for the README (`make screenshots`): 1280×800, Debian's Chromium.

    python -m tests.browser.screenshots [--out docs/screenshots]

Starts the whole local stack with its own embedded PostgreSQL, fills it with a lived-in project
(tests/browser/demo_data.py), then signs in as each role and photographs what they see. Fails if a
page logs an error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

from cradlepose.datasets import datasets as dataset_service
from cradlepose.domain.splits import SplitFractions
from tests.browser import corrections_data, demo_data, models_data, research_data
from tests.browser.archives import coco_archive
from tests.browser.browser import CHROMIUM_ARGS, Watched, find_chromium
from tests.browser.pages import drag, keypoint, keypoint_on_screen, pick_score, sign_in
from tests.browser.scene import HEIGHT, WIDTH, scene
from tests.browser.stack import PASSWORD, ROOT, RunningStack
from tests.browser.standalone import standalone_stack

SIZE = (WIDTH, HEIGHT)


def workbench(browser: Browser, stack: RunningStack, demo: demo_data.Demo, out: Path) -> list[str]:
    watched = Watched.open(browser, stack.base_url)
    page = watched.page
    sign_in(page, "anna")
    expect(page.locator("[data-testid=revision-feedback]")).to_be_visible()
    sent_back = stack.scalar(
        "SELECT refined_keypoints FROM annotations WHERE image_id = :i ORDER BY version DESC LIMIT 1",
        i=demo.revision_image,
    )
    knee = keypoint(sent_back, "left_knee")
    drag(page, keypoint_on_screen(page, SIZE, knee["x"], knee["y"]), -14, -22)
    expect(page.locator("[data-testid=save-state]")).to_have_attribute("data-state", "saved")
    page.mouse.move(5, 400)
    _shoot(page, out / "workbench.png")
    return _close(watched)


def verification(browser: Browser, stack: RunningStack, out: Path) -> list[str]:
    watched = Watched.open(browser, stack.base_url)
    page = watched.page
    sign_in(page, "vera")
    expect(page.locator(".side-head h2")).to_contain_text("Review")
    page.keyboard.press("3")
    page.get_by_placeholder("What should the annotator fix?").fill(
        "Both ankles are placed on the shin; move them down to the joint."
    )
    page.locator("[data-kp-flag='15']").click()
    page.locator("[data-kp-flag='16']").click()
    pick_score(page, "overall_quality_score", 7)
    pick_score(page, "certainty_level", 8)
    page.locator("[data-kp-score='0']").fill("9")
    page.locator("[data-kp-score='15']").fill("4")
    page.locator("[data-kp-score='15']").blur()
    page.locator(".side-scroll").evaluate("panel => panel.scrollTo(0, 0)")
    page.mouse.move(5, 400)
    _shoot(page, out / "verification.png")
    page.get_by_role("button", name="Release").click()  # leave the queue as it was
    expect(page.locator(".side-head h2")).to_contain_text("Review")
    return _close(watched)


def admin(browser: Browser, stack: RunningStack, out: Path) -> list[str]:
    watched = Watched.open(browser, stack.base_url)
    page = watched.page
    sign_in(page, "ada")
    page.goto("/#/admin/metrics")
    expect(page.locator("[data-chart=accuracy] svg path").first).to_be_visible()
    _shoot(page, out / "admin-metrics.png")
    for key in ("users", "audit", "claims"):
        page.goto(f"/#/admin/{key}")
        expect(page.locator(f"[data-page={key}] .table-wrap").first).to_be_visible()
        _shoot(page, out / f"admin-{key}.png")
    page.goto("/#/admin/batches")
    expect(page.locator(".batch-progress").first).to_be_visible()
    _shoot(page, out / "admin-batches.png")
    page.locator("[data-upload-report]").first.click()
    expect(page.locator("dialog[open] [data-testid=upload-report]")).to_be_visible()
    _shoot(page, out / "admin-batch-files.png")
    page.keyboard.press("Escape")
    page.locator("[data-images]").first.click()
    expect(page.locator("[data-gold]").first).to_be_visible()
    _shoot(page, out / "admin-batch-images.png")
    schema_id, _ = demo_data.sigma_calibration(stack, stack.people["ada"])
    page.goto(f"/#/admin/schemas/{schema_id}/calibrations")
    expect(page.locator("svg.chart").first).to_be_visible()
    _shoot(page, out / "admin-sigma-calibrations.png")
    page.goto("/#/admin/vocabulary")
    expect(page.locator("[data-testid=new-term]")).to_be_visible()
    expect(page.locator("[data-page=vocabulary] .table-wrap").first).to_be_visible()
    _shoot(page, out / "admin-vocabulary.png")
    page.goto("/#/admin/retraining")
    expect(page.locator("[data-testid=loop-policy]")).to_be_visible()
    _shoot(page, out / "admin-retraining.png")
    page.goto("/#/admin/schemas")
    expect(page.locator("[data-page=schemas] .table-wrap").first).to_be_visible()
    _shoot(page, out / "admin-schemas.png")
    page.goto("/#/admin/schemas/1")
    expect(page.locator(".schema-node").first).to_be_visible()
    page.locator(".schema-node[data-kp='9']").click()
    _shoot(page, out / "admin-schema-editor.png")
    return _close(watched)


def uploads(browser: Browser, stack: RunningStack, out: Path) -> list[str]:
    """A folder of six pictures and a corrupt one, sent to a new batch and registered."""
    watched = Watched.open(browser, stack.base_url)
    page = watched.page
    sign_in(page, "ada")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ward-c-session-07"
        folder.mkdir()
        for i in range(6):
            (folder / f"frame-{i:04d}.jpg").write_bytes(scene(9000 + i).jpeg)
        (folder / "frame-0006.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG" * 30)
        page.goto("/#/admin/upload")
        page.get_by_label("Batch name").fill("ward-c 2026-05-14 clinic session")
        page.get_by_label("Infant age (months)").fill("4")
        page.get_by_label("Session").fill("clinic")
        page.get_by_label("Institution").fill("Site A")
        page.set_input_files("#upload-folder", str(folder))
        expect(page.locator("tr[data-state=ready]")).to_have_count(7)
        page.locator("[data-testid=send]").click()
        expect(page.locator("tr[data-state=registered], tr[data-state=rejected]")).to_have_count(
            7, timeout=60_000
        )
    page.mouse.move(5, 400)
    _shoot(page, out / "admin-upload.png")
    return _close(watched)


def datasets(browser: Browser, stack: RunningStack, demo: demo_data.Demo, out: Path) -> list[str]:
    """A researcher's dataset page: its charts and a COCO export packed and ready to download."""
    schema_id = stack.scalar("SELECT id FROM keypoint_schemas WHERE name = 'infant-pose-17'")
    with stack.uow_factory(demo.admin.actor) as uow:
        made = dataset_service.create_dataset(
            uow,
            dataset_service.DatasetIn(
                name="supine infants, ward A (Feb 2026)",
                keypoint_schema_id=schema_id,
                description="Verified supine recordings of ward A, split by infant.",
                fractions=SplitFractions(train=0.6, validation=0.2, test=0.2),
            ),
        )
    watched = Watched.open(browser, stack.base_url)
    page = watched.page
    sign_in(page, "vera")
    page.goto(f"/#/datasets/{made.id}")
    expect(page.locator("[data-chart=visibility] .joint-row").first).to_be_visible()
    page.get_by_role("button", name="Export", exact=True).click()
    expect(page.locator("[data-testid=export-job] [data-collection][data-status=PENDING]")).to_be_visible()
    stack.local.functions.invoke("collections_pack", {})
    expect(page.locator("[data-testid=export-job] [data-collection][data-status=READY]")).to_be_visible(
        timeout=15_000
    )
    _shoot(page, out / "datasets.png")
    page.goto("/#/datasets/collections")
    expect(page.locator("table[aria-label=Collections] tbody tr").first).to_be_visible()
    _shoot(page, out / "datasets-collections.png")
    return _close(watched)


def research(browser: Browser, stack: RunningStack, demo: demo_data.Demo, out: Path) -> list[str]:
    world = research_data.build(stack, demo.admin, demo.verifiers[0])
    watched = Watched.open(browser, stack.base_url)
    page = watched.page
    sign_in(page, demo.admin.username)
    page.goto(f"/#/research/anomaly?batch={world.fresh_batch}")
    page.get_by_role("button", name="Screen batch").click()
    expect(page.locator("[data-testid=screening] tbody tr").first).to_be_visible()
    _shoot(page, out / "research-anomaly.png")
    page.locator("[data-sort=anomaly_score]").click()
    page.locator("[data-sort=anomaly_score]").click()
    page.locator("[data-testid=screening] tbody tr").first.get_by_role("link", name="Explain").click()
    expect(page.locator("[data-testid=neighbours] figure").first).to_be_visible(timeout=15_000)
    _shoot(page, out / "research-anomaly-explanation.png")
    page.goto("/#/research/reports")
    page.get_by_label("Image id").fill(str(world.fresh_images[0]))
    page.get_by_role("button", name="Start analysis").click()
    expect(page.locator("[data-stage=completed][data-state=done]")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-testid=overlay]")).to_be_visible()
    _shoot(page, out / "research-report.png")
    return _close(watched)


def models(browser: Browser, stack: RunningStack, out: Path) -> list[str]:
    people = stack.people
    made = models_data.build(stack, people["ada"], people["anna"], people["vera"])
    watched = Watched.open(browser, stack.base_url)
    page = watched.page
    sign_in(page, "ada")
    page.goto(f"/#/models/{made['models'][models_data.LONG_VERSION]}")
    expect(page.get_by_test_id("gate-verdict")).to_contain_text("The gate passes.")
    _shoot(page, out / "models-promotion.png")
    page.locator("[data-chart=oks]").scroll_into_view_if_needed()
    _shoot(page, out / "models-oks.png")
    page.goto(f"/#/models/jobs?kind=inference&job={made['jobs']['1.0']}")
    followed = page.get_by_role("region", name="Followed job")
    expect(followed.locator(".status-pill")).to_have_text("completed")
    _shoot(page, out / "models-jobs.png")
    # Real jobs on the CPU over photographs: a one-epoch fine-tune, then an evaluation made a review batch.
    photos = models_data.photo_dataset(stack, people["ada"], people["anna"], people["vera"], "ward-photos")
    page.goto("/#/models/jobs")
    form = page.get_by_role("form", name="Start a training job")
    form.get_by_label("Base model").select_option(str(made["models"]["0.9"]))
    form.get_by_label("Training dataset").select_option(str(photos))
    for label, value in (("Epochs", "1"), ("Image size (px)", "64"), ("Batch", "4")):
        form.get_by_label(label, exact=True).fill(value)
    form.get_by_role("button", name="Start training").click()
    with models_data.jobs_on_schedule(stack):
        expect(followed.locator(".status-pill")).to_have_text("completed", timeout=240_000)
        _shoot(page, out / "models-training.png")
        page.goto("/#/models/jobs")
        form = page.get_by_role("form", name="Start an inference job")
        form.get_by_label("Model", exact=True).select_option(str(made["models"]["0.9"]))
        form.get_by_label("Dataset", exact=True).select_option(str(photos))
        form.get_by_role("button", name="Start evaluation").click()
        expect(followed.locator(".status-pill")).to_have_text("completed", timeout=180_000)
    followed.get_by_role("button", name="Turn predictions into a review batch").click()
    expect(page.get_by_test_id("review-batch")).to_contain_text("pre-annotated by the model")
    _shoot(page, out / "models-review-batch.png")
    return _close(watched)


def corrections(browser: Browser, stack: RunningStack, out: Path) -> list[str]:
    """Last: its batches take the verifier's queue first, so they come after every other screen."""
    people = stack.people
    corrections_data.build(stack, people["ada"], people["chloe"], people["vera"])
    watched = Watched.open(browser, stack.base_url)
    page = watched.page
    sign_in(page, "ada")
    page.goto("/#/admin/corrections")
    # the demo's own wards, pre-annotated minutes ago and corrected to the truth, come last
    expect(page.locator("[data-chart=distance] svg circle").nth(3)).to_be_visible()
    expect(page.locator("[data-testid=corrections-models]")).to_contain_text("ward-pose 1.1")
    _shoot(page, out / "admin-corrections.png")
    return _close(watched)


def entry_and_lists(browser: Browser, stack: RunningStack, out: Path) -> list[str]:
    """The screens the others pass by: sign-in, approvals, the catalogue, an import, the model
    registry and the reports list (after datasets(), research() and models() filled them)."""
    watched = Watched.open(browser, stack.base_url)
    page = watched.page
    page.goto("/#/signin")
    expect(page.get_by_label("User name or e-mail")).to_be_visible()
    _shoot(page, out / "signin.png")
    sign_in(page, "ada")
    page.goto("/#/admin/approvals")
    expect(page.locator("[data-role=dora]")).to_be_visible()
    _shoot(page, out / "admin-approvals.png")
    page.goto("/#/datasets?verification=VERIFIED")
    expect(page.locator("table[aria-label=Datasets] tbody tr").first).to_be_visible()
    _shoot(page, out / "datasets-catalogue.png")
    page.goto("/#/datasets/imports")
    page.get_by_label("Name").fill("external supine set (3 frames)")
    page.get_by_label("Archive (ZIP)").set_input_files(
        {"name": "external.zip", "mimeType": "application/zip", "buffer": coco_archive(3)}
    )
    page.get_by_role("button", name="Upload and import").click()
    state = page.locator("[data-testid=import-job] [data-import]")
    expect(state).to_have_attribute("data-status", "PENDING", timeout=10_000)
    stack.local.functions.invoke("dataset_imports", {})
    expect(state).to_have_attribute("data-status", "COMPLETED", timeout=15_000)
    _shoot(page, out / "datasets-imports.png")
    page.goto("/#/models")
    expect(page.locator("table[aria-label=Models] tbody tr").first).to_be_visible()
    _shoot(page, out / "models-registry.png")
    page.goto("/#/research/reports")
    expect(page.locator("table[aria-label=Analyses] tbody tr").first).to_be_visible()
    _shoot(page, out / "research-reports.png")
    return _close(watched)


def accounts(browser: Browser, stack: RunningStack, out: Path) -> list[str]:
    """Before any work: sign-up, registering with a role, awaiting approval. Last: the
    registration it makes would otherwise wait in admin-approvals.png."""
    watched = Watched.open(browser, stack.base_url)
    watched.allow("status of 403")  # GET /me of someone not registered yet: the register screen's cue
    page = watched.page
    page.goto("/#/signup")
    form = page.get_by_role("form", name="Create an account")
    form.get_by_label("User name").fill("noor")
    form.get_by_label("E-mail").fill("noor@example.org")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_label("I will work as").select_option("VERIFIER")
    _shoot(page, out / "signup.png")
    stack.sign_up("noor")  # an identity Cradle does not know yet: the register screen
    page.goto("/#/signin")
    page.get_by_label("User name or e-mail").fill("noor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Register")).to_be_visible()
    page.get_by_label("Role").select_option("VERIFIER")
    page.get_by_label("Specialty or expertise (optional)").fill("pediatric_physiotherapy")
    _shoot(page, out / "register.png")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("[data-state=awaiting-approval]")).to_be_visible()
    _shoot(page, out / "awaiting-approval.png")
    return _close(watched)


def _shoot(page: Page, path: Path) -> None:
    page.wait_for_timeout(400)  # let notices and transitions settle
    page.screenshot(path=str(path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")  # noqa: T201


def _close(watched: Watched) -> list[str]:
    problems = list(watched.problems)
    watched.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print("no Chromium: `make chromium` installs Debian's package", file=sys.stderr)  # noqa: T201
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with standalone_stack() as stack, sync_playwright() as playwright:
        demo = demo_data.build(stack)
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        problems = workbench(browser, stack, demo, args.out)
        problems += verification(browser, stack, args.out)
        problems += admin(browser, stack, args.out)
        problems += uploads(browser, stack, args.out)

        problems += datasets(browser, stack, demo, args.out)
        problems += research(browser, stack, demo, args.out)
        problems += models(browser, stack, args.out)
        problems += corrections(browser, stack, args.out)
        problems += entry_and_lists(browser, stack, args.out)
        problems += accounts(browser, stack, args.out)
        browser.close()
    for problem in problems:
        print(problem, file=sys.stderr)  # noqa: T201
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
