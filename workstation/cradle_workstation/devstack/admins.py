"""Local administrators: an identity account with a generated password, and the Cradle user.

Used by `cradle admin create` and by `cradle dev` on its first start. The password is written
to `<state-dir>/credentials/<username>.json`, readable only by its owner; it is nowhere else.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradle_workstation.devstack import local_identity
from cradle_workstation.devstack.identity_provider import LocalIdentityAdapter, generate_password
from cradlepose.accounts import users
from cradlepose.common.system import SYSTEM
from cradlepose.db.models import User
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.enums import Role


def create_local_admin(
    session_factory: sessionmaker[Session],
    identity: LocalIdentityAdapter,
    state_dir: Path,
    command: users.NewAdmin,
    context: RequestContext,
) -> tuple[users.UserOut, Path]:
    """The account and the approved ADMIN; returns the user and where the credentials are."""
    with UnitOfWork(session_factory, SYSTEM, context) as uow:
        admin = users.bootstrap_admin(uow, identity, command)
    password = generate_password()
    identity.set_password(admin.username, password)
    return admin, local_identity.write_credentials(state_dir, admin.username, password, Role.ADMIN.value)


def any_admin(session_factory: sessionmaker[Session]) -> str | None:
    """The name of an active administrator who can sign in, if there is one."""
    with session_factory() as session:
        return session.scalar(
            sa.select(User.username)
            .where(User.role == Role.ADMIN, User.is_active, User.identity_subject.is_not(None))
            .order_by(User.id)
            .limit(1)
        )
