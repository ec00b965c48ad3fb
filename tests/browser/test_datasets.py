"""Datasets for researchers: a verifier makes a dataset from verified images, exports it as COCO
keypoints, follows the packing across a reload and downloads the ZIP; an admin imports that ZIP
back and follows the import to COMPLETED."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cradlepose.datasets import datasets as dataset_service
from cradlepose.domain.enums import Role
from tests.browser import demo_data
from tests.browser.a11y import assert_accessible
from tests.browser.archives import coco_archive, zip_of
from tests.browser.browser import Watched
from tests.browser.pages import no_horizontal_overflow, sign_in
from tests.browser.stack import RunningStack

pytestmark = pytest.mark.browser

LONG_NAME = "supine-ward-e-" + "very-long-dataset-name-" * 6


@pytest.fixture(scope="module")
def verified(stack: RunningStack) -> list[int]:
    """Four APPROVED images (the whole annotate → verify loop, through the services)."""
    admin = stack.admin("ada")
    bea = stack.worker("bea", Role.ANNOTATOR, admin)
    victor = stack.worker("victor", Role.VERIFIER, admin)
    batch = stack.ready_batch(admin, n=4, name="ward-e-2026-05")
    demo_data.assign(stack, admin, batch, bea)
    done = demo_data.annotate(stack, bea, batch, correct=True)
    for image_id in done:
        demo_data.decide(stack, victor, image_id, "APPROVED")
    return done


def _signed_in(open_page: Callable[[], Watched], who: str) -> Page:
    page = open_page().page
    sign_in(page, who)
    return page


def test_a_verifier_makes_a_dataset_exports_it_and_downloads_the_coco_zip(
    stack: RunningStack, verified: list[int], open_page: Callable[[], Watched], tmp_path: Path
) -> None:
    page = _signed_in(open_page, "victor")
    page.get_by_role("link", name="Datasets").click()
    expect(page.get_by_text("No dataset matches")).to_be_visible()

    page.get_by_role("button", name="New dataset…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Name").fill(LONG_NAME)
    dialog.get_by_label("train fraction").fill("0.5")
    dialog.get_by_label("validation fraction").fill("0")
    dialog.get_by_label("test fraction").fill("0.5")
    dialog.get_by_role("button", name="Make the dataset").click()
    expect(page.locator("[data-page=dataset] h1")).to_have_text(LONG_NAME)
    expect(page.locator(".kpi").first).to_contain_text("4")
    expect(page.locator("[data-chart=splits] svg")).to_be_visible()
    joints = page.locator("[data-chart=visibility] .joint-row")
    expect(joints).to_have_count(17)
    expect(joints.first).to_contain_text("4/4")  # YOLO's keypoints of the scene: every joint visible
    expect(page.locator("[data-chart=ages]")).to_contain_text("without an age")
    no_horizontal_overflow(page)
    assert_accessible(page)
    dataset_id = int(page.url.split("#/datasets/")[1].split("?")[0])

    page.get_by_label("Export format").select_option("COCO_KEYPOINTS")
    page.get_by_role("button", name="Export", exact=True).click()
    job = page.locator("[data-testid=export-job] [data-collection]")
    expect(job).to_have_attribute("data-status", "PENDING")
    collection_id = int(job.get_attribute("data-collection") or 0)
    assert f"export={collection_id}" in page.url

    # A reload keeps following the same export (its id is in the URL).
    page.reload()
    expect(page.locator(f"[data-testid=export-job] [data-collection='{collection_id}']")).to_have_attribute(
        "data-status", "PENDING"
    )
    stack.local.functions.invoke("collections_pack", {})  # the packer's schedule, once
    expect(job).to_have_attribute("data-status", "READY", timeout=10_000)
    expect(page.locator("table[aria-label=Exports] tbody tr")).to_have_count(1)

    with page.expect_download() as download_info:
        page.locator(f"[data-download='{collection_id}']").click()
    archive = tmp_path / "export.zip"
    download_info.value.save_as(archive)
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        documents = [
            n for n in names if n.startswith("annotations/person_keypoints_") and n.endswith(".json")
        ]
        assert documents, names
        image_ids = set()
        for name in documents:
            coco = json.loads(zf.read(name))
            assert coco["categories"][0]["keypoints"]
            image_ids |= {img["id"] for img in coco["images"]}
            assert len(coco["annotations"]) == len(coco["images"])
        assert image_ids == set(verified)
        assert sum(1 for n in names if n.startswith("images/")) == len(verified)
        manifest = json.loads(zf.read("cradle.json"))
        assert manifest["include_unusable"] is False
    assert stack.scalar("SELECT dataset_id FROM collections WHERE id = :c", c=collection_id) == dataset_id


def test_an_admin_imports_an_archive_and_follows_it_to_completed(
    stack: RunningStack, verified: list[int], open_page: Callable[[], Watched], tmp_path: Path
) -> None:
    archive = coco_archive(3)
    page = _signed_in(open_page, "ada")
    page.goto("/#/datasets/imports")
    page.get_by_label("Name").fill("external supine set")
    page.get_by_label("Archive (ZIP)").set_input_files(
        {"name": "external.zip", "mimeType": "application/zip", "buffer": archive}
    )
    page.get_by_role("button", name="Upload and import").click()
    state = page.locator("[data-testid=import-job] [data-import]")
    expect(state).to_have_attribute("data-status", "PENDING", timeout=10_000)
    import_id = int(state.get_attribute("data-import") or 0)
    assert f"import={import_id}" in page.url

    page.reload()
    expect(page.locator(f"[data-import='{import_id}']")).to_have_attribute("data-status", "PENDING")
    stack.local.functions.invoke("dataset_imports", {})  # the import worker's schedule, once
    expect(state).to_have_attribute("data-status", "COMPLETED", timeout=15_000)
    expect(state).to_contain_text("3 images")
    page.get_by_role("link", name="Open the dataset").click()
    expect(page.locator("[data-page=dataset] h1")).to_have_text("external supine set")


def test_a_broken_archive_is_refused_with_the_problem_detail(
    stack: RunningStack, verified: list[int], open_page: Callable[[], Watched]
) -> None:
    watched = open_page()
    watched.allow("status of 422")  # the refused archive: the answer is shown, not a fault
    page = watched.page
    sign_in(page, "ada")
    page.goto("/#/datasets/imports")
    page.get_by_label("Name").fill("broken")
    page.get_by_label("Archive (ZIP)").set_input_files(
        {
            "name": "broken.zip",
            "mimeType": "application/zip",
            "buffer": zip_of({"readme.txt": b"no COCO here"}),
        }
    )
    page.get_by_role("button", name="Upload and import").click()
    refused = page.locator("[data-testid=import-job] [role=alert]")
    expect(refused).to_be_visible()
    # The problem document's detail, as the API wrote it.
    expect(refused).to_contain_text("holds no COCO keypoints .json file and no YOLO dataset .yaml")
    assert stack.scalar("SELECT status FROM dataset_imports WHERE name = 'broken'") == "AWAITING_UPLOAD"


def test_a_verifier_builds_a_collection_and_follows_it_to_ready(
    stack: RunningStack, verified: list[int], open_page: Callable[[], Watched]
) -> None:
    page = _signed_in(open_page, "victor")
    page.goto("/#/datasets/collections")
    page.get_by_role("button", name="New collection…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Name", exact=True).fill("ward E, quality 8 and up")
    dialog.get_by_label("Format").select_option("YOLO_POSE")
    dialog.get_by_label("Minimum image quality (1–10)").fill("8")
    dialog.get_by_role("button", name="Make the collection").click()
    job = page.locator("[data-testid=collection-job] [data-collection]")
    expect(job).to_have_attribute("data-status", "PENDING")
    collection_id = int(job.get_attribute("data-collection") or 0)
    assert f"collection={collection_id}" in page.url
    stack.local.functions.invoke("collections_pack", {})
    expect(job).to_have_attribute("data-status", "READY", timeout=10_000)
    expect(page.locator(f"[data-download='{collection_id}']")).to_be_visible()
    row = page.locator("table[aria-label=Collections] tbody tr").filter(has_text="ward E, quality 8 and up")
    expect(row).to_contain_text("YOLO pose")
    no_horizontal_overflow(page)
    snapshot = stack.scalar("SELECT filter_snapshot FROM collections WHERE id = :c", c=collection_id)
    assert "min_quality" in json.dumps(snapshot), snapshot  # the form's filter reached the query


def test_the_catalogue_searches_by_text_and_origin(
    stack: RunningStack, verified: list[int], open_page: Callable[[], Watched]
) -> None:
    admin = stack.people["ada"]
    schema_id = stack.scalar("SELECT id FROM keypoint_schemas WHERE name = 'infant-pose-17'")
    with stack.uow_factory(admin.actor) as uow:
        dataset_service.create_dataset(
            uow, dataset_service.DatasetIn(name="catalogue-search-target", keypoint_schema_id=schema_id)
        )
    page = _signed_in(open_page, "victor")
    page.goto("/#/datasets")
    rows = page.locator("table[aria-label=Datasets] tbody tr")
    page.get_by_label("Search").fill("no-such-dataset-anywhere")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("No dataset matches")).to_be_visible()
    page.get_by_label("Search").fill("catalogue-search-target")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("curated")
    page.get_by_label("Origin").select_option("IMPORTED")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("No dataset matches")).to_be_visible()
