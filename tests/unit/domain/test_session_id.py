"""The audit log's session_id: which sign-in a verified ID token belongs to."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cradlepose.domain.actor import SESSION_ID_LENGTH, session_id_of

pytestmark = pytest.mark.unit


def test_origin_jti_names_the_session_whatever_the_token() -> None:
    first = {"sub": "s-1", "auth_time": "1700000000", "jti": "a", "origin_jti": "o-1"}
    refreshed = {**first, "jti": "b"}
    assert session_id_of(first) == session_id_of(refreshed) == "jti:o-1"


def test_without_origin_jti_the_subject_and_sign_in_time_name_it() -> None:
    one = session_id_of({"sub": "s-1", "auth_time": "1700000000"})
    assert one is not None
    assert one.startswith("auth:")
    assert "s-1" not in one  # neither the subject nor the time is repeated in the audit row
    assert one == session_id_of({"sub": "s-1", "auth_time": "1700000000", "jti": "other"})
    assert one != session_id_of({"sub": "s-1", "auth_time": "1700000001"})
    assert one != session_id_of({"sub": "s-2", "auth_time": "1700000000"})


def test_no_session_without_either() -> None:
    assert session_id_of({}) is None
    assert session_id_of({"sub": "s-1"}) is None
    assert session_id_of({"origin_jti": "  "}) is None


@given(st.dictionaries(st.sampled_from(["sub", "auth_time", "origin_jti", "jti"]), st.text(max_size=300)))
def test_a_session_id_always_fits_the_column(claims: dict[str, str]) -> None:
    found = session_id_of(claims)
    assert found is None or 0 < len(found) <= SESSION_ID_LENGTH
