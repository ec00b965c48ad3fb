"""The research screens: anomaly screening (age-band models, a batch screened, one pose explained)
and analysis reports (started, followed through its stages, read, downloaded).

The verified poses are seeded as tests/integration/anomaly seeds them (tests/anomaly_support: the
workflow that produces them has its own tests); the models are trained through the API's training
job and the worker that runs it; everything the screens show comes from the API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cradlepose.domain.enums import Role
from tests.browser.a11y import assert_accessible
from tests.browser.browser import Watched
from tests.browser.pages import no_horizontal_overflow, sign_in
from tests.browser.research_data import Research, build
from tests.browser.stack import Person, RunningStack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def research(stack: RunningStack) -> Research:
    admin = stack.admin("ada")
    return build(stack, admin, stack.worker("vera", Role.VERIFIER, admin))


def _signed_in(open_page: Callable[[], Watched], who: Person) -> Page:
    page = open_page().page
    sign_in(page, who.username)
    return page


def test_a_verifier_screens_a_batch_and_reads_an_anomaly_explanation(
    stack: RunningStack, research: Research, open_page: Callable[[], Watched]
) -> None:
    page = _signed_in(open_page, research.verifier)
    page.get_by_role("link", name="Research").click()
    # The age-band models: two that score, the small one refusing and saying why
    bands = page.locator("[data-testid=bands] tbody tr")
    expect(bands).to_have_count(3)
    expect(page.locator("[data-refusal]")).to_have_count(1)
    expect(page.locator("[data-testid=research-notice]").first).to_be_visible()

    page.get_by_label("Batch id").fill(str(research.fresh_batch))
    page.get_by_role("button", name="Screen batch").click()
    expect(page.locator("[data-testid=screen-summary]")).to_contain_text("6")
    rows = page.locator("[data-testid=screening] tbody tr")
    expect(rows).to_have_count(6)
    no_horizontal_overflow(page)
    # Sorted by score, highest first; a click on the heading reverses it
    scores = [float(t) for t in rows.locator("td:nth-child(4)").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    page.locator("[data-sort=anomaly_score]").click()
    expect(page.locator("th[aria-sort=ascending]")).to_have_count(1)
    scores = [float(t) for t in rows.locator("td:nth-child(4)").all_inner_texts()]
    assert scores == sorted(scores)
    # The list survives a reload (the batch is in the address)
    page.reload()
    expect(rows).to_have_count(6)

    page.locator("[data-sort=anomaly_score]").click()  # highest first again
    rows.first.get_by_role("link", name="Explain").click()
    expect(page.locator("[data-testid=explanation]")).not_to_be_empty()
    expect(page.locator("[data-testid=analysis-figures]")).to_contain_text("Threshold")
    expect(page.get_by_role("img", name="Scores of the 6 screened poses")).to_be_visible()
    joints = page.locator("[data-testid=joints] circle[data-share]")
    expect(joints).to_have_count(17)
    shares = [float(s or 0) for s in joints.evaluate_all("els => els.map((e) => e.dataset.share)")]
    assert abs(sum(shares) - 1) < 0.05, shares  # each joint drawn with its share of the score
    radii = joints.evaluate_all("els => els.map((e) => Number(e.getAttribute('r')))")
    assert radii[shares.index(max(shares))] == max(radii)  # the joint that matters most is the largest
    neighbours = page.locator("[data-testid=neighbours] figure[data-neighbour]")
    expect(neighbours.first).to_be_visible(timeout=15_000)
    assert 1 <= neighbours.count() <= 6
    no_horizontal_overflow(page)
    assert_accessible(page)


def test_an_admin_follows_a_report_and_reads_it(
    stack: RunningStack, research: Research, open_page: Callable[[], Watched]
) -> None:
    page = _signed_in(open_page, research.admin)
    page.goto(f"{stack.base_url}/#/research/reports")
    image_id = research.fresh_images[0]
    page.get_by_label("Image id").fill(str(image_id))
    page.get_by_role("button", name="Start analysis").click()
    expect(page).to_have_url(re.compile(r"/research/reports/[0-9a-f-]{36}$"))
    expect(page.locator("[data-testid=stages] li")).to_have_count(5)
    page.reload()  # following survives a reload: the job id is in the address
    expect(page.locator("[data-stage=completed][data-state=done]")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-testid=overlay]")).to_be_visible()
    expect(page.locator("[data-testid=findings] tbody tr").first).to_be_visible()
    expect(page.locator("[data-testid=report]")).not_to_be_empty()
    expect(page.locator("[data-testid=sources] li").first).to_be_visible()
    with page.expect_download() as download:
        page.locator("[data-download=html]").click()
    path = download.value.path()
    html = Path(path).read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    assert "data:image/png;base64," in html
    no_horizontal_overflow(page)
    assert_accessible(page)

    page.goto(f"{stack.base_url}/#/research/reports")
    expect(page.locator("[data-testid=reports] tbody tr").first).to_contain_text(f"#{image_id}")


def test_a_missing_analysis_shows_the_problem(
    stack: RunningStack, research: Research, open_page: Callable[[], Watched]
) -> None:
    watched = open_page()
    watched.allow("status of 404")  # the missing job, on purpose: the answer is shown, not a fault
    page = watched.page
    sign_in(page, research.verifier.username)
    page.goto(f"{stack.base_url}/#/research/reports/00000000-0000-4000-8000-000000000000")
    expect(page.get_by_role("alert")).to_contain_text("does not exist")
