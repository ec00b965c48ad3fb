"""Image metadata at intake: the bounds of each field, the pseudonym rule, and defaults merging."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cradlepose.domain.image_metadata import (
    ImageMetadata,
    InfantMetadata,
    merged,
    pseudonym_problem,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("good", ["s1", "s-1", "CP-017", "INF_0042", "SUBJ-123456", "a1b2c3", "7x"])
def test_pseudonyms_that_pass(good: str) -> None:
    assert pseudonym_problem(good) is None
    assert InfantMetadata(subject_id=good).subject_id == good


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("Alice", "digit"),  # a name
        ("Jane Doe 2", "letters, digits"),  # spaces
        ("Smith3", "4 letters"),  # a name with a number
        ("okafor-01", "4 letters"),
        ("1234567", "6 digits"),  # a record number
        ("P-20240131", "6 digits"),  # a date
        ("MRN-12", "record number"),
        ("x", "2-40"),
        ("-1a", "starting"),
        ("a" * 41, "2-40"),
    ],
)
def test_pseudonyms_that_look_like_names_or_record_numbers_are_refused(bad: str, why: str) -> None:
    problem = pseudonym_problem(bad)
    assert problem is not None
    assert why in problem
    with pytest.raises(ValidationError):
        InfantMetadata(subject_id=bad)


@given(st.text(alphabet=st.characters(min_codepoint=65, max_codepoint=122), min_size=5, max_size=20))
def test_a_run_of_five_letters_is_never_a_pseudonym(letters: str) -> None:
    if letters.isalpha() and letters.isascii():
        assert pseudonym_problem(letters + "1") is not None


def test_bounds_of_the_infant_fields() -> None:
    assert InfantMetadata(age_months=0).age_months == 0
    assert InfantMetadata(age_months=240).age_months == 240
    for age in (-0.1, 240.5, float("nan"), float("inf")):
        with pytest.raises(ValidationError):
            InfantMetadata(age_months=age)
    with pytest.raises(ValidationError):
        InfantMetadata.model_validate({"sex": "M"})
    with pytest.raises(ValidationError):
        InfantMetadata.model_validate({"session_type": "x" * 51})
    with pytest.raises(ValidationError):
        InfantMetadata.model_validate({"name": "Jane"})  # no other keys: nothing identifying slips in


def test_acquisition_date_and_institution() -> None:
    today = dt.datetime.now(dt.UTC).date()
    assert ImageMetadata(acquisition_date=today).acquisition_date == today
    with pytest.raises(ValidationError, match="future"):
        ImageMetadata(acquisition_date=today + dt.timedelta(days=2))
    with pytest.raises(ValidationError):
        ImageMetadata(acquisition_date=dt.date(1989, 12, 31))
    assert ImageMetadata(source_institution="  Site A ").source_institution == "Site A"
    for bad in ("   ", "a\nb", "x" * 101):
        with pytest.raises(ValidationError):
            ImageMetadata(source_institution=bad)


def test_a_files_values_win_over_the_batch_defaults_key_by_key() -> None:
    defaults = ImageMetadata(
        infant_metadata=InfantMetadata(session_type="clinic", age_months=3),
        acquisition_date=dt.date(2024, 5, 1),
        source_institution="Site A",
    ).stored()
    own = ImageMetadata(infant_metadata=InfantMetadata(age_months=4.5, subject_id="CP-1")).stored()
    assert merged(defaults, own) == {
        "infant_metadata": {"session_type": "clinic", "age_months": 4.5, "subject_id": "CP-1"},
        "acquisition_date": dt.date(2024, 5, 1),
        "source_institution": "Site A",
    }
    assert merged(None, None) == {
        "infant_metadata": None,
        "acquisition_date": None,
        "source_institution": None,
    }
