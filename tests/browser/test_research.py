"""The research screens: anomaly screening (age-band models, a batch screened, one pose explained)
and analysis reports (started, followed through its stages, read, downloaded).

The verified poses are seeded as tests/integration/anomaly seeds them (tests/anomaly_support: the
workflow that produces them has its own tests); the models are trained through the API's training
job and the worker that runs it; everything the screens show comes from the API.
"""

from __future__ import annotations

import io
import json
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from cradle_workstation.devstack.identity_provider import CLIENT_ID
from cradlepose.adapters.storage import S3Storage
from cradlepose.anomaly import training as anomaly_training
from cradlepose.common.system import step_context
from cradlepose.domain import synthetic_poses
from cradlepose.domain.enums import Role
from cradlepose.domain.synthetic_poses import SyntheticPoses
from cradlepose.reports import reference_library
from cradlepose.settings import get_settings
from tests.anomaly_support import band_poses, seed_batch
from tests.browser.browser import Watched
from tests.browser.pages import no_horizontal_overflow, sign_in
from tests.browser.stack import PASSWORD, Person, RunningStack
from tests.support import Persona

pytestmark = pytest.mark.browser

BANDS = [{"age_min": 0, "age_max": 3}, {"age_min": 3, "age_max": 6}, {"age_min": 6, "age_max": 12}]


@dataclass(frozen=True)
class Research:
    admin: Person
    verifier: Person
    fresh_batch: int
    fresh_images: list[int]


def _call(stack: RunningStack, who: Person, method: str, path: str, body: Any = None) -> Any:
    """One call to the local API as `who`, with the ID token the sign-in form would get."""
    tokens = stack.idp.handle(
        "InitiateAuth",
        {
            "ClientId": CLIENT_ID,
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": who.username, "PASSWORD": PASSWORD},
        },
    )["AuthenticationResult"]
    request = urllib.request.Request(
        f"{stack.base_url}/api{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {tokens['IdToken']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def _persona(person: Person) -> Persona:
    return Persona(person.username, None, person.user_id, person.role)


def _picture() -> bytes:
    size = synthetic_poses.IMAGE_SIZE
    out = io.BytesIO()
    Image.new("RGB", (size, size), (214, 232, 226)).save(out, format="JPEG", quality=70)
    return out.getvalue()


@pytest.fixture(scope="module")
def research(stack: RunningStack) -> Research:
    admin = stack.admin("ada")
    annotator = stack.worker("ann", Role.ANNOTATOR, admin)
    verifier = stack.worker("vera", Role.VERIFIER, admin)
    # Verified reference poses: two age bands with enough of them, one too small to model.
    parts = [
        band_poses(11, 90, 0, atypical_share=0.1),
        band_poses(12, 90, 1, atypical_share=0.1),
        band_poses(13, 8, 2),
    ]
    reference = SyntheticPoses(
        points=np.concatenate([p.points for p in parts]),
        present=np.concatenate([p.present for p in parts]),
        ages=np.concatenate([p.ages for p in parts]),
        atypical=np.concatenate([p.atypical for p in parts]),
        perturbed=tuple(x for p in parts for x in p.perturbed),
    )
    seeded = seed_batch(
        stack.session_factory, _persona(admin), _persona(annotator), reference, name="reference"
    )
    fresh_poses = band_poses(21, 6, 0, atypical_share=0.5)
    fresh = seed_batch(stack.session_factory, _persona(admin), _persona(annotator), fresh_poses, name="fresh")
    s3 = stack.s3()
    picture = _picture()
    for batch in (seeded, fresh):
        for image_id in batch.image_ids:
            key = stack.scalar("SELECT storage_path FROM images WHERE id = :i", i=image_id)
            s3.put_object(
                Bucket=get_settings().uploads_bucket, Key=key, Body=picture, ContentType="image/jpeg"
            )

    # The administrator asks for the age-band models through the API; the training worker runs the job.
    job = _call(
        stack,
        admin,
        "POST",
        "/anomaly/training-jobs",
        {
            "config": {
                "bands": BANDS,
                "min_samples": 30,
                "validation_fraction": 0.25,
                "seed": 1,
                "batch_ids": [seeded.batch_id],
            }
        },
    )
    deadline = time.monotonic() + 120
    while _call(stack, admin, "GET", f"/anomaly/training-jobs/{job['id']}")["status"] not in {
        "COMPLETED",
        "FAILED",
    }:
        if time.monotonic() > deadline:
            ran = anomaly_training.run_next(
                stack.uow_factory, S3Storage(), step_context("schedule:anomaly_training", kind="SCHEDULE")
            )
            assert ran is not None
            break
        time.sleep(0.5)
    assert _call(stack, admin, "GET", f"/anomaly/training-jobs/{job['id']}")["status"] == "COMPLETED"
    reference_library.sync(stack.uow_factory)  # the reference notes the reports cite
    return Research(admin, verifier, fresh.batch_id, fresh.image_ids)


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
    html = open(path, encoding="utf-8").read()
    assert html.startswith("<!doctype html>")
    assert "data:image/png;base64," in html
    no_horizontal_overflow(page)

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
