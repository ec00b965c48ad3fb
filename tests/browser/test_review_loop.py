"""One person's way into Cradle and one image's way through the human loop, in a real browser.

admin approves a new annotator and assigns a batch → the annotator drags a keypoint and submits
→ the verifier asks for a revision → the annotator fixes it → the verifier approves; the database
holds the two annotation versions and both decisions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from cradlepose.domain.enums import Role
from tests.browser.browser import Watched
from tests.browser.pages import (
    drag,
    fitted_scale,
    keypoint,
    keypoint_on_screen,
    no_horizontal_overflow,
    pick_score,
    sign_in,
    sign_up,
)
from tests.browser.scene import HEIGHT, WIDTH
from tests.browser.stack import RunningStack

pytestmark = pytest.mark.browser

SIZE = (WIDTH, HEIGHT)


def _yolo(stack: RunningStack, image_id: int) -> dict[str, Any]:
    value: dict[str, Any] = stack.scalar("SELECT yolo_keypoints FROM images WHERE id = :i", i=image_id)
    return value


def test_approve_annotate_revise_approve(stack: RunningStack, open_page: Callable[[], Watched]) -> None:
    admin = stack.admin("ada")
    stack.worker("victor", Role.VERIFIER, admin)
    batch_id = stack.ready_batch(admin, n=2, name="ward-b-2026-03")
    first_image = stack.scalar("SELECT min(id) FROM images WHERE batch_id = :b", b=batch_id)

    # --- a newcomer signs up and waits
    annotator = open_page().page
    sign_up(annotator, "anna")
    expect(annotator.locator("[data-state=awaiting-approval]")).to_be_visible()
    expect(annotator.get_by_role("heading", name="Awaiting approval")).to_be_visible()

    # --- the admin approves her and gives her the batch
    boss = open_page().page
    sign_in(boss, "ada")
    expect(boss).to_have_url(f"{stack.base_url}/#/admin/approvals")
    expect(boss.locator("[data-testid=pending-count]")).to_have_text("1")
    no_horizontal_overflow(boss)
    boss.locator("[data-approve=anna]").click()
    expect(boss.get_by_text("anna approved as annotator")).to_be_visible()
    expect(boss.locator("[data-testid=pending-count]")).to_be_hidden()
    assert stack.scalar("SELECT is_approved FROM users WHERE username = 'anna'") is True
    boss.get_by_role("link", name="Batches").click()
    boss.locator(f"[data-assign='{batch_id}']").click()
    dialog = boss.locator("dialog[open]")
    anna_id = stack.scalar("SELECT id FROM users WHERE username = 'anna'")
    dialog.locator("select[name=annotator_id]").select_option(str(anna_id))
    dialog.get_by_role("button", name="Assign", exact=True).click()
    expect(boss.get_by_text("ward-b-2026-03 assigned")).to_be_visible()
    assert (
        stack.scalar("SELECT annotator_id FROM batch_assignments WHERE batch_id = :b", b=batch_id) == anna_id
    )

    # --- the annotator opens the workbench, drags the left wrist, nudges it, submits
    annotator.get_by_role("button", name="Check again").click()
    expect(annotator.locator("[data-view=workbench] canvas")).to_be_visible()
    expect(annotator.locator(".side-head h2")).to_have_text("frame-0000.jpg")
    no_horizontal_overflow(annotator)
    yolo = _yolo(stack, first_image)
    wrist = keypoint(yolo, "left_wrist")
    scale = fitted_scale(annotator, SIZE)
    drag(annotator, keypoint_on_screen(annotator, SIZE, wrist["x"], wrist["y"]), 30, 20)
    expect(annotator.locator("[data-testid=selected-keypoint] .selected-name")).to_have_text("left wrist")
    for _ in range(3):
        annotator.keyboard.press("ArrowRight")
    expect(annotator.locator(".kp-row[data-name=left_wrist] .disp")).to_contain_text(" px")
    expect(annotator.locator("[data-testid=save-state]")).to_have_attribute("data-state", "saved")
    annotator.keyboard.press("Enter")
    expect(annotator.get_by_text("Submitted frame-0000.jpg")).to_be_visible()
    expect(annotator.locator(".side-head h2")).to_have_text("frame-0001.jpg")  # prefetched, shown at once

    first = stack.rows(
        "SELECT version, status, refined_keypoints FROM annotations WHERE image_id = :i ORDER BY version",
        i=first_image,
    )
    assert [(r.version, r.status) for r in first] == [(1, "SUBMITTED")]
    moved = keypoint(first[0].refined_keypoints, "left_wrist")
    assert moved["x"] == pytest.approx(wrist["x"] + 30 / scale + 3, abs=1.0)
    assert moved["y"] == pytest.approx(wrist["y"] + 20 / scale, abs=1.0)
    assert keypoint(first[0].refined_keypoints, "nose")["x"] == keypoint(yolo, "nose")["x"]

    # --- the verifier asks for a minor revision, flagging the wrist
    verifier = open_page().page
    sign_in(verifier, "victor")
    expect(verifier).to_have_url(f"{stack.base_url}/#/verify")
    expect(verifier.locator(".side-head h2")).to_have_text("Review · frame-0000.jpg")
    no_horizontal_overflow(verifier)
    expect(verifier.locator(".kp-row[data-name=left_wrist] .disp")).to_contain_text("px")
    verifier.keyboard.press("3")
    verifier.get_by_placeholder("What should the annotator fix?").fill(
        "The left wrist sits on the forearm: move it to the wrist crease."
    )
    verifier.locator("[data-kp-flag='9']").click()
    pick_score(verifier, "overall_quality_score", 6)
    pick_score(verifier, "certainty_level", 8)
    verifier.get_by_role("button", name="Record decision").click()
    expect(verifier.get_by_text("Recorded: minor revision needed")).to_be_visible()
    expect(verifier.get_by_text("Nothing waiting in the submitted queue")).to_be_visible()
    assert stack.scalar("SELECT status FROM images WHERE id = :i", i=first_image) == "REQUIRES_REVISION"

    # --- the annotator sees the feedback and the flagged keypoint, fixes it, submits
    annotator.get_by_role("link", name="Workbench").click()
    expect(annotator.locator("[data-testid=revision-feedback]")).to_contain_text(
        "move it to the wrist crease"
    )
    expect(annotator.locator(".side-head h2")).to_have_text("frame-0000.jpg")
    expect(annotator.locator(".kp-row[data-name=left_wrist]")).to_have_class(re.compile(r"\bproblem\b"))
    expect(annotator.locator("[data-testid=selected-keypoint] .selected-name")).to_have_text("left wrist")
    annotator.keyboard.press("r")  # back to YOLO's position, then a small honest correction
    annotator.keyboard.press("Shift+ArrowDown")
    annotator.get_by_role("button", name="Submit").click()
    expect(annotator.get_by_text("All images of this assignment are submitted")).to_be_visible()

    # --- the verifier approves the revision
    verifier.get_by_role("link", name="Check again").click()
    expect(verifier.locator(".side-head")).to_contain_text("annotation v2 (revision)")
    expect(verifier.locator("[data-testid=earlier-verifications]")).to_be_hidden()
    verifier.keyboard.press("1")
    pick_score(verifier, "overall_quality_score", 9)
    pick_score(verifier, "certainty_level", 9)
    verifier.keyboard.press("Enter")
    expect(verifier.get_by_text("Recorded: approved")).to_be_visible()

    versions = stack.rows(
        "SELECT id, version, status, is_revision, original_annotation_id, refined_keypoints FROM annotations "
        "WHERE image_id = :i ORDER BY version",
        i=first_image,
    )
    assert [(v.version, v.status, v.is_revision) for v in versions] == [
        (1, "REVISION_REQUESTED", False),
        (2, "APPROVED", True),
    ]
    assert versions[1].original_annotation_id == versions[0].id
    fixed = keypoint(versions[1].refined_keypoints, "left_wrist")
    assert (fixed["x"], fixed["y"]) == pytest.approx((wrist["x"], wrist["y"] + 10), abs=0.11)
    decisions = stack.rows(
        "SELECT a.version, v.decision, v.problematic_keypoints, v.feedback_to_annotator, v.overall_quality_score "
        "FROM verifications v JOIN annotations a ON a.id = v.annotation_id WHERE a.image_id = :i ORDER BY v.id",
        i=first_image,
    )
    assert [(d.version, d.decision) for d in decisions] == [(1, "MINOR_REVISION_NEEDED"), (2, "APPROVED")]
    assert decisions[0].problematic_keypoints == [9]
    assert decisions[0].overall_quality_score == 6
    assert stack.scalar("SELECT status FROM images WHERE id = :i", i=first_image) == "APPROVED"
    assert stack.scalar("SELECT approved_count FROM image_batches WHERE id = :b", b=batch_id) == 1
