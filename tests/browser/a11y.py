"""axe-core over the page as it stands (issue 20: no serious or critical violation on any screen).

test_accessibility.py walks every screen the navigation links to; a screen that only data opens (a
dataset, a model, an explanation, a report, an upload under way, a calibration) is checked by the
test that opens it, once it is drawn, through `assert_accessible`."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

SERIOUS = {"serious", "critical"}


def serious_violations(page: Page) -> list[str]:
    """Each serious or critical axe violation on the page: its rule, impact, help and first targets."""
    page.wait_for_load_state("networkidle")
    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v.get("impact") in SERIOUS
    ]


def assert_accessible(page: Page) -> None:
    problems = serious_violations(page)
    assert problems == [], f"serious or critical axe violations at {page.url}: {problems}"
