"""Issue 23, the admin's Retraining screen: a schema's learning-loop policy read with its defaults,
saved within its bounds (a value beyond them answered with the API's reason), and "Run now" and
rollback refused with the reason while the schema has no default model to retrain or restore.
The whole loop, runs included, is driven in tests/e2e/test_learning_loop.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.browser.browser import Watched
from tests.browser.pages import no_horizontal_overflow, sign_in
from tests.browser.stack import RunningStack

pytestmark = pytest.mark.browser


def test_the_policy_is_saved_within_its_bounds_and_a_run_needs_a_model(
    stack: RunningStack, open_page: Callable[[], Watched]
) -> None:
    stack.admin("rhea")
    watched = open_page()
    # The refusals this test provokes on purpose: a policy beyond its bounds, a run and a rollback
    # with no model to retrain or restore.
    for refused in ("status of 422", "status of 409"):
        watched.allow(refused)
    page = watched.page
    sign_in(page, "rhea")
    page.goto("/#/admin/retraining")
    facts = page.locator("[data-testid=loop-facts]")
    expect(facts).to_contain_text("never set (defaults, disabled)")
    form = page.locator("[data-testid=loop-policy]")
    expect(form.locator("input[name=imgsz]")).to_have_value("640")
    no_horizontal_overflow(page)

    # An image size off YOLO's stride is refused by the API, and nothing is stored
    form.locator("input[name=enabled]").check()
    form.locator("input[name=every_n_verified]").fill("25")
    form.locator("input[name=imgsz]").fill("100")
    form.locator("input[name=imgsz]").evaluate("input => input.removeAttribute('step')")
    form.get_by_role("button", name="Save policy").click()
    expect(page.locator("#notices")).to_contain_text("multiple of 32")
    assert stack.scalar("SELECT count(*) FROM learning_loop_policies") == 0

    # Within bounds it is saved, audited, and shown again
    form.locator("input[name=imgsz]").fill("128")
    form.locator("input[name=min_ap_gain]").fill("-1")
    form.get_by_role("button", name="Save policy").click()
    expect(page.locator("#notices")).to_contain_text("Retraining policy saved")
    expect(facts).to_contain_text("last changed")
    expect(page.locator("[data-testid=loop-policy] input[name=imgsz]")).to_have_value("128")
    assert stack.scalar("SELECT imgsz FROM learning_loop_policies") == 128
    assert stack.scalar("SELECT count(*) FROM audit_logs WHERE action = 'LEARNING_LOOP_POLICY_SET'") == 1

    # With no default model, "Run now" and rollback say why not
    page.locator("[data-testid=loop-run-now]").click()
    expect(page.locator("#notices")).to_contain_text("no default model to retrain")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-testid=loop-rollback]").click()
    expect(page.locator("#notices")).to_contain_text("no default model to roll back")
    expect(page.get_by_role("table", name="Learning-loop runs")).to_have_count(0)
    expect(page.locator("[data-page=retraining]")).to_contain_text("No run yet.")
