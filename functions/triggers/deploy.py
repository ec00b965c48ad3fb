"""Deployment-time functions: database migrations (a CloudFormation custom resource) and the
first administrator (invoked by an operator's `cradle admin create --stack …`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from aws_lambda_powertools.utilities.typing import LambdaContext

from cradlepose import upgrade as database
from cradlepose.accounts import users
from cradlepose.adapters.identity import CognitoIdentityProvider, IdentityProvider
from cradlepose.bootstrap import default_uow_factory
from cradlepose.common.system import SYSTEM
from cradlepose.db.engine import create_engine, migration_settings
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.validation import parse
from cradlepose.settings import get_settings
from triggers.observability import logger, metrics, tracer

# One physical id for the life of the stack: a new one on Update would make CloudFormation send a
# Delete for the old one.
MIGRATIONS_RESOURCE_ID = "cradle-database-migrations"
BOOTSTRAP_CONTEXT = RequestContext(
    user_agent="cradle-bootstrap-admin", endpoint="lambda:bootstrap_admin", method="INVOKE"
)


class UnknownRequest(ValueError):
    """CloudFormation sent a RequestType other than Create, Update or Delete."""


def run_migrate(event: dict[str, Any], engine: sa.Engine | None = None) -> dict[str, Any]:
    """Answer CDK's custom-resource Provider: upgrade on Create/Update, nothing on Delete.

    Returning is success (the framework answers CloudFormation); raising fails the deploy with
    the exception's message. The migration and the reference-library sync are both idempotent,
    so a repeated request is harmless.
    """
    request = event.get("RequestType")
    physical_id = event.get("PhysicalResourceId") or MIGRATIONS_RESOURCE_ID
    if request == "Delete":
        return {"PhysicalResourceId": physical_id}
    if request not in ("Create", "Update"):
        raise UnknownRequest(f"unknown RequestType {request!r}")
    owned = engine is None
    # As the owner: the only function that connects as the migration role (docs/security.md).
    engine = engine or create_engine(migration_settings(get_settings()), pool_size=1)
    try:
        upgraded = database.upgrade(engine)
    finally:
        if owned:
            engine.dispose()
    before, after = upgraded.previous_revision, upgraded.revision
    logger.info(
        "migrated",
        extra={"from_revision": before, "to_revision": after, "reference_library": upgraded.library.revision},
    )
    return {"PhysicalResourceId": physical_id, "Data": {"Revision": after or "", "Previous": before or ""}}


def run_bootstrap_admin(
    event: dict[str, Any],
    uow_factory: UnitOfWorkFactory | None = None,
    identity: IdentityProvider | None = None,
) -> dict[str, Any]:
    """`{"username", "email"}` → the Cognito user (ADMIN group, e-mailed a temporary password) and the row."""
    command = parse(users.NewAdmin, {"username": event.get("username"), "email": event.get("email")})
    if identity is None:
        pool = get_settings().cognito_user_pool_id
        if not pool:
            raise RuntimeError("CRADLE_COGNITO_USER_POOL_ID is not set for this function")
        identity = CognitoIdentityProvider(pool)
    factory = uow_factory or default_uow_factory()
    with factory(SYSTEM, BOOTSTRAP_CONTEXT) as uow:
        admin = users.bootstrap_admin(uow, identity, command)
    logger.info("administrator created", extra={"user_id": admin.id})
    return admin.model_dump(mode="json")


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def migrate(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_migrate(event)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def bootstrap_admin(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_bootstrap_admin(event)
