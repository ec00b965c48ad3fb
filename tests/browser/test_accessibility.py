"""Issue 20: axe-core over every screen of the SPA, as the role that uses it, with no serious or
critical violation.

The screens are not listed here: the test follows the hash links of the page's navigation
(the top bar and each area's own nav, e.g. the admin console's), so a screen added to a nav is
checked without touching this file. The screens only data opens (a dataset, a model, an anomaly
explanation, a report, an upload under way, a calibration) are checked by the tests that open them
(tests/browser/a11y.py's assert_accessible)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from cradlepose.domain.enums import Role
from tests.browser import demo_data
from tests.browser.a11y import serious_violations
from tests.browser.browser import Watched
from tests.browser.pages import sign_in
from tests.browser.stack import PASSWORD, RunningStack

pytestmark = pytest.mark.browser

# The navigation, and the screens a list opens (a batch's images from the batches table).
NAV_LINKS = "nav a[href^='#/'], table a[href^='#/']"


@pytest.fixture(scope="module")
def team(stack: RunningStack) -> None:
    admin = stack.admin("ada")
    annotator = stack.worker("gil", Role.ANNOTATOR, admin)
    stack.worker("vera", Role.VERIFIER, admin)
    batch = stack.ready_batch(admin, n=2, name="ward-a11y")
    demo_data.assign(stack, admin, batch, annotator)


def _every_screen(page: Page) -> dict[str, list[str]]:
    """Visit every hash route the navigation offers (following sub-navs), running axe on each."""
    seen: set[str] = set()
    queue = [page.evaluate("location.hash")]
    report: dict[str, list[str]] = {}
    while queue:
        route = queue.pop(0)
        if route in seen:
            continue
        seen.add(route)
        page.goto(f"/{route}")
        expect(page.locator("#app > *").first).to_be_visible()
        report[route] = serious_violations(page)
        # A list drawn after its last request (the batches' details) is on the page now.
        page.wait_for_timeout(300)
        for href in page.locator(NAV_LINKS).evaluate_all("links => links.map((a) => a.getAttribute('href'))"):
            if href not in seen:
                queue.append(href)
    return report


@pytest.mark.parametrize("who", ["ada", "gil", "vera"])
def test_every_screen_of_a_role_has_no_serious_violation(
    who: str, team: None, open_page: Callable[[], Watched]
) -> None:
    page = open_page().page
    sign_in(page, who)
    report = _every_screen(page)
    assert len(report) >= 1
    if who == "ada":  # the admin console's own pages come from its nav, not from this file
        assert sum(route.startswith("#/admin/") for route in report) >= 7, list(report)
        assert any(route.startswith("#/admin/batches/") for route in report), list(report)
        assert "#/admin/corrections" in report, list(report)
    bad = {route: problems for route, problems in report.items() if problems}
    assert not bad, f"serious or critical axe violations: {bad}"


def test_the_sign_in_screen_has_no_serious_violation(open_page: Callable[[], Watched]) -> None:
    page = open_page().page
    page.goto("/")
    expect(page.get_by_label("User name or e-mail")).to_be_visible()
    assert serious_violations(page) == []
    # …and the check can fail: a button with no name is a critical violation.
    page.evaluate("document.querySelector('#app').append(document.createElement('button'))")
    assert any(v.startswith("button-name") for v in serious_violations(page))


def test_the_account_screens_have_no_serious_violation(
    stack: RunningStack, team: None, open_page: Callable[[], Watched]
) -> None:
    """The screens before any work: sign-up, registering a role, and waiting for approval."""
    watched = open_page()
    watched.allow("status of 403")  # GET /me of someone not registered yet: the register screen's cue
    page = watched.page
    page.goto("/#/signup")
    expect(page.get_by_role("form", name="Create an account")).to_be_visible()
    assert serious_violations(page) == []

    # Signed up with the identity provider, not yet a Cradle user: the register screen
    stack.sign_up("nell")
    page.goto("/#/signin")
    page.get_by_label("User name or e-mail").fill("nell")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Register")).to_be_visible()
    assert serious_violations(page) == []

    # Registered, waiting for an administrator
    page.get_by_role("button", name="Register").click()
    expect(page.locator("[data-state=awaiting-approval]")).to_be_visible()
    assert serious_violations(page) == []
