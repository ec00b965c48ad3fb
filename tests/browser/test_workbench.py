"""The workbench with the keyboard: selecting, visibility, undo/redo, placing, the shortcut panel, and
a draft changed in another tab (412: reloaded, and the person told)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from cradlepose.domain.enums import Role
from tests.browser import demo_data
from tests.browser.browser import Watched
from tests.browser.pages import keypoint, keypoint_on_screen, no_horizontal_overflow, sign_in
from tests.browser.scene import HEIGHT, WIDTH
from tests.browser.stack import RunningStack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def team(stack: RunningStack) -> dict[str, int]:
    admin = stack.admin("ada")
    bea = stack.worker("bea", Role.ANNOTATOR, admin)
    cleo = stack.worker("cleo", Role.ANNOTATOR, admin)
    first = stack.ready_batch(admin, n=2, name="keyboard")
    second = stack.ready_batch(admin, n=1, name="two-tabs")
    demo_data.assign(stack, admin, first, bea)
    demo_data.assign(stack, admin, second, cleo)
    return {"first": first, "second": second}


def _vis(page: Page, name: str) -> str | None:
    return page.locator(f".kp-row[data-name={name}] .vis-tag").text_content()


def test_keys_visibility_undo_redo_and_placing(
    stack: RunningStack, team: dict[str, int], open_page: Callable[[], Watched]
) -> None:
    page = open_page().page
    sign_in(page, "bea")
    expect(page.locator("[data-view=workbench] canvas")).to_be_visible()
    no_horizontal_overflow(page)

    page.keyboard.press("?")
    panel = page.locator("dialog[open]")
    expect(panel).to_contain_text("Keyboard shortcuts — Workbench")
    expect(panel).to_contain_text("Nudge the selected keypoint")
    page.keyboard.press("Escape")
    expect(panel).to_have_count(0)

    badge = page.locator("[data-testid=selected-keypoint] .selected-name")
    page.keyboard.press("1")
    page.keyboard.press("5")  # quickly: the 15th keypoint
    expect(badge).to_have_text("right knee")
    page.keyboard.press("Tab")
    expect(badge).to_have_text("left ankle")
    page.keyboard.press("Shift+Tab")
    expect(badge).to_have_text("right knee")

    page.keyboard.press("o")
    assert _vis(page, "right_knee") == "O"
    page.keyboard.press("Control+z")
    assert _vis(page, "right_knee") == "V"
    page.keyboard.press("Control+Shift+z")
    assert _vis(page, "right_knee") == "O"

    page.keyboard.press("a")
    assert _vis(page, "right_knee") == "A"
    target = keypoint_on_screen(page, (WIDTH, HEIGHT), 400, 500)
    page.mouse.click(*target)  # an absent keypoint is placed where one clicks
    assert _vis(page, "right_knee") == "V"

    page.keyboard.press("g")
    expect(page.get_by_role("button", name="Show YOLO's original keypoints (G)")).to_have_attribute(
        "aria-pressed", "false"
    )
    page.keyboard.press("n")
    page.keyboard.type("knee under the blanket fold")
    page.keyboard.press("Escape")
    expect(page.locator(".kp-row[data-name=right_knee] .note-mark")).to_be_visible()
    page.keyboard.press("s")
    expect(page.locator("[data-testid=save-state]")).to_have_attribute("data-state", "saved")

    draft = stack.rows(
        "SELECT a.refined_keypoints, a.keypoint_notes, a.status FROM annotations a JOIN images i ON i.id = a.image_id "
        "WHERE i.batch_id = :b",
        b=team["first"],
    )
    assert len(draft) == 1
    knee = keypoint(draft[0].refined_keypoints, "right_knee")
    assert knee["visible"] == 2
    assert (knee["x"], knee["y"]) == pytest.approx((400, 500), abs=1.5)
    assert draft[0].status == "DRAFT"
    assert list(draft[0].keypoint_notes.values()) == ["knee under the blanket fold"]

    # required keypoints cannot be left absent: the page says so instead of submitting
    page.keyboard.press("1")
    page.keyboard.press("a")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Required keypoints are absent: nose.")).to_be_visible()
    assert stack.scalar("SELECT count(*) FROM annotations WHERE status = 'SUBMITTED'") == 0


def test_a_draft_saved_in_another_tab_is_reloaded_and_the_person_told(
    stack: RunningStack, team: dict[str, int], open_page: Callable[[], Watched]
) -> None:
    first_tab = open_page().page
    sign_in(first_tab, "cleo")
    expect(first_tab.locator("[data-view=workbench] canvas")).to_be_visible()
    first_tab.keyboard.press("ArrowUp")
    expect(first_tab.locator("[data-testid=save-state]")).to_have_attribute("data-state", "saved")

    second = open_page()
    second.allow("status of 412")  # the stale save, on purpose
    second_tab = second.page
    sign_in(second_tab, "cleo")
    expect(second_tab.locator("[data-testid=save-state]")).to_have_attribute("data-state", "saved")

    first_tab.keyboard.press("Shift+ArrowLeft")
    expect(first_tab.locator("[data-testid=save-state]")).to_have_attribute("data-state", "saved")
    saved = stack.scalar("SELECT refined_keypoints FROM annotations WHERE status = 'DRAFT' AND image_id IN "
                         "(SELECT id FROM images WHERE batch_id = :b)", b=team["second"])  # fmt: skip

    second_tab.keyboard.press("ArrowDown")
    expect(second_tab.get_by_text("This draft was saved elsewhere in the meantime")).to_be_visible()
    expect(second_tab.locator("[data-testid=save-state]")).to_have_attribute("data-state", "saved")
    after = stack.scalar("SELECT refined_keypoints FROM annotations WHERE status = 'DRAFT' AND image_id IN "
                         "(SELECT id FROM images WHERE batch_id = :b)", b=team["second"])  # fmt: skip
    assert after == saved  # the stale write changed nothing
