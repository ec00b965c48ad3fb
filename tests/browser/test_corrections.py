"""The Corrections screen (issue 23): empty until a pre-annotated batch has submitted images, then
the correction figures per batch over time, each point marked with the model that pre-annotated
the batch, and the table per model version."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from cradlepose.domain.enums import Role
from tests.browser import corrections_data
from tests.browser.browser import Watched
from tests.browser.pages import no_horizontal_overflow, sign_in
from tests.browser.stack import RunningStack

pytestmark = pytest.mark.browser


def _axis_labels(page: Page, chart: str) -> list[str]:
    return page.locator(
        f"[data-chart={chart}] svg .axis text, [data-chart={chart}] svg .grid text"
    ).all_text_contents()


def test_corrections_over_time_per_batch_and_per_model(
    stack: RunningStack, open_page: Callable[[], Watched]
) -> None:
    admin = stack.admin("ada")
    annotator = stack.worker("bea", Role.ANNOTATOR, admin)
    verifier = stack.worker("victor", Role.VERIFIER, admin)
    stack.ready_batch(admin, n=2, name="ward-h-not-started")  # pre-annotated, nothing submitted
    page = open_page().page
    sign_in(page, "ada")

    # Given nothing submitted yet: the empty state, reached from the admin navigation
    page.goto("/#/admin/approvals")
    page.locator("nav.admin-nav").get_by_role("link", name="Corrections").click()
    expect(page.locator("[data-testid=corrections-empty]")).to_contain_text("No corrected batches yet")

    # When four weeks of batches are pre-annotated by three model versions, annotated and verified
    batches = corrections_data.build(stack, admin, annotator, verifier)
    page.reload()

    # Then each chart has one point per batch, in time order, marked with its model version: the
    # label is written where the model changes (ward-pose 1.0 pre-annotated weeks 2 and 3)
    for chart in ("distance", "untouched"):
        expect(page.locator(f"[data-chart={chart}] svg circle")).to_have_count(4)
        labels = page.locator(f"[data-chart={chart}] svg .point-label").all_text_contents()
        assert labels == ["yolo11n-pose 8.4", "ward-pose 1.0", "ward-pose 1.1"]
        titles = page.locator(f"[data-chart={chart}] svg circle title").all_text_contents()
        assert [t.split("(")[-1] for t in titles] == [
            "yolo11n-pose 8.4)", "ward-pose 1.0)", "ward-pose 1.0)", "ward-pose 1.1)",
        ]  # fmt: skip
        axis = _axis_labels(page, chart)
        assert len(axis) == len(set(axis)) >= 3, axis  # no axis label twice
    # the correction shrinks from 9 px to 2 px over the corrected keypoints' share
    distance_titles = page.locator("[data-chart=distance] svg circle title").all_text_contents()
    assert distance_titles[0].split(": ")[1].startswith("9.0")
    assert distance_titles[-1].split(": ")[1].startswith(f"{2.0 * 5 / 17:.1f}")

    # and the tables: one row per model version, one per corrected batch (the untouched one left out)
    models = page.locator("[data-testid=corrections-models] tbody tr")
    expect(models).to_have_count(3)
    expect(models.nth(0)).to_contain_text("yolo11n-pose 8.4")
    expect(models.nth(0)).to_contain_text("9.00")  # every keypoint moved 9 px
    expect(models.nth(0)).to_contain_text("0.0 %")  # none untouched
    expect(models.nth(0)).to_contain_text("33 %")  # 1 of 3 approved as submitted
    expect(models.nth(1)).to_contain_text("ward-pose 1.0")
    expect(models.nth(1).locator("td").nth(2)).to_have_text("2")  # two batches
    expect(models.nth(2)).to_contain_text("100 %")
    rows = page.locator("[data-testid=corrections-batches] tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("ward-g-week-1")
    expect(rows.last).to_contain_text("ward-g-week-4")
    assert "ward-h-not-started" not in page.locator("[data-testid=corrections-batches]").inner_text()
    expect(rows.first.get_by_role("link", name="ward-g-week-1")).to_have_attribute(
        "href", f"#/admin/batches/{batches['ward-g-week-1']}"
    )
    no_horizontal_overflow(page)
    found = Axe().run(page).response["violations"]
    assert [v["id"] for v in found if v.get("impact") in {"serious", "critical"}] == []
