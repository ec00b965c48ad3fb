"""Issue 19 in the browser: editing a batch, reassigning and unassigning its work, releasing a
verification claim, deciding on an unusable flag, and flagging an image from the workbench."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from cradlepose.domain.enums import Role
from cradlepose.workflow import unusable, verifications
from tests.browser import demo_data
from tests.browser.browser import Watched
from tests.browser.pages import no_horizontal_overflow, sign_in
from tests.browser.stack import RunningStack

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
