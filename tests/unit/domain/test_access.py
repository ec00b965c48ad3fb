"""Who may do what (domain/access.py), one test per rule, against docs/api.md's "Who may do what"."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cradlepose.domain import access
from cradlepose.domain.actor import SYSTEM_USERNAME, Actor, SystemActor, is_reserved_username
from cradlepose.domain.enums import BatchStatus, ImageStatus, Role
from cradlepose.domain.errors import NotAuthenticated, PermissionDenied

pytestmark = pytest.mark.unit


def person(
    role: Role | None, *, user_id: int | None = 7, approved: bool = True, active: bool = True
) -> Actor:
    return Actor(
        user_id=user_id, username=f"user{user_id}", role=role, is_approved=approved, is_active=active
    )


SYSTEM = SystemActor(user_id=None, username=SYSTEM_USERNAME, role=None)
ADMIN, ANNOTATOR, VERIFIER = person(Role.ADMIN), person(Role.ANNOTATOR), person(Role.VERIFIER)
UNREGISTERED = Actor(user_id=None, username="newcomer", role=None, subject="cognito-sub")

# Written from docs/api.md, not read from access.py: a verifier sees "batches being annotated or
# done" and "images that reached review".
VERIFIER_SEES_BATCHES = {BatchStatus.ASSIGNED, BatchStatus.IN_PROGRESS, BatchStatus.COMPLETED}
VERIFIER_SEES_IMAGES = {
    ImageStatus.SUBMITTED,
    ImageStatus.UNDER_REVIEW,
    ImageStatus.APPROVED,
    ImageStatus.REJECTED,
    ImageStatus.REQUIRES_REVISION,
}


def test_nobody_signed_in_is_not_authenticated() -> None:
    with pytest.raises(NotAuthenticated):
        access.require_registered(None)
    with pytest.raises(NotAuthenticated):
        access.require_worker(None)
    with pytest.raises(NotAuthenticated):
        access.require_admin(None)


def test_a_signed_in_caller_who_has_not_registered_is_told_to_register() -> None:
    with pytest.raises(PermissionDenied, match="register"):
        access.require_registered(UNREGISTERED)


def test_a_registered_caller_awaiting_approval_passes_registration_only() -> None:
    # Given a registered, not yet approved annotator  Then they may read their profile, not work
    pending = person(Role.ANNOTATOR, approved=False)
    assert access.require_registered(pending) is pending
    with pytest.raises(PermissionDenied, match="awaiting approval"):
        access.require_worker(pending)


def test_a_deactivated_account_may_not_work_even_when_approved() -> None:
    with pytest.raises(PermissionDenied, match="deactivated"):
        access.require_worker(person(Role.ADMIN, active=False))


def test_an_approved_active_person_and_the_system_may_work() -> None:
    assert access.require_worker(ANNOTATOR) is ANNOTATOR
    assert access.require_worker(SYSTEM) is SYSTEM


@pytest.mark.parametrize("role", list(Role))
def test_a_role_check_lets_in_exactly_the_named_roles(role: Role) -> None:
    actor = person(role)
    assert access.require_role(actor, role) is actor
    others = [r for r in Role if r is not role]
    with pytest.raises(PermissionDenied, match=f"only {others[0].value} or {others[1].value} may do this"):
        access.require_role(actor, *others)


def test_a_role_check_never_lets_in_a_person_who_may_not_work() -> None:
    with pytest.raises(PermissionDenied, match="awaiting approval"):
        access.require_role(person(Role.ADMIN, approved=False), Role.ADMIN)


def test_a_person_without_a_role_is_refused_by_any_role_check() -> None:
    with pytest.raises(PermissionDenied, match="you are no role"):
        access.require_role(person(None), *Role)


def test_the_system_passes_every_role_check() -> None:
    assert access.require_role(SYSTEM, Role.ANNOTATOR) is SYSTEM
    assert access.require_admin(SYSTEM) is SYSTEM


def test_only_admins_pass_the_admin_check() -> None:
    assert access.require_admin(ADMIN) is ADMIN
    for actor in (ANNOTATOR, VERIFIER):
        with pytest.raises(PermissionDenied):
            access.require_admin(actor)


def test_researchers_are_admins_and_verifiers_never_annotators() -> None:
    # docs/api.md: datasets, exports, jobs are for verifiers (as researchers) and admins
    assert access.require_researcher(ADMIN) is ADMIN
    assert access.require_researcher(VERIFIER) is VERIFIER
    with pytest.raises(PermissionDenied):
        access.require_researcher(ANNOTATOR)


def test_is_admin_means_the_admin_role_or_the_system() -> None:
    assert access.is_admin(ADMIN)
    assert access.is_admin(SYSTEM)
    assert not access.is_admin(VERIFIER)
    assert not access.is_admin(ANNOTATOR)


def test_a_person_may_act_on_what_they_own_an_admin_on_anything() -> None:
    assert access.owns_or_admin(VERIFIER, owner_id=7)
    assert not access.owns_or_admin(VERIFIER, owner_id=8)
    assert access.owns_or_admin(ADMIN, owner_id=8)
    assert access.owns_or_admin(SYSTEM, owner_id=8)


def test_nobody_owns_what_has_no_owner_by_having_no_id() -> None:
    # An unregistered caller (no user id) does not own an object whose owner is unknown (None)
    assert not access.owns_or_admin(UNREGISTERED, owner_id=None)
    assert not access.owns_or_admin(VERIFIER, owner_id=None)


@pytest.mark.parametrize("status", list(BatchStatus))
def test_admins_and_the_system_see_every_batch(status: BatchStatus) -> None:
    assert access.can_read_batch(ADMIN, status, is_assigned=False)
    assert access.can_read_batch(SYSTEM, status, is_assigned=False)


@given(st.sampled_from(list(BatchStatus)), st.booleans())
def test_an_annotator_sees_a_batch_exactly_when_it_is_theirs(status: BatchStatus, assigned: bool) -> None:
    assert access.can_read_batch(ANNOTATOR, status, is_assigned=assigned) is assigned


@given(st.sampled_from(list(BatchStatus)), st.booleans())
def test_a_verifier_sees_batches_being_annotated_or_done(status: BatchStatus, assigned: bool) -> None:
    assert access.can_read_batch(VERIFIER, status, is_assigned=assigned) is (status in VERIFIER_SEES_BATCHES)


@given(st.booleans())
def test_admins_and_the_system_see_every_image(holds: bool) -> None:
    assert access.can_read_image(ADMIN, holds_open_work=holds)
    assert access.can_read_image(SYSTEM, holds_open_work=holds)


@given(st.sampled_from([ANNOTATOR, VERIFIER]), st.booleans())
def test_annotators_and_verifiers_see_an_image_only_while_their_open_work_covers_it(
    actor: Actor, holds: bool
) -> None:
    # issue 18: a finished or reassigned assignment, or a decided verification, ends access
    assert access.can_read_image(actor, holds_open_work=holds) is holds


def test_open_assignments_are_the_ones_not_handed_in_or_finished() -> None:
    assert {s.value for s in access.OPEN_ASSIGNMENT_STATUSES} == {
        "ASSIGNED",
        "ACKNOWLEDGED",
        "IN_PROGRESS",
        "OVERDUE",
    }


@given(st.sampled_from(list(ImageStatus)))
def test_a_verifier_analyses_images_that_reached_review(status: ImageStatus) -> None:
    assert access.can_analyse_image(VERIFIER, status) is (status in VERIFIER_SEES_IMAGES)
    assert access.can_analyse_image(ADMIN, status)
    assert not access.can_analyse_image(ANNOTATOR, status)


@given(st.sampled_from(list(ImageStatus)), st.booleans())
def test_a_verifier_targets_verified_images_and_the_one_under_their_review(
    status: ImageStatus, holds: bool
) -> None:
    expected = status is ImageStatus.APPROVED or holds
    assert access.can_target_image(VERIFIER, status, holds_open_work=holds) is expected
    assert access.can_target_image(ADMIN, status, holds_open_work=False)
    assert not access.can_target_image(ANNOTATOR, status, holds_open_work=holds)


def test_a_person_without_a_role_sees_no_batch_and_no_image() -> None:
    nobody = person(None)
    assert not access.can_read_batch(nobody, BatchStatus.IN_PROGRESS, is_assigned=True)
    assert not access.can_read_image(nobody, holds_open_work=True)


# ------------------------------------------------------------------ the system is a type, not a name


@given(st.sampled_from(["system", "System", "SYSTEM", " system ", "sYsTeM"]), st.sampled_from([None, *Role]))
def test_a_person_named_system_is_not_the_system_and_passes_no_door(name: str, role: Role | None) -> None:
    """What a token says its holder is called grants nothing: only a SystemActor is the system."""
    for user_id in (None, 7):
        impostor = Actor(user_id=user_id, username=name, role=role, is_approved=True, is_active=True)
        assert not impostor.is_system
        assert is_reserved_username(name)
        for gate in (
            access.require_registered,
            access.require_worker,
            access.require_admin,
            access.require_researcher,
        ):
            with pytest.raises(PermissionDenied, match="reserved"):
                gate(impostor)


@given(st.text(min_size=1, max_size=20).filter(lambda n: n.strip().casefold() != SYSTEM_USERNAME))
def test_only_the_system_name_is_reserved(name: str) -> None:
    assert not is_reserved_username(name)


def test_the_pipeline_acts_as_a_system_actor() -> None:
    from cradlepose.common.system import SYSTEM as PIPELINE  # noqa: PLC0415

    assert isinstance(PIPELINE, SystemActor)
    assert PIPELINE.is_system
    assert access.require_admin(PIPELINE) is PIPELINE


@pytest.mark.parametrize("name", ["system", "System", "SYSTEM"])
def test_no_one_is_invited_or_made_admin_under_the_system_name(name: str) -> None:
    from pydantic import ValidationError  # noqa: PLC0415

    from cradlepose.accounts.users import Invitation, NewAdmin  # noqa: PLC0415

    with pytest.raises(ValidationError, match="reserved"):
        Invitation(username=name, email="x@example.org", role=Role.ANNOTATOR)
    with pytest.raises(ValidationError, match="reserved"):
        NewAdmin(username=name, email="x@example.org")
