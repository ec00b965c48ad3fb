"""`cradle upload --metadata FILE.csv`: what is known about each image, one row per file.

Columns (a header row names them; only `filename` is required, an empty cell says nothing):
filename, age_months, sex, session_type, pseudonym, acquisition_date (YYYY-MM-DD),
source_institution. `filename` is the file's path relative to the folder, or its bare name where
that is unique. Every row is checked with the API's own rules (cradlepose.domain.image_metadata)
before anything is sent, and every problem is reported at once with its row and column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cradlepose.domain.image_metadata import ImageMetadata

COLUMNS = (
    "filename",
    "age_months",
    "sex",
    "session_type",
    "pseudonym",
    "acquisition_date",
    "source_institution",
)
# CSV column → where the API takes it (the pseudonym is stored as infant_metadata.subject_id).
_INFANT = {
    "age_months": "age_months",
    "sex": "sex",
    "session_type": "session_type",
    "pseudonym": "subject_id",
}


class MetadataFileError(ValueError):
    """The CSV cannot be used; `problems` lists each as 'row N, column: what is wrong'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def read_metadata_csv(path: Path, files: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per file (its path relative to the folder), the metadata fields of its upload-form entry."""
    known = list(files)
    by_name: dict[str, list[str]] = {}
    for relative in known:
        by_name.setdefault(Path(relative).name, []).append(relative)
    problems: list[str] = []
    result: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        unknown = [h for h in header if h not in COLUMNS]
        if "filename" not in header or unknown:
            raise MetadataFileError(
                [f"the header must name filename and only these columns: {', '.join(COLUMNS)}"]
                + [f"unknown column {h!r}" for h in unknown]
            )
        for number, raw in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            name = row.get("filename", "")
            target = _file_for(name, known, by_name)
            if target is None:
                problems.append(
                    f"row {number}, filename: {name!r} is not a file of the folder (or is ambiguous)"
                )
                continue
            if target in seen:
                problems.append(f"row {number}, filename: {name!r} is listed twice")
                continue
            seen.add(target)
            try:
                checked = ImageMetadata.model_validate(_entry(row))
            except ValidationError as error:
                for item in error.errors():
                    column = _column(item["loc"])
                    problems.append(f"row {number}, {column}: {item['msg']}")
                continue
            result[target] = checked.stored()
    if problems:
        raise MetadataFileError(problems)
    return result


def _file_for(name: str, known: list[str], by_name: dict[str, list[str]]) -> str | None:
    if name in known:
        return name
    matches = by_name.get(name, [])
    return matches[0] if len(matches) == 1 else None


def _entry(row: dict[str, str]) -> dict[str, Any]:
    infant = {key: row[column] for column, key in _INFANT.items() if row.get(column)}
    entry: dict[str, Any] = {}
    if infant:
        entry["infant_metadata"] = infant
    for column in ("acquisition_date", "source_institution"):
        if row.get(column):
            entry[column] = row[column]
    return entry


def _column(location: tuple[int | str, ...]) -> str:
    """The CSV column a validation error's location points at."""
    names = {key: column for column, key in _INFANT.items()}
    last = str(location[-1]) if location else "row"
    return names.get(last, last) if location and location[0] == "infant_metadata" else last
