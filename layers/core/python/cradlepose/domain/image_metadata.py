"""What an uploader says about an image: the infant, the acquisition date, the institution.

Seed 000's `Image.infant_metadata` (JSON), `acquisition_date` and `source_institution`. They are
given per batch (defaults) and per image (with the file's upload form, or in a correction), and
each is checked here, so a bad value is a 422 before anything is written.

`infant_metadata` holds `age_months` (what the anomaly screening compares by), `sex`,
`session_type`, and `subject_id`: the infant's *pseudonym*, what dataset splits group by so one
infant is never in two splits. The key stays `subject_id` because exports, imports and the anomaly
screening already read it under that name.

A pseudonym must not be a name or a record number. The rule (`pseudonym_problem`), a guard against
the common slips rather than a proof of anonymity:
- 2–40 characters, letters, digits, `-` and `_` only, starting with a letter or digit (no spaces,
  so no "Jane Doe");
- at least one digit (a name alone has none: "Alice", "Okafor");
- no run of more than 4 letters (a first or family name, "Smith3"; a study prefix like "CP",
  "INF" or "SUBJ" fits);
- no run of more than 6 digits (medical record numbers, dates like 20240131, phone numbers);
- not starting with "MRN" (a record number, whatever follows).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from cradlepose.domain.enums import ImageStatus

MAX_AGE_MONTHS = 240.0  # the anomaly screening's bound (anomaly.pose_embeddings)
EARLIEST_ACQUISITION = dt.date(1990, 1, 1)
SUBJECT_KEY = "subject_id"
AGE_KEY = "age_months"

_PSEUDONYM_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,39}$")
_LETTER_RUN = re.compile(r"[A-Za-z]{5,}")
_DIGIT_RUN = re.compile(r"[0-9]{7,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    UNKNOWN = "unknown"


def pseudonym_problem(value: str) -> str | None:
    """Why `value` cannot be an infant pseudonym (see the module's rule), or None if it can."""
    if not _PSEUDONYM_SHAPE.match(value):
        return "2-40 letters, digits, '-' or '_', starting with a letter or digit (no spaces)"
    if not any(c.isdigit() for c in value):
        return "must contain a digit: a pseudonym like 'CP-017', never a name"
    if _LETTER_RUN.search(value):
        return "must not hold more than 4 letters in a row: it looks like a name"
    if _DIGIT_RUN.search(value):
        return "must not hold more than 6 digits in a row: it looks like a record number or a date"
    if value.upper().startswith("MRN"):
        return "must not be a medical record number"
    return None


def _pseudonym(value: str) -> str:
    problem = pseudonym_problem(value)
    if problem is not None:
        raise ValueError(f"not a pseudonym: {problem}")
    return value


def _institution(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


Pseudonym = Annotated[str, AfterValidator(_pseudonym)]
Institution = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_institution)]
SessionType = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _-]*$")]


class InfantMetadata(BaseModel):
    """The infant at acquisition; every field optional (a batch default gives some, a file others)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    age_months: float | None = Field(
        default=None, ge=0, le=MAX_AGE_MONTHS, description="age at acquisition, months (corrected age)"
    )
    sex: Sex | None = None
    session_type: SessionType | None = Field(default=None, description="e.g. clinic, home, follow-up")
    subject_id: Pseudonym | None = Field(
        default=None, description="the infant's pseudonym (never a name or record number)"
    )

    @field_validator("age_months")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    def stored(self) -> dict[str, Any]:
        """The JSON written to Image.infant_metadata: only the fields given."""
        return self.model_dump(mode="json", exclude_none=True)


def _acquired(value: dt.date) -> dt.date:
    if value < EARLIEST_ACQUISITION:
        raise ValueError(f"must be on or after {EARLIEST_ACQUISITION.isoformat()}")
    if value > dt.datetime.now(dt.UTC).date():
        raise ValueError("must not be in the future")
    return value


AcquisitionDate = Annotated[dt.date, AfterValidator(_acquired)]


class ImageMetadata(BaseModel):
    """Metadata for one image or, as defaults, for every image of a batch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    infant_metadata: InfantMetadata | None = None
    acquisition_date: AcquisitionDate | None = None
    source_institution: Institution | None = None

    def is_empty(self) -> bool:
        return (
            self.infant_metadata is None and self.acquisition_date is None and self.source_institution is None
        )

    def stored(self) -> dict[str, Any]:
        """As stored (batch defaults, a file's manifest entry): JSON, only what was given."""
        return self.model_dump(mode="json", exclude_none=True)


def merged(defaults: Mapping[str, Any] | None, own: Mapping[str, Any] | None) -> dict[str, Any]:
    """An image's values: its own over the batch's defaults, key by key (inside infant_metadata
    too, so a batch gives the session type and each file the age and pseudonym).

    Returns the Image columns: `infant_metadata` (dict or None), `acquisition_date` (date or
    None), `source_institution` (str or None)."""
    base, mine = dict(defaults or {}), dict(own or {})
    infant = {**(base.get("infant_metadata") or {}), **(mine.get("infant_metadata") or {})}
    date = mine.get("acquisition_date") or base.get("acquisition_date")
    return {
        "infant_metadata": infant or None,
        "acquisition_date": dt.date.fromisoformat(date) if isinstance(date, str) else date,
        "source_institution": mine.get("source_institution") or base.get("source_institution"),
    }


# ------------------------------------------------------------------ who may correct it

# Before ANNOTATED no one has handed in keypoints for the image: the batch's uploader may still
# correct what they said about it. Afterwards only an admin may, since the annotation (and anything
# derived from it) was made under the old values.
UPLOADER_CORRECTABLE = frozenset(
    {ImageStatus.UPLOADED, ImageStatus.YOLO_PROCESSED, ImageStatus.ASSIGNED, ImageStatus.IN_PROGRESS}
)
