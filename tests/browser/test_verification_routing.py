"""The verification view shows why an item came to this verifier: the rule-made case flags, the
expertise it needs, and a second opinion the rules required."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from cradlepose.domain.enums import Role
from tests.browser import demo_data
from tests.browser.browser import Watched
from tests.browser.pages import pick_score, sign_in
from tests.browser.stack import RunningStack

pytestmark = pytest.mark.browser


def test_the_case_flags_and_the_needed_expertise_are_shown(
    stack: RunningStack, open_page: Callable[[], Watched]
) -> None:
    admin = stack.admin("ada")
    annotator = stack.worker("bea", Role.ANNOTATOR, admin)
    nina = stack.worker("nina", Role.VERIFIER, admin)
    stack.worker("vera", Role.VERIFIER, admin)
    batch = stack.ready_batch(admin, n=1, name="neuro-session")
    with stack.engine.begin() as conn:  # the uploader's metadata and a model that was unsure
        metadata = json.dumps({"verification_expertise": "neurology"})
        conn.execute(sa.text("UPDATE image_batches SET upload_metadata = CAST(:m AS jsonb) WHERE id = :b"),
                     {"m": metadata, "b": batch})  # fmt: skip
        conn.execute(sa.text("UPDATE images SET yolo_confidence = 0.30 WHERE batch_id = :b"), {"b": batch})
        conn.execute(sa.text("UPDATE users SET verification_expertise = 'neurology' WHERE id = :u"),
                     {"u": nina.user_id})  # fmt: skip
    demo_data.assign(stack, admin, batch, annotator)
    [image] = demo_data.annotate(stack, annotator, batch, correct=True)

    page = open_page().page
    sign_in(page, "nina")
    tags = page.locator("[data-testid=case-tags]")
    expect(tags).to_contain_text("difficult")
    expect(tags).to_contain_text("needs neurology")
    expect(tags).not_to_contain_text("annotation issues")

    page.keyboard.press("1")
    pick_score(page, "overall_quality_score", 7)
    pick_score(page, "certainty_level", 2)
    page.keyboard.press("Enter")
    expect(page.get_by_text("needs a second opinion")).to_be_visible()
    assert stack.scalar("SELECT status FROM images WHERE id = :i", i=image) == "UNDER_REVIEW"
    assert (
        stack.scalar(
            "SELECT u.username FROM batch_assignments a JOIN users u ON u.id = a.annotator_id "
            "WHERE a.assignment_type = 'SECOND_OPINION' AND a.image_id = :i",
            i=image,
        )
        == "vera"
    )

    second = open_page().page
    sign_in(second, "vera")
    second.get_by_role("link", name="Second opinion queue").click()
    expect(second.locator("[data-testid=case-tags]")).to_contain_text("your second opinion")
