"""Issue 20, the admin's missing controls and the workflow screens' rough edges: a batch's
rejected files and why, archiving, the pipeline read as finished once pre-annotation is over,
long names, "no score yet", notices that leave the next button free, a draft that survives a
reload made right after a change, and chart axes that never repeat a label."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests
from playwright.sync_api import Page, expect

from cradle_workstation.devstack.identity_provider import CLIENT_ID
from cradlepose.db.models import PipelineRun
from cradlepose.domain.enums import PipelineRunStatus, Role
from tests.browser import demo_data
from tests.browser.a11y import assert_accessible
from tests.browser.browser import Watched
from tests.browser.pages import eventually, keypoint, no_horizontal_overflow, sign_in
from tests.browser.stack import PASSWORD, RunningStack
from tests.images import photo

pytestmark = pytest.mark.browser

LONG_BATCH = "ward-k-" + "x" * 243  # 250 characters, no space to break at
LONG_USER = "u" * 150


def _api(stack: RunningStack, username: str) -> Callable[..., requests.Response]:
    """The API as `username`, signed in with the local identity provider (what the SPA does)."""
    cognito = boto3.client(
        "cognito-idp", endpoint_url=stack.local.identity_url, region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",
    )  # fmt: skip
    token = cognito.initiate_auth(
        ClientId=CLIENT_ID,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["IdToken"]

    def call(method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(
            method,
            f"{stack.local.api_url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    return call


def _jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    photo((320, 240), seed=seed).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _upload(form: dict[str, Any], data: bytes, filename: str) -> None:
    response = requests.post(
        form["url"], data=form["fields"], files={"file": (filename, data, "image/jpeg")}, timeout=30
    )
    assert response.status_code in (200, 201, 204), response.text


@pytest.fixture(scope="module")
def project(stack: RunningStack) -> dict[str, int]:
    admin = stack.admin("ada")
    stack.worker("newbie", Role.ANNOTATOR, admin)
    stack.worker(LONG_USER, Role.ANNOTATOR, admin)
    cleo = stack.worker("cleo", Role.ANNOTATOR, admin)
    api = _api(stack, "ada")
    # A batch uploaded through the presigned forms: one picture, and a file that is no image.
    created = api(
        "POST",
        "/batches",
        {
            "batch_name": LONG_BATCH,
            "uploads": {"files": [{"filename": "good.jpg"}, {"filename": "notes.jpg"}]},
        },
    )
    assert created.status_code == 201, created.text
    forms = {f["filename"]: f for f in created.json()["uploads"]}
    _upload(forms["good.jpg"], _jpeg(1), "good.jpg")
    _upload(forms["notes.jpg"], b"this is a text file, not a picture", "notes.jpg")
    uploaded = created.json()["batch"]["id"]
    eventually(lambda: api("GET", f"/batches/{uploaded}/uploads").json()["rejected"] == 1, timeout=60)
    # A batch past pre-annotation whose state-machine run still waits for the people (the run
    # stays RUNNING until the batch is verified): the local pipeline needs the inference
    # container, so the run row is what the pipeline leaves at this point.
    ready = stack.ready_batch(admin, n=2, name="ward-l-2026-06")
    with stack.session_factory() as session:
        session.add(
            PipelineRun(
                batch_id=ready,
                attempt=1,
                execution_name=f"cradle-batch-{ready}-run-1",
                status=PipelineRunStatus.RUNNING,
            )
        )
        session.commit()
    work = stack.ready_batch(admin, n=2, name="ward-m-2026-06")
    demo_data.assign(stack, admin, work, cleo)
    return {"uploaded": uploaded, "ready": ready, "work": work}


def _admin(open_page: Callable[[], Watched]) -> Page:
    page = open_page().page
    sign_in(page, "ada")
    return page


def _nothing_covered_by_notices(page: Page) -> None:
    covered = page.evaluate(
        """() => {
          const region = document.getElementById("notices");
          if (!region.children.length) return "no notice shown";
          const box = region.getBoundingClientRect();
          return [...document.querySelectorAll("button, a[href], input, select, textarea")]
            .filter((el) => !region.contains(el))
            .map((el) => [el, el.getBoundingClientRect()])
            .filter(([, r]) => r.width && r.height && r.left < box.right && r.right > box.left && r.top < box.bottom && r.bottom > box.top)
            .map(([el]) => el.textContent.trim() || el.getAttribute("aria-label") || el.tagName);
        }"""
    )
    assert covered == [], f"the notices cover: {covered}"


def _actions_on_screen(page: Page, row: Any) -> None:
    width = page.evaluate("document.documentElement.clientWidth")
    for button in row.locator(".actions .btn").all():
        box = button.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width, f"{button.text_content()} is off-screen"


def test_rejected_files_pipeline_finished_archive_and_a_long_batch_name(
    stack: RunningStack, project: dict[str, int], open_page: Callable[[], Watched]
) -> None:
    page = _admin(open_page)
    page.goto("/#/admin/batches")
    ready = page.locator(f"[data-pipeline='{project['ready']}']")
    expect(ready).to_contain_text("Finished")
    expect(ready).not_to_contain_text("Running")
    # …and the batch's own screen says the same of its run
    page.goto(f"/#/admin/batches/{project['ready']}")
    run = page.locator("[data-testid=batch-pipeline]")
    expect(run).to_contain_text("Pipeline run 1: finished")
    expect(run).not_to_contain_text("running")
    page.goto("/#/admin/batches")

    row = page.locator(
        "[data-page=batches] tr", has=page.locator(f"[data-upload-report='{project['uploaded']}']")
    )
    name = row.locator(".long-name")
    expect(name).to_have_attribute("title", LONG_BATCH)
    _actions_on_screen(page, row)
    no_horizontal_overflow(page)

    row.locator(f"[data-upload-report='{project['uploaded']}']").click()
    report = page.locator("dialog[open] [data-testid=upload-report]")
    expect(report).to_contain_text("1 registered · 1 rejected")
    rejected = report.locator("tr", has_text="notes.jpg")
    expect(rejected).to_contain_text("rejected")
    assert (rejected.locator("td").nth(2).text_content() or "").strip() not in ("", "—")  # the reason
    page.keyboard.press("Escape")

    row.locator(f"[data-archive='{project['uploaded']}']").click()
    page.locator("dialog[open]").get_by_role("button", name="Archive").click()
    expect(page.locator("#notices")).to_contain_text("archived")
    _nothing_covered_by_notices(page)
    assert stack.scalar("SELECT status FROM image_batches WHERE id = :b", b=project["uploaded"]) == "ARCHIVED"


def test_a_new_annotator_has_no_score_yet_and_a_long_user_name_keeps_its_actions(
    project: dict[str, int], open_page: Callable[[], Watched]
) -> None:
    page = _admin(open_page)
    page.goto("/#/admin/users")
    newbie = page.locator("tr", has_text="newbie@example.org")
    expect(newbie).to_contain_text("no score yet")
    expect(newbie).not_to_contain_text("0.0 %")
    long_row = page.locator("tr", has=page.locator(f"[title='{LONG_USER}']").first)
    expect(long_row).to_be_visible()
    width = page.evaluate("document.documentElement.clientWidth")
    for control in long_row.locator("select, input, button").all():
        box = control.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width
    no_horizontal_overflow(page)


def test_chart_axes_never_repeat_a_label(
    stack: RunningStack, project: dict[str, int], open_page: Callable[[], Watched]
) -> None:
    # A quiet week: one image a day, so the throughput axis runs 0 … 1 with whole-number labels.
    newbie = stack.people["newbie"]
    today = dt.datetime.now(dt.UTC).date()
    with stack.session_factory() as session:
        for d in range(1, 6):
            session.add(
                demo_data._row(
                    newbie, today - dt.timedelta(days=d), images_annotated=1, annotations_created=1
                )
            )
        session.commit()
    page = _admin(open_page)
    page.goto("/#/admin/metrics")
    expect(page.locator("svg.chart").first).to_be_visible()
    repeats = page.evaluate(
        """() => [...document.querySelectorAll("svg.chart g.axis, svg.chart g.grid")].flatMap((g) => {
             const labels = [...g.querySelectorAll("text")].map((t) => t.textContent);
             return labels.filter((l, i) => labels.indexOf(l) !== i);
           })"""
    )
    assert repeats == []


def test_a_change_made_just_before_leaving_is_kept(
    stack: RunningStack, project: dict[str, int], open_page: Callable[[], Watched]
) -> None:
    watched = open_page()
    page = watched.page
    sign_in(page, "cleo")
    expect(page.locator("[data-view=workbench] canvas")).to_be_visible()
    page.keyboard.press("ArrowUp")
    expect(page.locator("[data-testid=save-state]")).to_have_attribute("data-state", "saved")
    draft = "SELECT refined_keypoints FROM annotations WHERE status = 'DRAFT' AND image_id IN (SELECT id FROM images WHERE batch_id = :b)"
    saved = keypoint(stack.scalar(draft, b=project["work"]), "nose")

    # A slow hospital network: a plain request sent as the tab goes is cut with it.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 600, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.keyboard.press("ArrowUp")  # …and the tab is closed at once, long before the autosave
    page.close(run_before_unload=True)
    eventually(lambda: keypoint(stack.scalar(draft, b=project["work"]), "nose")["y"] < saved["y"], timeout=10)

    # Every change is kept locally first (restored on return if no save got through), and the
    # local copy goes once the server has it.
    again = watched.context.new_page()
    sign_in(again, "cleo")
    expect(again.locator("[data-testid=save-state]")).to_have_attribute("data-state", "saved")
    local = "Object.keys(localStorage).filter((k) => k.startsWith('cradle.draft'))"
    assert again.evaluate(local) == []
    again.keyboard.press("ArrowUp")
    assert len(again.evaluate(local)) == 1
    expect(again.locator("[data-testid=save-state]")).to_have_attribute("data-state", "saved")
    assert again.evaluate(local) == []


def test_an_admin_adds_a_vocabulary_term_and_a_bad_code_says_why(
    stack: RunningStack, project: dict[str, int], open_page: Callable[[], Watched]
) -> None:
    watched = open_page()
    watched.allow("status of 422")  # the bad code, on purpose
    page = watched.page
    sign_in(page, "ada")
    page.goto("/#/admin/vocabulary")
    form = page.locator("[data-testid=new-term]")
    form.get_by_label("New term in").select_option("TAG")
    form.get_by_label("Code").fill("Not A Code")
    form.get_by_label("Name").fill("Bad")
    form.get_by_role("button", name="Add term").click()
    expect(page.locator("#notices")).to_contain_text("Add term")
    form.get_by_label("Code").fill("night_session")
    form.get_by_label("Name").fill("Night session")
    form.get_by_role("button", name="Add term").click()
    expect(page.locator("#notices")).to_contain_text("Night session added to tag")
    expect(page.locator("table[aria-label='Vocabulary terms']")).to_contain_text("night_session")
    assert stack.scalar("SELECT name FROM vocabulary_terms WHERE code = 'night_session'") == "Night session"


def test_an_admin_relabels_retires_and_brings_back_a_vocabulary_term(
    stack: RunningStack, project: dict[str, int], open_page: Callable[[], Watched]
) -> None:
    page = open_page().page
    sign_in(page, "ada")
    page.goto("/#/admin/vocabulary")
    page.get_by_label("Vocabulary", exact=True).select_option("TAG")
    row = page.locator("tr[data-term=supine]")
    page.locator("[data-edit=supine]").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Name").fill("Lying on the back")
    dialog.get_by_label("Description").fill("the infant supine, face up")
    dialog.get_by_role("button", name="Save term").click()
    expect(row).to_contain_text("Lying on the back")
    expect(row).to_contain_text("face up")

    page.locator("[data-retire=supine]").click()
    page.locator("dialog[open]").get_by_role("button", name="Retire term").click()
    expect(row).to_contain_text("retired")
    expect(page.locator("[data-restore=supine]")).to_be_visible()
    assert stack.scalar("SELECT is_active FROM vocabulary_terms WHERE code = 'supine'") is False
    actions = stack.rows(
        "SELECT action FROM audit_logs WHERE resource_type = 'VocabularyTerm' AND action LIKE 'VOCABULARY%'"
        " AND resource_name = 'TAG:supine' ORDER BY id"
    )
    assert [a[0] for a in actions] == ["VOCABULARY_TERM_UPDATED", "VOCABULARY_TERM_RETIRED"]

    page.locator("[data-restore=supine]").click()
    expect(row).to_contain_text("active")
    expect(page.locator("[data-retire=supine]")).to_be_visible()
    assert stack.scalar("SELECT is_active FROM vocabulary_terms WHERE code = 'supine'") is True


def test_an_admin_reviews_a_sigma_calibration_against_coco_and_adopts_it(
    stack: RunningStack, project: dict[str, int], open_page: Callable[[], Watched]
) -> None:
    schema_id, calibration_id = demo_data.sigma_calibration(stack, stack.people["ada"])
    page = open_page().page
    sign_in(page, "ada")
    page.goto("/#/admin/schemas")
    page.locator(f"[data-calibrations='{schema_id}']").click()
    expect(page.locator("table[aria-label=Calibrations] tbody tr")).to_have_count(1)
    chart = page.get_by_role("img", name=f"Per-keypoint sigma of calibration {calibration_id} beside COCO's")
    expect(chart).to_be_visible()
    # Two bars a keypoint that has an estimate, one (COCO's) for the right ankle with no sample
    assert chart.locator("rect").count() == 17 * 2 - 1
    # Drawn near its own size, not stretched over the card: the table under it stays in reach
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] <= 640, box
    card = page.get_by_role("region", name="Calibration", exact=True).bounding_box()
    assert card is not None
    assert card["width"] > 640, card  # there was room to stretch it
    assert_accessible(page)
    expect(chart).to_contain_text("left_hip")
    sigmas = page.locator(f"table[aria-label='Sigmas of calibration {calibration_id}']")
    expect(sigmas.locator("tr[data-keypoint=left_hip]")).to_contain_text("0.1712")
    expect(sigmas.locator("tr[data-keypoint=left_ankle]")).to_contain_text("too few samples")
    no_horizontal_overflow(page)

    page.locator(f"[data-adopt='{calibration_id}']").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Version").fill("v1.1")
    dialog.get_by_role("button", name="Adopt").click()
    expect(page.locator("#notices")).to_contain_text("v1.1 made with the calibrated sigmas (inactive)")
    expect(page.locator("table[aria-label=Calibrations]")).to_contain_text("adopted by schema #")
    expect(page.locator(f"[data-adopt='{calibration_id}']")).to_have_count(0)
    adopted = stack.rows(
        "SELECT s.version, s.is_active, s.schema_definition FROM sigma_calibrations c"
        " JOIN keypoint_schemas s ON s.id = c.adopted_schema_id WHERE c.id = :c",
        c=calibration_id,
    )
    [(version, active, definition)] = adopted
    assert (version, active) == ("v1.1", False)
    by_name = {k["name"]: k["sigma"] for k in definition["keypoints"]}
    assert by_name["left_hip"] == pytest.approx(0.1712, abs=1e-4)  # measured, adopted
    assert by_name["left_ankle"] == pytest.approx(0.089)  # too few samples: COCO's stays
