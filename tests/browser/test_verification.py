"""The verification view: corrections by dragging become APPROVED_WITH_CORRECTIONS (a new approved
version), and a decision that asks for a second opinion waits for another verifier's."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from cradlepose.domain.enums import Role
from tests.browser import demo_data
from tests.browser.a11y import assert_accessible
from tests.browser.browser import Watched
from tests.browser.pages import (
    drag,
    eventually,
    fitted_scale,
    keypoint,
    keypoint_on_screen,
    pick_score,
    sign_in,
)
from tests.browser.scene import HEIGHT, WIDTH
from tests.browser.stack import RunningStack

pytestmark = pytest.mark.browser
SIZE = (WIDTH, HEIGHT)


@pytest.fixture(scope="module")
def images(stack: RunningStack) -> list[int]:
    admin = stack.admin("ada")
    annotator = stack.worker("bea", Role.ANNOTATOR, admin)
    stack.worker("victor", Role.VERIFIER, admin)
    stack.worker("vera", Role.VERIFIER, admin)
    batch = stack.ready_batch(admin, n=2, name="for-review")
    demo_data.assign(stack, admin, batch, annotator)
    return demo_data.annotate(stack, annotator, batch, correct=False)


def test_dragging_a_keypoint_approves_with_corrections(
    stack: RunningStack, images: list[int], open_page: Callable[[], Watched]
) -> None:
    page = open_page().page
    sign_in(page, "victor")
    expect(page.locator(".side-head h2")).to_have_text("Review · frame-0000.jpg")
    # Internal notes are for admins: a verifier's form has the feedback box but not theirs
    expect(page.get_by_placeholder("Detailed feedback (kept with the verification)")).to_have_count(1)
    expect(page.locator("textarea[name=internal_notes]")).to_have_count(0)
    assert_accessible(page)  # the review screen with an image to decide
    submitted = stack.scalar("SELECT refined_keypoints FROM annotations WHERE image_id = :i", i=images[0])
    elbow = keypoint(submitted, "right_elbow")
    scale = fitted_scale(page, SIZE)
    drag(page, keypoint_on_screen(page, SIZE, elbow["x"], elbow["y"]), -20, 10)
    expect(page.locator("[data-decision=APPROVED_WITH_CORRECTIONS]")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator(".kp-row[data-name=right_elbow] .disp")).to_have_text("corrected")
    page.get_by_placeholder("What you corrected").fill("right elbow onto the joint")
    pick_score(page, "overall_quality_score", 7)
    pick_score(page, "certainty_level", 9)
    page.locator("[data-kp-score='8']").fill("5")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_text("Recorded: approved with corrections")).to_be_visible()

    versions = stack.rows(
        "SELECT version, status, is_revision, refined_keypoints, revision_reason FROM annotations "
        "WHERE image_id = :i ORDER BY version",
        i=images[0],
    )
    assert [(v.version, v.status, v.is_revision) for v in versions] == [
        (1, "APPROVED", False),
        (2, "APPROVED", True),
    ]
    corrected = keypoint(versions[1].refined_keypoints, "right_elbow")
    assert corrected["x"] == pytest.approx(elbow["x"] - 20 / scale, abs=1.0)
    assert corrected["y"] == pytest.approx(elbow["y"] + 10 / scale, abs=1.0)
    assert versions[1].revision_reason == "right elbow onto the joint"
    verification = stack.rows("SELECT decision, keypoint_accuracy_scores FROM verifications")[0]
    assert verification.decision == "APPROVED_WITH_CORRECTIONS"
    assert verification.keypoint_accuracy_scores == {"8": 5}

    # the next annotation was claimed at once; signing out gives it back to the queue
    expect(page.locator(".side-head h2")).to_have_text("Review · frame-0001.jpg")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    eventually(lambda: stack.scalar("SELECT status FROM images WHERE id = :i", i=images[1]) == "SUBMITTED")


def test_a_second_opinion_decides(
    stack: RunningStack, images: list[int], open_page: Callable[[], Watched]
) -> None:
    first = open_page().page
    sign_in(first, "victor")
    # pytest-xdist may run this test on a stack of its own, where the first test did not take
    # frame-0000 off the queue: review whichever of the two comes first.
    heading = first.locator(".side-head h2")
    expect(heading).to_have_text(re.compile(r"Review · frame-000[01]\.jpg"))
    image = images[0] if "frame-0000" in heading.inner_text() else images[1]
    first.keyboard.press("4")
    first.get_by_placeholder("What should the annotator fix?").fill("Not sure the hips are right.")
    pick_score(first, "overall_quality_score", 5)
    pick_score(first, "certainty_level", 4)
    first.get_by_label("Ask for a second opinion").check()
    first.keyboard.press("Enter")
    expect(first.get_by_text("waiting for a second opinion or an admin")).to_be_visible()
    assert stack.scalar("SELECT status FROM images WHERE id = :i", i=image) == "UNDER_REVIEW"

    second = open_page().page
    sign_in(second, "vera")
    expect(second.get_by_text("Nothing waiting in the submitted queue")).to_be_visible()
    second.get_by_role("link", name="Second opinion queue").click()
    expect(second.locator("[data-testid=earlier-verifications]")).to_contain_text("major revision needed")
    second.keyboard.press("1")
    pick_score(second, "overall_quality_score", 8)
    pick_score(second, "certainty_level", 8)
    second.keyboard.press("Enter")
    expect(second.get_by_text("Recorded: approved")).to_be_visible()

    decisions = stack.rows(
        "SELECT v.decision, v.is_final_decision, u.username FROM verifications v JOIN users u ON u.id = v.verifier_id "
        "JOIN annotations a ON a.id = v.annotation_id WHERE a.image_id = :i ORDER BY v.id",
        i=image,
    )
    assert [(d.username, d.decision, d.is_final_decision) for d in decisions] == [
        ("victor", "MAJOR_REVISION_NEEDED", False),
        ("vera", "APPROVED", True),
    ]
    assert stack.scalar("SELECT status FROM images WHERE id = :i", i=image) == "APPROVED"
