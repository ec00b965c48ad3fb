"""Uploads in the browser (issue 20): an admin creates a batch with its metadata, drops a folder of
images with one that is not an image and one that is corrupt, follows each file to S3 and its
registration, reloads half-way and resumes, and completes the upload."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from cradlepose.domain.image_metadata import pseudonym_problem
from tests.browser import scene
from tests.browser.a11y import assert_accessible
from tests.browser.browser import Watched
from tests.browser.pages import no_horizontal_overflow, sign_in
from tests.browser.stack import RunningStack

pytestmark = pytest.mark.browser

LONG_NAME = "ward-u " + "very long batch name " * 11  # 238 characters


@pytest.fixture(scope="module")
def uploader(stack: RunningStack) -> str:
    return stack.admin("uma").username


def _folder(root: Path, n: int = 6) -> Path:
    folder = root / "session-01"
    folder.mkdir()
    for i in range(n):
        (folder / f"frame-{i:02d}.jpg").write_bytes(scene.scene(7000 + i).jpeg)
    (folder / "notes.txt").write_text("not an image\n")
    (folder / "zz-corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG" * 20)
    with (folder / "huge.jpg").open("wb") as huge:  # one byte over the 50 MB limit (sparse on disk)
        huge.truncate(50 * 1024 * 1024 + 1)
    return folder


def _state(page: Page, name: str) -> Locator:
    return page.locator(f'tr[data-file="{name}"]')


def test_upload_a_folder_reload_half_way_and_complete(
    stack: RunningStack, uploader: str, open_page: Callable[[], Watched], tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    csv = tmp_path / "images.csv"
    csv.write_text("filename,age_months,sex,pseudonym\nframe-00.jpg,4.5,female,CP-017\n")
    watched = open_page()
    watched.allow("409")  # the duplicate refused before its upload, on purpose
    page = watched.page
    page.on("dialog", lambda dialog: dialog.accept())  # "leave the page?" while files are in flight
    sign_in(page, uploader)
    page.goto("/#/admin/upload")
    page.get_by_label("Batch name").fill(LONG_NAME)
    page.get_by_label("Infant age (months)").fill("3")
    page.get_by_label("Session").fill("clinic")
    page.get_by_label("Institution").fill("Site A")
    page.set_input_files("#upload-csv", str(csv))
    expect(page.locator("[data-testid=csv-report]")).to_contain_text("Metadata for 1 file")
    page.set_input_files("#upload-folder", str(folder))
    expect(_state(page, "notes.txt")).to_have_attribute("data-state", "skipped")
    expect(_state(page, "notes.txt")).to_contain_text("not a JPEG or PNG image")
    expect(_state(page, "huge.jpg")).to_have_attribute("data-state", "skipped")
    expect(_state(page, "huge.jpg")).to_contain_text("larger than the upload limit (50 MB)")
    expect(page.locator("tr[data-state=ready]")).to_have_count(7)

    # The first three transfers go through; the rest hang, as a connection that drops would.
    passed = 0
    blocking = True
    lock = threading.Lock()

    def s3(route: Route) -> None:
        nonlocal passed
        url = route.request.url
        if not blocking or route.request.method != "POST" or url.startswith(stack.base_url):
            route.continue_()
            return
        with lock:
            passed += 1
            through = passed <= 3
        if through:
            route.continue_()
        # else: never answered; the reload cuts it off

    page.route("**/*", s3)
    page.locator("[data-testid=send]").click()
    expect(page).to_have_url(re.compile(r"#/admin/upload/\d+$"))
    batch_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("tr[data-state=registered]")).to_have_count(3, timeout=30_000)
    page.wait_for_timeout(1500)  # nothing else arrives while the rest are held
    expect(page.locator("tr[data-state=uploading], tr[data-state=waiting]")).not_to_have_count(0)
    no_horizontal_overflow(page)
    assert stack.scalar("SELECT total_images FROM image_batches WHERE id = :b", b=batch_id) == 7
    age = stack.scalar(
        "SELECT infant_metadata->>'age_months' FROM images WHERE batch_id = :b AND original_filename = 'frame-00.jpg'",
        b=batch_id,
    )
    assert age == "4.5"  # the CSV's row wins over the batch's default

    blocking = False  # the reload cancels the transfers held so far; nothing else is held
    page.reload()
    page.unroute_all(behavior="ignoreErrors")
    expect(page.locator("h1")).to_contain_text("ward-u very long batch name")
    expect(page.locator("tr[data-state=registered]")).to_have_count(3)
    # Choose the folder again, with a renamed copy of a registered image: skipped files, a refused duplicate.
    (folder / "copy-of-frame-00.jpg").write_bytes((folder / "frame-00.jpg").read_bytes())
    page.set_input_files("#upload-folder", str(folder))
    expect(page.locator("tr[data-state=ready]")).to_have_count(5)
    page.locator("[data-testid=send]").click()
    expect(page.locator("tr[data-state=registered]")).to_have_count(6, timeout=30_000)
    original = stack.scalar(
        "SELECT id FROM images WHERE batch_id = :b AND original_filename = 'frame-00.jpg'", b=batch_id
    )
    expect(_state(page, "copy-of-frame-00.jpg")).to_have_attribute("data-state", "rejected")
    expect(_state(page, "copy-of-frame-00.jpg")).to_contain_text(f"duplicate of image {original}")
    corrupt = _state(page, "zz-corrupt.jpg")
    expect(corrupt).to_have_attribute("data-state", "rejected", timeout=30_000)
    reason = corrupt.locator("[data-testid=reason]").inner_text()
    assert reason, "a rejected file says why"
    assert stack.scalar("SELECT count(*) FROM images WHERE batch_id = :b", b=batch_id) == 6

    page.get_by_role("button", name="Complete upload").click()
    expect(page.get_by_text("upload complete")).to_be_visible()
    expect(page.locator("[data-testid=send]")).to_have_count(0)
    expect(page.get_by_text("Uploads are closed")).to_be_visible()
    assert_accessible(page)
    assert stack.scalar("SELECT total_images FROM image_batches WHERE id = :b", b=batch_id) == 6
    assert stack.scalar("SELECT count(*) FROM pipeline_runs WHERE batch_id = :b", b=batch_id) == 1
    assert page.evaluate(f"localStorage.getItem('cradle.upload.{batch_id}')") is None


def test_a_bad_metadata_csv_is_refused_with_its_rows(
    stack: RunningStack, uploader: str, open_page: Callable[[], Watched], tmp_path: Path
) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("filename,age_months,pseudonym\na.jpg,300,CP-1\nb.jpg,3,Alice\n")
    page = open_page().page
    sign_in(page, uploader)
    page.goto("/#/admin/upload")
    page.set_input_files("#upload-csv", str(csv))
    report = page.locator("[data-testid=csv-report]")
    expect(report).to_contain_text("2 problems")
    expect(report).to_contain_text("row 2, age_months")
    expect(report).to_contain_text("row 3, pseudonym")
    page.get_by_label("Batch name").fill("never created")
    image = tmp_path / "a.jpg"
    image.write_bytes(scene.scene(7100).jpeg)
    page.set_input_files("#upload-files", [str(image)])
    expect(page.locator("tr[data-state=ready]")).to_have_count(1)
    page.locator("[data-testid=send]").click()
    expect(page.locator("[data-testid=upload-error]")).to_contain_text("The metadata CSV has problems")
    assert stack.scalar("SELECT count(*) FROM image_batches WHERE batch_name = 'never created'") == 0


def test_a_dropped_transfer_is_retried(
    stack: RunningStack, uploader: str, open_page: Callable[[], Watched], tmp_path: Path
) -> None:
    folder = tmp_path / "retry"
    folder.mkdir()
    (folder / "only.jpg").write_bytes(scene.scene(7200).jpeg)
    watched = open_page()
    watched.allow("ERR_CONNECTION_RESET")  # the drop the test provokes
    page = watched.page
    sign_in(page, uploader)
    page.goto("/#/admin/upload")
    page.get_by_label("Batch name").fill("ward-r retried")
    page.set_input_files("#upload-folder", str(folder))
    expect(page.locator("tr[data-state=ready]")).to_have_count(1)
    attempts = 0

    def s3(route: Route) -> None:
        nonlocal attempts
        if route.request.method != "POST" or route.request.url.startswith(stack.base_url):
            route.continue_()
            return
        attempts += 1
        if attempts == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/*", s3)
    page.locator("[data-testid=send]").click()
    expect(_state(page, "only.jpg")).to_have_attribute("data-state", "registered", timeout=30_000)
    assert attempts == 2


@pytest.mark.parametrize(
    "value",
    [
        "CP-017",
        "INF_0042",
        "s-1",
        "Alice",
        "Smith3",
        "1234567",
        "MRN-12",
        "a1",
        "x",
        "ab cd1",
        "Q" * 4 + "1" * 36,
    ],
)
def test_the_browser_checks_a_pseudonym_as_the_api_does(
    stack: RunningStack, open_page: Callable[[], Watched], value: str
) -> None:
    page = open_page().page
    page.goto("/")
    browser_says = page.evaluate(
        "async (v) => (await import('./js/views/uploads/metadata-csv.js')).pseudonymProblem(v)", value
    )
    assert browser_says == pseudonym_problem(value)
