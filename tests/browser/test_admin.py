"""The admin console: refusing a registration, roles, the schema editor, batches, the audit log with
filters, and the performance charts."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from cradlepose.accounts import users
from cradlepose.domain.actor import Claims
from cradlepose.domain.enums import Role
from tests.browser import demo_data
from tests.browser.browser import Watched
from tests.browser.pages import no_horizontal_overflow, sign_in
from tests.browser.stack import RunningStack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def project(stack: RunningStack) -> None:
    admin = stack.admin("ada")
    bea = stack.worker("bea", Role.ANNOTATOR, admin)
    victor = stack.worker("victor", Role.VERIFIER, admin)
    stack.worker("hal", Role.VERIFIER, admin)
    batch = stack.ready_batch(admin, n=3, name="ward-e-2026-04")
    demo_data.assign(stack, admin, batch, bea)
    done = demo_data.annotate(stack, bea, batch, correct=True, only=2)
    demo_data.decide(stack, victor, done[0], "APPROVED")
    stack.ready_batch(admin, n=2, name="ward-f-2026-04")
    subject = stack.sign_up("zed")
    with stack.uow_factory() as uow:
        users.register(uow, Claims(subject, "zed", "zed@example.org"), users.Registration(role="VERIFIER"))


def _admin(open_page: Callable[[], Watched]) -> Page:
    page = open_page().page
    sign_in(page, "ada")
    return page


def test_refuse_a_registration_and_change_a_role(
    stack: RunningStack, project: None, open_page: Callable[[], Watched]
) -> None:
    page = _admin(open_page)
    expect(page.locator("[data-testid=pending-count]")).to_have_text("1")
    page.locator("[data-reject=zed]").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Reason").fill("not part of the study team")
    dialog.get_by_role("button", name="Refuse registration").click()
    expect(page.get_by_text("No registration is waiting")).to_be_visible()
    assert stack.scalar("SELECT is_active FROM users WHERE username = 'zed'") is False

    page.keyboard.press("2")  # Users and roles
    expect(page.locator("[data-page=users] table")).to_be_visible()
    no_horizontal_overflow(page)
    page.locator("[data-user-role=hal]").select_option("ANNOTATOR")
    page.locator("dialog[open]").get_by_role("button", name="Change role").click()
    expect(page.get_by_text("hal is now annotator")).to_be_visible()
    assert stack.scalar("SELECT role FROM users WHERE username = 'hal'") == "ANNOTATOR"

    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").fill("USER_ROLE_CHANGED")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("[data-page=audit] tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("User #")
    expect(rows.first).to_contain_text("hal")
    page.get_by_label("Action").fill("")
    page.get_by_label("Category").select_option("USER_MANAGEMENT")
    page.get_by_label("Outcome").select_option("SUCCESS")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("[data-page=audit] tbody tr").filter(has_text="USER_REJECTED")).to_have_count(1)


def test_the_schema_editor_makes_a_new_schema(
    stack: RunningStack, project: None, open_page: Callable[[], Watched]
) -> None:
    page = _admin(open_page)
    page.goto("/#/admin/schemas")
    expect(page.locator("[data-page=schemas] table")).to_contain_text("infant-pose-17 v1.0")
    page.get_by_role("link", name="New schema").click()
    expect(page.locator(".schema-node")).to_have_count(17)
    page.get_by_label("Name", exact=True).fill("infant-pose-18")
    page.get_by_role("button", name="Add keypoint").click()
    page.get_by_label("Name of keypoint 17").fill("sternum")
    page.get_by_label("Name of keypoint 17").press("Tab")
    page.locator(".schema-node[data-kp='17']").click()
    page.locator(".schema-node[data-kp='0']").click()
    expect(page.locator("[data-testid=connections] [data-edge='17-0']")).to_be_visible()
    page.get_by_label("sternum is required").check()
    page.get_by_role("button", name="Create schema").click()
    expect(page.get_by_text("Schema infant-pose-18 v1.0 created")).to_be_visible()

    row = stack.rows(
        "SELECT schema_definition, required_keypoints, total_keypoints FROM keypoint_schemas "
        "WHERE name = 'infant-pose-18'"
    )[0]
    assert row.total_keypoints == 18
    assert {
        "id": 17,
        "name": "sternum",
        "color": row.schema_definition["keypoints"][17]["color"],
        "required": True,
    } == {k: v for k, v in row.schema_definition["keypoints"][17].items() if k != "sigma"}
    assert [17, 0] in row.schema_definition["connections"]
    assert 17 in row.required_keypoints


def test_batches_and_performance_charts(
    stack: RunningStack, project: None, open_page: Callable[[], Watched]
) -> None:
    page = _admin(open_page)
    page.goto("/#/admin/batches")
    row = page.locator("[data-page=batches] tr", has_text="ward-e-2026-04")
    expect(row.locator(".batch-progress")).to_contain_text("1 approved")
    expect(row.locator(".batch-progress")).to_contain_text("1 submitted")
    row.get_by_role("button", name="Assignments").click()
    expect(page.locator("dialog[open] table")).to_contain_text("bea")
    page.keyboard.press("Escape")

    page.goto("/#/admin/metrics")
    page.get_by_role("button", name="Recompute now").click()
    expect(page.get_by_text("Recomputed daily figures")).to_be_visible()
    expect(page.locator("[data-chart=throughput] svg rect").first).to_be_visible()
    expect(page.locator("[data-chart=approval] svg circle")).to_have_count(1)
    expect(page.locator("[data-chart=by-person] svg")).to_contain_text("bea")
    expect(page.locator(".kpi").first).to_contain_text("2")
    no_horizontal_overflow(page)


def test_invite_a_person_who_then_signs_in_with_the_mailed_password(
    stack: RunningStack, project: None, open_page: Callable[[], Watched]
) -> None:
    # Given the admin on the users page
    page = _admin(open_page)
    page.keyboard.press("2")  # Users and roles
    expect(page.locator("[data-page=users] table")).to_be_visible()

    # When they invite a verifier
    page.get_by_text("Invite a person").click()
    invite = page.get_by_role("form", name="Invite a person")
    invite.get_by_label("User name").fill("ines")
    invite.get_by_label("E-mail").fill("ines@example.org")
    invite.get_by_label("Role").select_option("VERIFIER")
    invite.get_by_role("button", name="Send invitation").click()

    # Then the account and the approved user exist, and the list shows her
    expect(page.get_by_text("ines invited as verifier")).to_be_visible()
    expect(page.locator("[data-page=users] table")).to_contain_text("ines@example.org")
    assert stack.scalar("SELECT is_approved FROM users WHERE username = 'ines'") is True

    # And she signs in with the temporary password the identity provider "e-mailed", choosing her own
    mailed = json.loads((stack.idp.outbox_dir / "ines.json").read_text())
    other = open_page().page
    other.goto("/#/signin")
    other.get_by_label("User name or e-mail").fill("ines")
    other.get_by_label("Password").fill(mailed["temporary_password"])
    other.get_by_role("button", name="Sign in").click()
    other.get_by_label("New password").fill("Ines-own-password-7")
    other.get_by_label("Repeat it").fill("Ines-own-password-7")
    other.get_by_role("button", name="Set password and sign in").click()
    expect(other.locator("#topbar")).to_be_visible()


def test_an_admin_corrects_an_images_metadata_on_the_batch_images_page(
    stack: RunningStack, project: None, open_page: Callable[[], Watched]
) -> None:
    # Given the admin on the batches page, opening the images of a batch
    watched = open_page()
    watched.allow("status of 422")  # the refused pseudonym below: the answer is shown, not a fault
    page = watched.page
    sign_in(page, "ada")
    page.goto("/#/admin/batches")
    page.locator("[data-page=batches] tr", has_text="ward-f-2026-04").get_by_role(
        "link", name="Images"
    ).click()
    table = page.get_by_role("table", name="Images")
    expect(table).to_contain_text("frame-0000.jpg")
    first = table.locator("tbody tr").first

    # When they give a pseudonym that looks like a name, the API's answer says why and nothing changes
    first.get_by_role("button", name="Correct…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Pseudonym").fill("Smith3")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_text("looks like a name")).to_be_visible()
    expect(first).not_to_contain_text("Smith3")

    # And when they correct it properly, the row shows the new values
    first.get_by_role("button", name="Correct…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Age (months)").fill("4.5")
    dialog.get_by_label("Sex").select_option("female")
    dialog.get_by_label("Pseudonym").fill("CP-017")
    dialog.get_by_label("Institution").fill("Site B")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_text("corrected")).to_be_visible()
    expect(first).to_contain_text("CP-017")
    expect(first).to_contain_text("4.5")
    expect(first).to_contain_text("Site B")

    # And the correction is in the audit log with what was there before
    image_id = int(first.get_attribute("data-image") or 0)
    with stack.session_factory() as session:
        old, new = session.execute(
            sa.text(
                "SELECT old_values, new_values FROM audit_logs "
                "WHERE action = 'IMAGE_METADATA_CORRECTED' AND resource_id = :id"
            ),
            {"id": image_id},
        ).one()
    assert old["infant_metadata"] is None
    assert new["infant_metadata"] == {"age_months": 4.5, "sex": "female", "subject_id": "CP-017"}
    assert new["source_institution"] == "Site B"
    no_horizontal_overflow(page)


def test_mark_and_unmark_a_quality_check_image(
    stack: RunningStack, project: None, open_page: Callable[[], Watched]
) -> None:
    batch_id = stack.scalar("SELECT id FROM image_batches WHERE batch_name = 'ward-f-2026-04'")
    page = _admin(open_page)
    page.goto(f"/#/admin/batches/{batch_id}")
    toggle = page.locator("[data-page=batches] tbody tr").first.locator("[data-gold]")
    image_id = int(toggle.get_attribute("data-gold") or 0)
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    page.locator("dialog[open]").get_by_role("button", name="Mark as gold").click()
    expect(page.locator("#notices")).to_contain_text(f"Image #{image_id} is a quality check (17 keypoints)")
    expect(page.locator(f"[data-gold='{image_id}']")).to_have_attribute("aria-pressed", "true")
    gold = "SELECT gold_keypoints IS NOT NULL FROM images WHERE id = :i"
    assert stack.scalar(gold, i=image_id) is True

    page.locator(f"[data-gold='{image_id}']").click()
    expect(page.locator(f"[data-gold='{image_id}']")).to_have_attribute("aria-pressed", "false")
    assert stack.scalar(gold, i=image_id) is False
    actions = stack.rows(
        "SELECT action FROM audit_logs WHERE resource_id = :i AND action LIKE 'QUALITY_CHECK_%' ORDER BY id",
        i=image_id,
    )
    assert [a[0] for a in actions] == ["QUALITY_CHECK_SET", "QUALITY_CHECK_CLEARED"]
    no_horizontal_overflow(page)
