"""Declarative base, naming convention and the column types shared by every model."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import DeclarativeBase, mapped_column

# Stable constraint names, so migrations can drop and alter them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: pg.JSONB,
        list[Any]: pg.JSONB,
        dt.datetime: sa.DateTime(timezone=True),
        dt.date: sa.Date,
    }


def pg_enum(enum_cls: type[StrEnum], name: str) -> sa.Enum:
    """A native PostgreSQL enum type whose labels are the Python enum's values."""
    return sa.Enum(enum_cls, name=name, values_callable=lambda e: [m.value for m in e], validate_strings=True)


def numeric(precision: int, scale: int) -> sa.Numeric[Decimal]:
    return sa.Numeric(precision, scale, asdecimal=True)


def between(column: str, low: float | int, high: float | int, name: str | None = None) -> sa.CheckConstraint:
    """CHECK that a nullable column lies in [low, high]."""
    return sa.CheckConstraint(f"{column} BETWEEN {low} AND {high}", name=name or f"{column}_range")


def non_negative(*columns: str) -> list[sa.CheckConstraint]:
    return [sa.CheckConstraint(f"{c} >= 0", name=f"{c}_non_negative") for c in columns]


BigIntPK = Annotated[int, mapped_column(sa.BigInteger, sa.Identity(always=False), primary_key=True)]
CreatedAt = Annotated[dt.datetime, mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())]
