"""COCO keypoints documents: Cradle's keypoints out, and other datasets' keypoints in.

Out: one image record and at most one person annotation per image (Cradle annotates the one
infant an image is about). `keypoints` is the flat [x1, y1, v1, …] list in the schema's order,
`num_keypoints` counts v > 0, an absent keypoint is written 0, 0, 0 as COCO does, `bbox` and
`area` come from domain.person_box applied to the keypoints as written (rounded as stored, so an
import → export → import → export round trip writes the first export's numbers again), and the
one category carries the schema's keypoint names and its skeleton 1-based, as COCO writes it.
Image records keep Cradle's metadata in extra fields (`infant_metadata`, `source_institution`),
which COCO tools ignore and Cradle reads back.

In: `parse_document` checks a whole document before anything is imported and stops at the first
broken record, naming it (`annotations[12].keypoints[14]: visibility 3 is not 0, 1 or 2`).
Keypoints are matched to the schema by name, so a file that lists them in another order imports
correctly; the visibility flag is kept exactly (other tools turn every labelled keypoint into
"visible" on the way in, which loses the occlusions annotators marked).
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from cradlepose.domain.enums import Visibility
from cradlepose.domain.errors import ValidationFailed
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.keypoints import (
    COORDINATE_DECIMALS,
    Keypoint,
    KeypointSet,
    rounded_set,
    validate_keypoints,
)
from cradlepose.domain.person_box import object_area, person_box

CATEGORY_ID = 1
CATEGORY_NAME = "infant"
ROUND = COORDINATE_DECIMALS  # pixel decimals written, as stored (domain.keypoints.round_coordinate)


@dataclass(frozen=True)
class ExportItem:
    """One image with its verified (or imported) keypoints, as an export writes it."""

    image_id: int
    file_name: str
    width: int
    height: int
    keypoints: KeypointSet | None
    infant_metadata: Mapping[str, Any] | None = None
    source_institution: str | None = None


def category(schema: SchemaDefinition) -> dict[str, Any]:
    position = schema.index_of
    return {
        "id": CATEGORY_ID,
        "name": CATEGORY_NAME,
        "supercategory": "person",
        "keypoints": [k.name for k in schema.keypoints],
        "skeleton": [[position[a] + 1, position[b] + 1] for a, b in schema.connections],
    }


def flat_keypoints(keypoint_set: KeypointSet, schema: SchemaDefinition) -> list[float | int]:
    """[x, y, v] per schema keypoint in schema order; absent (or missing) keypoints are 0, 0, 0."""
    by_id = keypoint_set.by_id()
    flat: list[float | int] = []
    for definition in schema.keypoints:
        keypoint = by_id.get(definition.id)
        if keypoint is None or not keypoint.is_labelled:
            flat += [0, 0, 0]
        else:
            flat += [round(keypoint.x, ROUND), round(keypoint.y, ROUND), int(keypoint.visible)]
    return flat


def image_record(item: ExportItem) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": item.image_id,
        "file_name": item.file_name,
        "width": item.width,
        "height": item.height,
    }
    if item.infant_metadata:
        record["infant_metadata"] = dict(item.infant_metadata)
    if item.source_institution:
        record["source_institution"] = item.source_institution
    return record


def annotation_record(
    item: ExportItem, annotation_id: int, schema: SchemaDefinition
) -> dict[str, Any] | None:
    """The person annotation of an item; None for an image without keypoints."""
    if item.keypoints is None:
        return None
    # The box and area come from the keypoints as written (stored ones are rounded already; older
    # rows are rounded here), so a re-import of this record derives the very same box and area.
    keypoint_set = rounded_set(item.keypoints)
    labelled = [k for k in keypoint_set.keypoints if k.is_labelled]
    box = person_box(labelled, item.width, item.height)
    return {
        "id": annotation_id,  # COCOeval treats id 0 as "unmatched": ids start at 1
        "image_id": item.image_id,
        "category_id": CATEGORY_ID,
        "keypoints": flat_keypoints(keypoint_set, schema),
        "num_keypoints": len(labelled),
        "bbox": [round(v, ROUND) for v in box] if box else [0, 0, 0, 0],
        "area": round(object_area(labelled), ROUND),
        "iscrowd": 0,
    }


def document(
    schema: SchemaDefinition, items: Iterable[ExportItem], info: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A whole COCO keypoints document in memory (exports stream the same records instead)."""
    listed = list(items)
    annotations: list[dict[str, Any]] = []
    for item in listed:
        record = annotation_record(item, len(annotations) + 1, schema)
        if record is not None:
            annotations.append(record)
    return {
        "info": dict(info or {}),
        "images": [image_record(item) for item in listed],
        "annotations": annotations,
        "categories": [category(schema)],
    }


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class ImportedImage:
    """One image of a COCO document, with its keypoints in schema ids (None: no annotation)."""

    coco_id: int | str
    file_name: str
    width: int
    height: int
    keypoints: KeypointSet | None
    infant_metadata: dict[str, Any] | None = None
    source_institution: str | None = None
    location: str = field(default="", compare=False)  # where the record is, for error messages


def parse_document(data: Any, schema: SchemaDefinition, where: str = "") -> list[ImportedImage]:
    """Every image of the document with its keypoints, or ValidationFailed naming the first broken record."""
    prefix = f"{where}: " if where else ""
    if not isinstance(data, dict):
        _fail(f"{prefix}(root)", "a COCO document is a JSON object")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            _fail(f"{prefix}{key}", "is missing or not a list")
    position_of_name = {k.name: i for i, k in enumerate(schema.keypoints)}
    categories = _categories(data["categories"], position_of_name, prefix)
    images = _images(data["images"], prefix)
    by_image: dict[int | str, KeypointSet] = {}
    for j, annotation in enumerate(data["annotations"]):
        location = f"{prefix}annotations[{j}]"
        image_id, keypoint_set = _annotation(annotation, location, images, categories, schema)
        if image_id in by_image:
            _fail(
                location,
                f"image {image_id!r} has a second person annotation; Cradle keeps one infant per image",
            )
        by_image[image_id] = keypoint_set
    return [
        ImportedImage(
            coco_id=image_id,
            file_name=record["file_name"],
            width=record["width"],
            height=record["height"],
            keypoints=by_image.get(image_id),
            infant_metadata=record.get("infant_metadata") or None,
            source_institution=record.get("source_institution") or None,
            location=record["_location"],
        )
        for image_id, record in images.items()
    ]


def _fail(location: str, message: str) -> NoReturn:
    raise ValidationFailed.single(location, message)


def _categories(categories: list[Any], position_of_name: dict[str, int], prefix: str) -> dict[Any, list[int]]:
    """Keypoint categories by id: for each, the schema position of the file's i-th keypoint."""
    result: dict[Any, list[int]] = {}
    for i, cat in enumerate(categories):
        location = f"{prefix}categories[{i}]"
        if not isinstance(cat, dict) or "id" not in cat:
            _fail(location, "a category is an object with an id")
        names = cat.get("keypoints")
        if names is None:
            continue  # not a keypoint category; an annotation that uses it is refused below
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            _fail(f"{location}.keypoints", "is not a list of keypoint names")
        unknown = [n for n in names if n not in position_of_name]
        if unknown:
            _fail(f"{location}.keypoints", f"{unknown[0]!r} is not a keypoint of the schema")
        if len(set(names)) != len(names):
            _fail(f"{location}.keypoints", "lists a keypoint twice")
        missing = [n for n in position_of_name if n not in names]
        if missing:
            _fail(f"{location}.keypoints", f"lacks the schema's keypoint {missing[0]!r}")
        result[cat["id"]] = [position_of_name[n] for n in names]
    if not result:
        _fail(f"{prefix}categories", "no category lists keypoints: this is not a COCO keypoints file")
    return result


def _images(images: list[Any], prefix: str) -> dict[int | str, dict[str, Any]]:
    result: dict[int | str, dict[str, Any]] = {}
    names: set[str] = set()
    for i, image in enumerate(images):
        location = f"{prefix}images[{i}]"
        if not isinstance(image, dict):
            _fail(location, "an image record is an object")
        image_id = image.get("id")
        if not isinstance(image_id, int | str) or isinstance(image_id, bool):
            _fail(f"{location}.id", "is missing or not a number or string")
        if image_id in result:
            _fail(f"{location}.id", f"image id {image_id!r} is used twice")
        name = image.get("file_name")
        if not isinstance(name, str) or not safe_member_name(name):
            _fail(f"{location}.file_name", "is missing, absolute, or leaves the archive ('..')")
        if name in names:
            _fail(f"{location}.file_name", f"{name!r} is used by two images")
        for side in ("width", "height"):
            value = image.get(side)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                _fail(f"{location}.{side}", "is missing or not a positive whole number")
        metadata = image.get("infant_metadata")
        if metadata is not None and not isinstance(metadata, dict):
            _fail(f"{location}.infant_metadata", "is not an object")
        institution = image.get("source_institution")
        if institution is not None and (not isinstance(institution, str) or len(institution) > 100):
            _fail(f"{location}.source_institution", "is not a name of at most 100 characters")
        names.add(name)
        result[image_id] = {**image, "_location": location}
    return result


def _annotation(
    annotation: Any,
    location: str,
    images: dict[int | str, dict[str, Any]],
    categories: dict[Any, list[int]],
    schema: SchemaDefinition,
) -> tuple[int | str, KeypointSet]:
    if not isinstance(annotation, dict):
        _fail(location, "an annotation is an object")
    image_id = annotation.get("image_id")
    if image_id not in images:
        _fail(f"{location}.image_id", f"no image has id {image_id!r}")
    if annotation.get("iscrowd"):
        _fail(f"{location}.iscrowd", "a crowd region is not the keypoints of one infant")
    positions = categories.get(annotation.get("category_id"))
    if positions is None:
        _fail(f"{location}.category_id", f"{annotation.get('category_id')!r} is not a keypoint category")
    flat = annotation.get("keypoints")
    expected = 3 * len(positions)
    if not isinstance(flat, list) or len(flat) != expected:
        _fail(f"{location}.keypoints", f"is not a list of {expected} numbers ([x, y, v] per keypoint)")
    image = images[image_id]
    keypoints = []
    for i, position in enumerate(positions):
        x, y, v = flat[3 * i : 3 * i + 3]
        where = f"{location}.keypoints[{3 * i}]"
        if not all(_finite(n) for n in (x, y, v)):
            _fail(where, "x, y and v must be finite numbers")
        if v not in (0, 1, 2):
            _fail(f"{location}.keypoints[{3 * i + 2}]", f"visibility {v!r} is not 0, 1 or 2")
        visible = Visibility(int(v))
        if visible is not Visibility.ABSENT and not (0 <= x <= image["width"] and 0 <= y <= image["height"]):
            _fail(where, f"({x}, {y}) lies outside the {image['width']}×{image['height']} image")
        keypoints.append(
            Keypoint(id=schema.keypoints[position].id, x=float(x), y=float(y), visible=visible).model_dump()
        )
    try:
        keypoint_set = validate_keypoints({"keypoints": keypoints}, schema, image["width"], image["height"])
    except ValidationFailed as error:
        _fail(f"{location}.keypoints", error.problems[0].message)
    return image_id, keypoint_set


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def safe_member_name(name: str) -> bool:
    """A relative archive path that stays inside the archive."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name:
        return False
    normalized = posixpath.normpath(name)
    return not (normalized == ".." or normalized.startswith("../") or posixpath.isabs(normalized))
