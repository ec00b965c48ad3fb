"""The keypoint schema a request names, or the default one when it names none (an upload's batch,
an imported dataset)."""

from __future__ import annotations

from cradlepose.db.models import KeypointSchema
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain.errors import Conflict, ValidationFailed
from cradlepose.domain.keypoint_schema import DEFAULT_SCHEMA_NAME


def named_or_default(uow: UnitOfWork, schema_id: int | None) -> KeypointSchema:
    """Schema `schema_id` (a 422 when it does not exist), or the active default schema when the
    request names none (a 409 when there is no such schema)."""
    if schema_id is None:
        schema = uow.schemas.active(DEFAULT_SCHEMA_NAME)
        if schema is None:
            raise Conflict(f"no active {DEFAULT_SCHEMA_NAME} schema; name a keypoint_schema_id")
        return schema
    named = uow.schemas.get(schema_id)
    if named is None:
        raise ValidationFailed.single("keypoint_schema_id", f"schema {schema_id} does not exist")
    return named
