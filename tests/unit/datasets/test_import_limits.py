"""Dataset imports: the archive's directory is checked before anything is inflated, and COCO
documents are read as a stream that gives what json.load gives, for the fields an import reads."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cradlepose.datasets import coco_stream
from cradlepose.datasets.archive_limits import MAX_JSON_BYTES, MAX_MEMBERS, ArchiveLimits, check_directory
from cradlepose.domain.errors import ValidationFailed

pytestmark = pytest.mark.unit

LIMITS = ArchiveLimits(max_total_bytes=64 * 1024 * 1024, max_image_bytes=1024 * 1024)


def _is_document(info: zipfile.ZipInfo) -> bool:
    return info.filename.endswith(".json")


def _is_image(info: zipfile.ZipInfo) -> bool:
    return info.filename.endswith(".jpg")


def _zip(members: dict[str, bytes]) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return zipfile.ZipFile(buffer)


def _check(archive: zipfile.ZipFile, limits: ArchiveLimits = LIMITS) -> str:
    with pytest.raises(ValidationFailed) as refused:
        check_directory(archive, limits, _is_document, _is_image)
    return refused.value.detail


def test_a_zip_bomb_is_refused_from_its_directory() -> None:
    assert "zip bomb" in _check(_zip({"a.json": b"\x00" * (8 * 1024 * 1024)}))


def test_the_total_inflated_size_is_capped() -> None:
    members = {f"{n}.bin": bytes(range(256)) * 4096 for n in range(3)}  # 1 MiB each: under the ratio floor
    small = ArchiveLimits(max_total_bytes=2 * 1024 * 1024, max_image_bytes=LIMITS.max_image_bytes)
    assert "inflates to" in _check(_zip(members), small)


def test_an_image_larger_than_an_upload_is_refused() -> None:
    import os  # noqa: PLC0415

    assert "an image may have" in _check(_zip({"big.jpg": os.urandom(LIMITS.max_image_bytes + 1)}))


def test_too_many_members_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from cradlepose.datasets import archive_limits  # noqa: PLC0415

    monkeypatch.setattr(archive_limits, "MAX_MEMBERS", 10)
    assert "members" in _check(_zip({f"{n}.jpg": b"x" for n in range(11)}))
    assert MAX_MEMBERS >= 100_000  # the real cap leaves room for real datasets


def test_a_coco_file_over_the_cap_is_refused_before_it_is_read() -> None:
    archive = _zip({"a.json": b"{}"})
    archive.getinfo("a.json").file_size = MAX_JSON_BYTES + 1  # what the directory says
    archive.getinfo("a.json").compress_size = MAX_JSON_BYTES  # not a bomb, just too big
    assert "a COCO file may have" in _check(archive, ArchiveLimits(2**40, LIMITS.max_image_bytes))


def test_a_well_formed_archive_passes_and_lists_its_documents() -> None:
    directory = check_directory(_zip({"a.json": b"{}", "x.jpg": b"x"}), LIMITS, _is_document, _is_image)
    assert [d.filename for d in directory.documents] == ["a.json"]
    assert directory.json_bytes == 2


KEEP = {"images": frozenset({"id", "file_name"}), "annotations": frozenset({"keypoints"})}
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_element = st.fixed_dictionaries(
    {"id": st.integers(), "file_name": st.text()}, optional={"segmentation": _json, "keypoints": _json}
)
_document = st.fixed_dictionaries(
    {"images": st.lists(_element, max_size=5), "annotations": st.lists(_element | _json, max_size=5)},
    optional={"info": _json, "licenses": _json},
)


def _expected(document: dict[str, Any]) -> dict[str, Any]:
    return {
        key: [
            {k: v for k, v in e.items() if k in fields} if isinstance(e, dict) else e for e in document[key]
        ]
        for key, fields in KEEP.items()
        if key in document
    }


@settings(max_examples=150)
@given(_document, st.integers(1, 64), st.sampled_from([None, 2]))
def test_the_stream_gives_what_json_load_gives(
    document: dict[str, Any], chunk: int, indent: int | None
) -> None:
    text = json.dumps(document, indent=indent, ensure_ascii=False).encode()
    original = coco_stream._CHUNK
    coco_stream._CHUNK = chunk  # tiny reads: every value is cut somewhere
    try:
        assert coco_stream.load_document(io.BytesIO(text), KEEP) == _expected(document)
    finally:
        coco_stream._CHUNK = original


@pytest.mark.parametrize(
    "text", [b"", b"[]", b'{"images": [1, 2', b'{"images": []} x', b'{"a" 1}', b"\xff{}"]
)
def test_broken_documents_raise_what_plan_turns_into_a_422(text: bytes) -> None:
    with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)):
        coco_stream.load_document(io.BytesIO(text), KEEP)


class _CutAt(io.RawIOBase):
    """A file whose first read ends at `cut`; later reads give the rest."""

    def __init__(self, data: bytes, cut: int) -> None:
        self._data, self._cut, self._pos = data, cut, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        end = self._cut if self._pos < self._cut else len(self._data)
        piece = self._data[self._pos : end]
        self._pos = end
        return piece


@pytest.mark.parametrize("number", ["1.5", "1e3", "1E+3", "-2.5e-3", "10.25"])
def test_a_number_cut_before_its_fraction_or_exponent_is_read_whole(number: str) -> None:
    # Given a first read that ends right after "1." or "1e" (where the JSON decoder stops)
    text = '{"annotations": [' + number + ", 7]}"
    cut = text.index(number) + next(i for i, c in enumerate(number) if c in ".eE") + 1
    # Then the number comes out whole
    document = coco_stream.load_document(_CutAt(text.encode(), cut), KEEP)  # type: ignore[arg-type]
    assert document == json.loads(text)
