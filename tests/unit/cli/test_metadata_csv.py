"""`cradle upload --metadata FILE.csv`: each row checked with the API's rules, sent with its file's form."""

from __future__ import annotations

from pathlib import Path

import pytest

from cradle_workstation.cli import uploader
from cradle_workstation.cli.metadata_csv import MetadataFileError, read_metadata_csv
from cradlepose.intake.batches import BatchIn
from tests.unit.cli.test_uploader import API, FakeApi, _folder

pytestmark = pytest.mark.unit

HEADER = "filename,age_months,sex,session_type,pseudonym,acquisition_date,source_institution\n"


def _csv(tmp_path: Path, rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "meta.csv"
    path.write_text(header + rows)
    return path


def test_rows_become_form_entries_by_path_or_unique_name(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    folder = _folder(images)
    state = uploader.scan(folder, None, API, "session")
    described = read_metadata_csv(
        _csv(tmp_path, "a.jpg,4.5,female,clinic,CP-017,2025-03-01,Site A\nc.jpeg,,,,s-2,,\n"), state.files
    )
    assert described == {
        "a.jpg": {
            "infant_metadata": {
                "age_months": 4.5,
                "sex": "female",
                "session_type": "clinic",
                "subject_id": "CP-017",
            },
            "acquisition_date": "2025-03-01",
            "source_institution": "Site A",
        },
        "sub/c.jpeg": {"infant_metadata": {"subject_id": "s-2"}},
    }

    uploader.describe_files(state, described)
    api = FakeApi()
    uploader.ensure_batch(api, state, folder, {})  # type: ignore[arg-type]
    listed = {f["filename"]: f for f in api.calls[0][2]["uploads"]["files"]}
    assert listed["a.jpg"]["infant_metadata"]["subject_id"] == "CP-017"
    assert listed["c.jpeg"]["infant_metadata"] == {"subject_id": "s-2"}
    assert set(listed["b.PNG"]) == {"filename", "size"}
    # What the CLI sends is what the API's own request model takes
    BatchIn.model_validate(api.calls[0][2])


def test_every_bad_row_is_reported_with_its_row_and_column(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    folder = _folder(images)
    state = uploader.scan(folder, None, API, "session")
    rows = (
        "a.jpg,-1,female,clinic,Jane Smith,2025-03-01,Site A\n"
        "b.PNG,3,M,,,2999-01-01,\n"
        "missing.jpg,3,,,,,\n"
        "a.jpg,3,,,,,\n"
    )
    with pytest.raises(MetadataFileError) as raised:
        read_metadata_csv(_csv(tmp_path, rows), state.files)
    problems = raised.value.problems
    assert any(p.startswith("row 2, age_months") for p in problems)
    assert any(p.startswith("row 2, pseudonym") for p in problems)
    assert any(p.startswith("row 3, sex") for p in problems)
    assert any(p.startswith("row 3, acquisition_date") for p in problems)
    assert any(p.startswith("row 4, filename") for p in problems)
    assert any(p.startswith("row 5, filename") and "twice" in p for p in problems)


def test_an_unknown_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MetadataFileError, match="unknown column 'name'"):
        read_metadata_csv(_csv(tmp_path, "a.jpg,Jane\n", header="filename,name\n"), ["a.jpg"])
