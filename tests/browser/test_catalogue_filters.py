"""A researcher narrows the catalogue: by a vocabulary term, an institution, an age band and a
minimum image quality, sees each filter change the list, reloads and finds the same filters and
the same list (they live in the URL), and clears them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from cradlepose.datasets import datasets as dataset_service
from cradlepose.datasets.catalogue import CatalogueTerms
from cradlepose.domain.enums import Role
from tests.browser.a11y import assert_accessible
from tests.browser.browser import Watched
from tests.browser.pages import no_horizontal_overflow, sign_in
from tests.browser.stack import RunningStack
from tests.datasets_support import add_verified_batch

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def catalogue(stack: RunningStack) -> dict[str, int]:
    """Site A: 2–5-month-olds, quality 8. Site B: 10-month-olds, quality 5. One dataset per site
    ("supine" tags Site A's) and one of both sites."""
    admin = stack.admin("ada")
    bea = stack.worker("bea", Role.ANNOTATOR, admin)
    victor = stack.worker("victor", Role.VERIFIER, admin)
    assert admin.user_id is not None
    assert bea.user_id is not None
    add_verified_batch(stack.session_factory, admin.user_id, bea.user_id, institution="Site A", store=False)
    site_b = add_verified_batch(
        stack.session_factory, admin.user_id, bea.user_id, institution="Site B", store=False
    )
    with stack.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE images SET image_quality_score = 5.0,"
            " infant_metadata = jsonb_set(infant_metadata, '{age_months}', '10') WHERE batch_id = %s",
            (site_b.batch_id,),
        )
    schema_id = stack.scalar("SELECT id FROM keypoint_schemas WHERE name = 'infant-pose-17'")
    made = {}
    for name, site, terms in (
        ("ward-a-supine", "Site A", CatalogueTerms(anatomical_area="whole_body", tags=["supine"])),
        ("ward-b-home", "Site B", CatalogueTerms(anatomical_area="whole_body", tags=["infant"])),
        ("both-wards", None, CatalogueTerms()),
    ):
        filters = {"institutions": [site]} if site else {}
        with stack.uow_factory(victor.actor) as uow:
            made[name] = dataset_service.create_dataset(
                uow,
                dataset_service.DatasetIn.model_validate(
                    {"name": name, "keypoint_schema_id": schema_id, "filters": filters, "catalogue": terms}
                ),
            ).id
    return made


def _listed(page: Page) -> list[str]:
    rows = page.locator("table[aria-label=Datasets] tbody tr strong")
    return sorted(rows.all_inner_texts())


def _search(page: Page) -> None:
    page.get_by_role("button", name="Search", exact=True).click()


def test_a_researcher_filters_the_catalogue_by_term_institution_age_band_and_quality(
    stack: RunningStack, catalogue: dict[str, int], open_page: Callable[[], Watched]
) -> None:
    page = open_page().page
    sign_in(page, "victor")
    page.get_by_role("link", name="Datasets").click()
    rows = page.locator("table[aria-label=Datasets] tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("[data-verification=VERIFIED]")).to_have_count(3)
    no_horizontal_overflow(page)
    assert_accessible(page)

    # A vocabulary term: only the dataset described with it
    page.get_by_label("Tag").select_option("supine")
    _search(page)
    expect(rows).to_have_count(1)
    assert _listed(page) == ["ward-a-supine"]

    # An institution instead: the datasets holding its images
    page.get_by_label("Tag").select_option("")
    page.get_by_label("Institution").fill("Site B")
    _search(page)
    expect(rows).to_have_count(2)
    assert _listed(page) == ["both-wards", "ward-b-home"]

    # With an age band: Site B's infants are 10 months old, none is 2–3
    page.get_by_label("Age band").select_option("2-3")
    _search(page)
    expect(page.get_by_text("No dataset matches")).to_be_visible()
    page.get_by_label("Age band").select_option("9-12")
    _search(page)
    expect(rows).to_have_count(2)

    # And a minimum quality Site B's images do not reach
    page.get_by_label("Minimum image quality").fill("7")
    _search(page)
    expect(page.get_by_text("No dataset matches")).to_be_visible()
    hash_query = page.url.split("?", 1)[1]
    assert sorted(hash_query.split("&")) == ["age_band=9-12", "institution=Site+B", "min_quality=7"]

    # Quality alone: the datasets holding Site A's quality-8 images
    page.get_by_label("Institution").fill("")
    page.get_by_label("Age band").select_option("")
    _search(page)
    expect(rows).to_have_count(2)
    assert _listed(page) == ["both-wards", "ward-a-supine"]

    # A reload keeps the filters, shown in the form, and the same list
    page.get_by_label("Tag").select_option("supine")
    _search(page)
    expect(rows).to_have_count(1)
    page.reload()
    expect(rows).to_have_count(1)
    assert _listed(page) == ["ward-a-supine"]
    expect(page.get_by_label("Minimum image quality")).to_have_value("7")
    expect(page.get_by_label("Tag")).to_have_value("supine")

    # Clear: every dataset again, and the URL forgets the filters
    page.get_by_role("button", name="Clear").click()
    expect(rows).to_have_count(3)
    assert "?" not in page.url.split("#", 1)[1]
