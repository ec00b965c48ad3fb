"""Keypoint schemas: create, read, edit while unused, new versions, activation.

A schema that a batch uses is immutable: its annotations were validated against it. Editing
one makes a new version (inactive until activated); activating a version deactivates the
other versions of the same name in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.common.paging import keyset_rows
from cradlepose.common.use_cases import (
    DecimalNumber,
    Page,
    audit,
    commit_or_conflict,
    snapshot,
    tenths,
)
from cradlepose.db.models import ImageBatch, KeypointSchema
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.bounds import INTEGER_MAX, NOT_NULL, KeypointId, Patch
from cradlepose.domain.enums import AuditCategory
from cradlepose.domain.errors import Conflict
from cradlepose.domain.keypoint_schema import KeypointSchemaSpec, SchemaDefinition, parse_spec


class SchemaOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    version: str
    description: str | None
    schema_definition: SchemaDefinition
    total_keypoints: int
    required_keypoints: list[int] | None
    min_visibility_threshold: DecimalNumber
    max_missing_keypoints: int
    is_active: bool
    created_by: int
    created_at: dt.datetime
    last_modified: dt.datetime
    in_use: bool = Field(
        default=False, description="a batch uses it, so it can only change through a new version"
    )


class SchemaIn(BaseModel):
    """A schema to create. `schema_definition` holds keypoints, connections and body parts."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    version: str = Field(min_length=1, max_length=10, pattern=r"^v?\d+(\.\d+){0,2}([-.][a-z0-9]+)?$")
    description: str | None = Field(default=None, max_length=5000)
    schema_definition: dict[str, Any]
    required_keypoints: list[KeypointId] | None = None
    min_visibility_threshold: float = Field(default=0.5, ge=0, le=1, description="one decimal place")
    max_missing_keypoints: int = Field(default=3, ge=0, le=INTEGER_MAX)
    is_active: bool = True

    def spec(self) -> KeypointSchemaSpec:
        return parse_spec(
            {
                "name": self.name,
                "version": self.version,
                "description": self.description,
                "schema_definition": self.schema_definition,
                "required_keypoints": self.required_keypoints,
                "min_visibility_threshold": tenths(self.min_visibility_threshold),
                "max_missing_keypoints": self.max_missing_keypoints,
            }
        )


class SchemaEdit(Patch):
    """Changes to a schema. Unset fields keep their value."""

    description: str | None = Field(default=None, max_length=5000)
    schema_definition: Annotated[dict[str, Any] | None, NOT_NULL] = None
    required_keypoints: list[KeypointId] | None = None
    min_visibility_threshold: Annotated[float | None, NOT_NULL] = Field(
        default=None, ge=0, le=1, description="one decimal place"
    )
    max_missing_keypoints: Annotated[int | None, NOT_NULL] = Field(default=None, ge=0, le=INTEGER_MAX)


class NewVersion(SchemaEdit):
    version: str = Field(min_length=1, max_length=10, pattern=r"^v?\d+(\.\d+){0,2}([-.][a-z0-9]+)?$")


_FIELDS = (
    "name",
    "version",
    "description",
    "schema_definition",
    "total_keypoints",
    "required_keypoints",
    "min_visibility_threshold",
    "max_missing_keypoints",
    "is_active",
)


def list_schemas(
    uow: UnitOfWork, *, name: str | None, active: bool | None, cursor: str | None, limit: int
) -> Page[SchemaOut]:
    access.require_worker(uow.actor)
    query = sa.select(KeypointSchema)
    if name is not None:
        query = query.where(KeypointSchema.name == name)
    if active is not None:
        query = query.where(KeypointSchema.is_active == active)
    rows, next_cursor = keyset_rows(
        uow.session, query, order_by=[KeypointSchema.id.desc()], cursor=cursor, limit=limit
    )
    used = _in_use(uow, [r.id for r in rows])
    return Page[SchemaOut](items=[_out(r, r.id in used) for r in rows], next_cursor=next_cursor)


def get_schema(uow: UnitOfWork, schema_id: int) -> SchemaOut:
    access.require_worker(uow.actor)
    row = uow.schemas.require(schema_id)
    return _out(row, bool(_in_use(uow, [row.id])))


def create_schema(uow: UnitOfWork, command: SchemaIn) -> SchemaOut:
    actor = access.require_admin(uow.actor)
    spec = command.spec()
    if uow.schemas.by_name_version(spec.name, spec.version) is not None:
        raise Conflict(f"schema {spec.name} {spec.version} already exists")
    if command.is_active and uow.schemas.active(spec.name) is not None:
        raise Conflict(
            f"{spec.name} already has an active version; create this one inactive or use /versions"
        )
    row = uow.schemas.add(
        KeypointSchema(**spec.row_values(), is_active=command.is_active, created_by=actor.user_id)
    )
    _audit(uow, row, "SCHEMA_CREATED", new=snapshot(row, _FIELDS))
    _commit(uow, spec)
    return _out(row, False)


def edit_schema(uow: UnitOfWork, schema_id: int, command: SchemaEdit) -> SchemaOut:
    access.require_admin(uow.actor)
    row = _locked(uow, schema_id)
    if _in_use(uow, [row.id]):
        raise Conflict(
            f"schema {row.name} {row.version} is used by a batch and cannot change; "
            f"create a new version with POST /schemas/{row.id}/versions"
        )
    before = snapshot(row, _FIELDS)
    spec = _merged_spec(row, command, version=row.version)
    for column, value in spec.row_values().items():
        setattr(row, column, value)
    _audit(uow, row, "SCHEMA_EDITED", old=before, new=snapshot(row, _FIELDS))
    _commit(uow, spec)
    return _out(row, False)


def new_version(uow: UnitOfWork, schema_id: int, command: NewVersion) -> SchemaOut:
    """A new, inactive version of a schema with the given changes; activate it when ready."""
    row, spec = add_version(uow, schema_id, command)
    _commit(uow, spec)
    return _out(row, False)


def add_version(
    uow: UnitOfWork, schema_id: int, command: NewVersion, summary: str | None = None
) -> tuple[KeypointSchema, KeypointSchemaSpec]:
    """The new version's row, audited, in the caller's transaction (which commits it)."""
    actor = access.require_admin(uow.actor)
    base = uow.schemas.require(schema_id)
    spec = _merged_spec(base, command, version=command.version)
    if uow.schemas.by_name_version(spec.name, spec.version) is not None:
        raise Conflict(f"schema {spec.name} {spec.version} already exists")
    row = uow.schemas.add(KeypointSchema(**spec.row_values(), is_active=False, created_by=actor.user_id))
    _audit(
        uow,
        row,
        "SCHEMA_VERSION_CREATED",
        new=snapshot(row, _FIELDS),
        summary=summary or f"from version {base.version}",
    )
    return row, spec


def out(uow: UnitOfWork, row: KeypointSchema) -> SchemaOut:
    return _out(row, bool(_in_use(uow, [row.id])))


def commit(uow: UnitOfWork, spec: KeypointSchemaSpec) -> None:
    _commit(uow, spec)


def set_active(uow: UnitOfWork, schema_id: int, active: bool) -> SchemaOut:
    access.require_admin(uow.actor)
    row = _locked(uow, schema_id)
    if row.is_active == active:
        raise Conflict(f"schema {row.name} {row.version} is already {'active' if active else 'inactive'}")
    if active:
        for other in uow.session.scalars(
            sa.select(KeypointSchema)
            .where(KeypointSchema.name == row.name, KeypointSchema.is_active, KeypointSchema.id != row.id)
            .with_for_update()
        ):
            other.is_active = False
            _audit(
                uow,
                other,
                "SCHEMA_DEACTIVATED",
                old={"is_active": True},
                new={"is_active": False},
                summary=f"version {row.version} activated",
            )
        uow.flush()
    row.is_active = active
    _audit(
        uow,
        row,
        "SCHEMA_ACTIVATED" if active else "SCHEMA_DEACTIVATED",
        old={"is_active": not active},
        new={"is_active": active},
    )
    uow.commit()
    return _out(row, bool(_in_use(uow, [row.id])))


# ------------------------------------------------------------------ helpers


def _merged_spec(row: KeypointSchema, command: SchemaEdit, *, version: str) -> KeypointSchemaSpec:
    changes = command.model_dump(exclude_unset=True, exclude={"version"})
    return parse_spec(
        {
            "name": row.name,
            "version": version,
            "description": changes.get("description", row.description),
            "schema_definition": changes.get("schema_definition", row.schema_definition),
            "required_keypoints": changes.get("required_keypoints", row.required_keypoints),
            "min_visibility_threshold": tenths(changes["min_visibility_threshold"])
            if changes.get("min_visibility_threshold") is not None
            else row.min_visibility_threshold,
            "max_missing_keypoints": changes.get("max_missing_keypoints", row.max_missing_keypoints),
        }
    )


def _locked(uow: UnitOfWork, schema_id: int) -> KeypointSchema:
    row = uow.schemas.require(schema_id, for_update=True)
    return row


def _in_use(uow: UnitOfWork, schema_ids: list[int]) -> set[int]:
    if not schema_ids:
        return set()
    return set(
        uow.session.scalars(
            sa.select(ImageBatch.keypoint_schema_id)
            .where(ImageBatch.keypoint_schema_id.in_(schema_ids))
            .distinct()
        )
    )


def _out(row: KeypointSchema, in_use: bool) -> SchemaOut:
    out = SchemaOut.model_validate(row)
    return out.model_copy(update={"in_use": in_use})


def _commit(uow: UnitOfWork, spec: KeypointSchemaSpec) -> None:
    commit_or_conflict(uow, f"schema {spec.name} {spec.version} clashes with one created at the same time")


def _audit(uow: UnitOfWork, row: KeypointSchema, action: str, **details: Any) -> None:
    audit(uow, action, AuditCategory.SYSTEM, "KeypointSchema", row.id, f"{row.name} {row.version}", **details)
