"""Issue 19 in the browser: editing a batch, reassigning and unassigning its work, releasing a
verification claim, deciding on an unusable flag, and flagging an image from the workbench."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from cradlepose.adapters.storage import S3Storage
from cradlepose.domain.enums import Role
from cradlepose.intake import batches
from cradlepose.workflow import unusable, verifications
from tests.browser import demo_data
from tests.browser.a11y import assert_accessible
from tests.browser.browser import Watched
from tests.browser.pages import no_horizontal_overflow, sign_in
from tests.browser.stack import RunningStack
from tests.images import jpeg_with_metadata
from tests.stack_support import upload, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def project(stack: RunningStack) -> dict[str, int]:
    admin = stack.admin("ada")
    gil = stack.worker("gil", Role.ANNOTATOR, admin)
    stack.worker("hana", Role.ANNOTATOR, admin)
    ivo = stack.worker("ivo", Role.ANNOTATOR, admin)
    victor = stack.worker("victor", Role.VERIFIER, admin)
    managed = stack.ready_batch(admin, n=2, name="ward-g-2026-05")
    demo_data.assign(stack, admin, managed, gil)
    # ivo's batch: one image submitted and claimed by victor, one flagged, one still to do
    reviewed = stack.ready_batch(admin, n=3, name="ward-h-2026-05")
    demo_data.assign(stack, admin, reviewed, ivo)
    [submitted] = demo_data.annotate(stack, ivo, reviewed, correct=True, only=1)
    with stack.uow_factory(victor.actor) as uow:
        item = verifications.claim_next(uow, verifications.Queue.SUBMITTED)
    assert item is not None
    assert item.image_id == submitted
    flagged = stack.scalar(
        "SELECT min(id) FROM images WHERE batch_id = :b AND status = 'ASSIGNED'", b=reviewed
    )
    with stack.uow_factory(ivo.actor) as uow:
        unusable.flag(uow, flagged, unusable.FlagIn(reason=unusable.UnusableReason.BODY_OUT_OF_FRAME))
    return {"managed": managed, "claimed": submitted, "flagged": flagged}


def _admin(open_page: Callable[[], Watched]) -> Page:
    page = open_page().page
    sign_in(page, "ada")
    return page


def test_edit_a_batch_then_reassign_and_unassign_its_work(
    stack: RunningStack, project: dict[str, int], open_page: Callable[[], Watched]
) -> None:
    page = _admin(open_page)
    page.goto("/#/admin/batches")
    row = page.locator("[data-page=batches] tr", has_text="ward-g-2026-05")
    row.get_by_role("button", name="Edit…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Name").fill("ward-g-2026-05 (urgent)")
    dialog.get_by_label("Priority (1–10, 10 first)").fill("9")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_text("ward-g-2026-05 (urgent) saved")).to_be_visible()
    batch = stack.rows(
        "SELECT batch_name, processing_priority FROM image_batches WHERE id = :b", b=project["managed"]
    )
    assert (batch[0].batch_name, batch[0].processing_priority) == ("ward-g-2026-05 (urgent)", 9)

    row = page.locator("[data-page=batches] tr", has_text="ward-g-2026-05 (urgent)")
    row.get_by_role("button", name="Assignments").click()
    page.locator("dialog[open]").get_by_role("button", name="Reassign…").click()
    chooser = page.locator("dialog[open]", has_text="New annotator")
    chooser.get_by_label("New annotator").select_option(label="hana")
    chooser.get_by_role("button", name="Reassign").click()
    expect(page.get_by_text("Reassigned to hana")).to_be_visible()
    holder = "SELECT u.username FROM batch_assignments a JOIN users u ON u.id = a.annotator_id WHERE a.batch_id = :b"
    assert stack.scalar(holder, b=project["managed"]) == "hana"

    row.get_by_role("button", name="Assignments").click()
    expect(page.locator("dialog[open] table")).to_contain_text("hana")
    page.locator("dialog[open]").get_by_role("button", name="Unassign").click()
    page.locator("dialog[open]", has_text="Take assignment").get_by_role("button", name="Unassign").click()
    expect(page.get_by_text("is in the pool")).to_be_visible()
    assert stack.scalar(holder, b=project["managed"]) == "system"
    row.get_by_role("button", name="Assignments").click()
    expect(page.locator("dialog[open] table")).to_contain_text("the pool")
    page.keyboard.press("Escape")
    no_horizontal_overflow(page)


def test_release_a_claim_and_accept_an_unusable_flag(
    stack: RunningStack, project: dict[str, int], open_page: Callable[[], Watched]
) -> None:
    page = _admin(open_page)
    page.keyboard.press("7")  # Claims and flags
    claims = page.locator("[data-testid=claims]")
    expect(claims).to_contain_text("victor")
    claims.locator(f"[data-release-claim='{project['claimed']}']").click()
    page.locator("dialog[open]").get_by_role("button", name="Release").click()
    expect(page.get_by_text(f"Claim on image #{project['claimed']} released")).to_be_visible()
    expect(claims).to_contain_text("Nobody holds a claim")
    assert stack.scalar("SELECT current_verifier FROM images WHERE id = :i", i=project["claimed"]) is None
    assert stack.scalar("SELECT status FROM images WHERE id = :i", i=project["claimed"]) == "SUBMITTED"

    flags = page.locator("[data-testid=flags]")
    expect(flags).to_contain_text("body out of frame")
    flags.locator(f"[data-accept-flag='{project['flagged']}']").click()
    page.locator("dialog[open]").get_by_role("button", name="Accept").click()
    expect(page.get_by_text(f"Image #{project['flagged']} excluded")).to_be_visible()
    expect(flags).to_contain_text("No flag is waiting")
    assert stack.scalar("SELECT status FROM images WHERE id = :i", i=project["flagged"]) == "REJECTED"
    no_horizontal_overflow(page)


def test_an_annotator_flags_an_image_as_unusable_from_the_workbench(
    stack: RunningStack, project: dict[str, int], open_page: Callable[[], Watched]
) -> None:
    page = open_page().page
    sign_in(page, "ivo")
    expect(page.locator("[data-view=workbench] canvas")).to_be_visible()
    image_id = stack.scalar(
        "SELECT id FROM images WHERE current_annotator = (SELECT id FROM users WHERE username = 'ivo') "
        "AND status IN ('ASSIGNED', 'IN_PROGRESS') ORDER BY id LIMIT 1"
    )
    page.locator("[data-testid=flag-unusable]").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Reason").select_option("OTHER")
    dialog.get_by_role("button", name="Flag as unusable").click()
    expect(dialog).to_be_visible()  # "other" needs words: the form does not close without them
    dialog.get_by_label("What is wrong").fill("two infants in the cot")
    dialog.get_by_role("button", name="Flag as unusable").click()
    expect(page.get_by_text("A verifier decides; the next image is open.")).to_be_visible()
    flag = stack.scalar("SELECT unusable_flag FROM images WHERE id = :i", i=image_id)
    assert flag["reason"] == "OTHER"
    assert flag["text"] == "two infants in the cot"
    assert stack.scalar("SELECT status FROM images WHERE id = :i", i=image_id) == "SUBMITTED"


def test_a_failed_pipeline_is_restarted_from_the_batch_screen(
    stack: RunningStack, project: dict[str, int], open_page: Callable[[], Watched]
) -> None:
    # Given a batch whose inference task fails for real: the container starts on a device that does
    # not exist, says so and exits, and the state machine records the run FAILED at its chunk
    runner = stack.local.runner
    assert runner is not None
    admin = stack.people["ada"]
    with stack.uow_factory(admin.actor) as uow:
        files = [batches.FileToUpload(filename=f"{n}.jpg") for n in ("a", "b")]
        created = batches.create_batch(
            uow,
            S3Storage(),
            batches.BatchIn(batch_name="ward-r-restart", uploads=batches.NamedFiles(files=files)),
        )
    batch_id = created.batch.id
    runner.override_next_task({"CRADLE_DEVICE": "no-such-device"})
    for seed, form in enumerate(created.uploads):
        upload(form.model_dump(), jpeg_with_metadata(seed=seed), form.filename)
    failed = "SELECT status FROM pipeline_runs WHERE batch_id = :b AND attempt = 1"
    wait_for(lambda: stack.scalar(failed, b=batch_id) == "FAILED", timeout_s=180)

    # When the admin opens the batch and restarts its pipeline
    page = _admin(open_page)
    page.goto(f"/#/admin/batches/{batch_id}")
    pipeline = page.locator("[data-testid=batch-pipeline]")
    expect(pipeline).to_contain_text("Pipeline run 1: failed")
    expect(pipeline).to_contain_text("failed at PreAnnotate")
    assert_accessible(page)
    pipeline.get_by_role("button", name="Restart pipeline").click()
    page.locator("dialog[open]").get_by_role("button", name="Restart pipeline").click()
    expect(page.locator("#notices")).to_contain_text("Pipeline of ward-r-restart restarted (run 2)")

    # Then run 2 pre-annotates both images and the batch is ready; the button is gone
    ready = "SELECT status FROM image_batches WHERE id = :b"
    wait_for(lambda: stack.scalar(ready, b=batch_id) == "READY_FOR_ANNOTATION", timeout_s=240)
    page.get_by_role("button", name="Refresh").click()
    expect(pipeline).to_contain_text("Pipeline run 2: finished")
    expect(pipeline.get_by_role("button", name="Restart pipeline")).to_have_count(0)
    statuses = stack.rows(
        "SELECT status, count(*) FROM images WHERE batch_id = :b GROUP BY status", b=batch_id
    )
    assert [tuple(r) for r in statuses] == [("YOLO_PROCESSED", 2)]
    restarted_by = stack.scalar(
        "SELECT u.username FROM audit_logs a JOIN users u ON u.id = a.user_id"
        " WHERE a.action = 'PIPELINE_REQUESTED' AND a.resource_id = :b AND a.new_values->>'attempt' = '2'",
        b=batch_id,
    )
    assert restarted_by == "ada"
