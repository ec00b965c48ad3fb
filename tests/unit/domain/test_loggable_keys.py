"""Logs never carry an uploader's file name (docs/security.md, "Logs carry no values"): what a
log may say about an object key of the uploads bucket."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cradlepose.domain.uploads import UploadKey, loggable_key, safe_filename

pytestmark = pytest.mark.unit

# File names as uploaders send them (the presigned form fills in whatever name the file has).
names = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="/\x00"), min_size=1, max_size=80)


@given(batch_id=st.integers(1, 2**31), name=names)
def test_an_upload_key_is_logged_without_its_file_name(batch_id: int, name: str) -> None:
    key = UploadKey.new(batch_id, name)
    logged = loggable_key(key.incoming)
    assert logged == f"incoming/{batch_id}/{key.slot}"
    assert logged.rsplit("/", 1)[-1] == key.slot  # the slot, unguessable, names the upload
    assert key.filename == safe_filename(name)  # (what the key carried, and the log does not)


@given(key=st.text(min_size=1, max_size=300))
def test_any_other_key_is_logged_as_a_hash_prefix(key: str) -> None:
    logged = loggable_key(key)
    if UploadKey.parse(key) is None:
        assert logged.startswith("sha256:")
        assert len(logged) == len("sha256:") + 16
        assert loggable_key(key) == logged  # the same key, the same line: S3's records can be matched


def test_a_name_like_a_patients_is_gone() -> None:
    key = UploadKey.new(7, "Smith_Jane_2025-03-01.jpg").incoming
    assert "Smith" not in loggable_key(key)
    assert "Smith" not in loggable_key(key.replace("incoming/", "elsewhere/"))
