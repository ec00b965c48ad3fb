"""YOLO pose datasets as Ultralytics trains on them: label lines and the dataset YAML.

A label file has one line per person: the class, the box (centre x, centre y, width, height) and
then x, y, v for every keypoint in the schema's order, all coordinates normalized to the image
(0..1) — 5 + 3K columns, 56 for 17 keypoints. v keeps COCO's meaning (0 absent, 1 occluded,
2 visible): Ultralytics trains on every keypoint with v > 0, and Cradle reads the flag back as it
was. An absent keypoint is written 0 0 0.

The YAML names the split folders (`images/<split>`; Ultralytics finds each label file by turning
`/images/` into `/labels/`), `kpt_shape: [K, 3]`, `flip_idx` from the schema's left_/right_ names
(what horizontal-flip augmentation swaps), the one class and the keypoint names. It has no `path`
key, so Ultralytics takes the YAML's own folder as the dataset root, wherever it is unpacked.

Reading (dataset imports): `read_dataset_yaml` takes the split folders and `kpt_shape` (which must
be the schema's [K, 3]) and, when given, `kpt_names` (any order of the schema's names);
`keypoints_from_label` turns a label file back into the infant's keypoints in pixels.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cradlepose.domain.enums import DatasetSplit, Visibility
from cradlepose.domain.errors import ValidationFailed
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.keypoints import KeypointSet, validate_keypoints
from cradlepose.domain.person_box import person_box
from cradlepose.domain.splits import SPLIT_ORDER, split_named

CLASS_INDEX = 0
CLASS_NAME = "infant"
DECIMALS = 6


def columns(schema: SchemaDefinition) -> int:
    return 5 + 3 * schema.total_keypoints


def label_line(keypoint_set: KeypointSet, schema: SchemaDefinition, width: int, height: int) -> str | None:
    """The label line of one image's infant; None when no keypoint is labelled (an empty label file)."""
    labelled = [k for k in keypoint_set.keypoints if k.is_labelled]
    box = person_box(labelled, width, height)
    if box is None:
        return None
    x, y, w, h = box
    values: list[float | int] = [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]
    by_id = keypoint_set.by_id()
    for definition in schema.keypoints:
        keypoint = by_id.get(definition.id)
        if keypoint is None or not keypoint.is_labelled:
            values += [0.0, 0.0, 0]
        else:
            values += [keypoint.x / width, keypoint.y / height, int(keypoint.visible)]
    return " ".join([str(CLASS_INDEX), *(_number(v) for v in values)])


def _number(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    text = f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


@dataclass(frozen=True)
class LabelKeypoint:
    x: float  # pixels
    y: float
    visible: Visibility


@dataclass(frozen=True)
class Label:
    class_index: int
    box: tuple[float, float, float, float]  # centre x, centre y, width, height in pixels
    keypoints: list[LabelKeypoint]


def parse_label_line(line: str, schema: SchemaDefinition, width: int, height: int) -> Label:
    """A label line back in pixels (what Ultralytics reads), or ValidationFailed saying what is wrong."""
    parts = line.split()
    if len(parts) != columns(schema):
        raise ValidationFailed.single(
            "label",
            f"has {len(parts)} columns; {columns(schema)} expected (5 + 3 × {schema.total_keypoints})",
        )
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ValidationFailed.single("label", "holds something that is not a number") from None
    cx, cy, w, h = numbers[1:5]
    keypoints = []
    for i in range(schema.total_keypoints):
        x, y, v = numbers[5 + 3 * i : 8 + 3 * i]
        if v not in (0, 1, 2):
            raise ValidationFailed.single(f"label[{7 + 3 * i}]", f"visibility {v:g} is not 0, 1 or 2")
        keypoints.append(LabelKeypoint(x * width, y * height, Visibility(int(v))))
    return Label(int(numbers[0]), (cx * width, cy * height, w * width, h * height), keypoints)


def dataset_yaml(schema: SchemaDefinition, splits: Iterable[DatasetSplit], title: str) -> str:
    """The dataset YAML for the splits that hold images.

    Ultralytics needs `train` and `val`: without a validation split the test split validates, and
    without either the training images do (said in a comment, so nobody mistakes it for a score
    on unseen infants).
    """
    present = [s for s in SPLIT_ORDER if s in set(splits)]
    if not present:
        raise ValueError("a YOLO dataset needs images in at least one split")
    train = DatasetSplit.TRAIN if DatasetSplit.TRAIN in present else present[0]
    val = next((s for s in (DatasetSplit.VALIDATION, DatasetSplit.TEST) if s in present), train)
    lines = [
        f"# {title}",
        "# Written by Cradle. Keypoints are x y v per keypoint, v: 0 absent, 1 occluded, 2 visible.",
        f"train: images/{train.value}",
    ]
    if val is train:
        lines.append("# no validation or test images: the training images validate")
    lines.append(f"val: images/{val.value}")
    if DatasetSplit.TEST in present:
        lines.append(f"test: images/{DatasetSplit.TEST.value}")
    lines += [
        f"kpt_shape: [{schema.total_keypoints}, 3]",
        f"flip_idx: {json.dumps(schema.flip_index())}",
        "names:",
        f"  {CLASS_INDEX}: {json.dumps(CLASS_NAME)}",
        "kpt_names:",
        f"  {CLASS_INDEX}: {json.dumps([k.name for k in schema.keypoints])}",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- reading a YOLO pose dataset

_YOLO_SPLIT_KEYS = {"train": DatasetSplit.TRAIN, "val": DatasetSplit.VALIDATION, "test": DatasetSplit.TEST}


@dataclass(frozen=True)
class YoloDataset:
    """What an imported dataset YAML says: its split folders and its keypoints' schema positions."""

    folders: dict[str, DatasetSplit]  # image folder (relative to the YAML, no trailing /) → split
    positions: list[int]  # the label's i-th keypoint is the schema's positions[i]-th


def read_dataset_yaml(text: str, schema: SchemaDefinition, where: str) -> YoloDataset:
    """The YAML of a YOLO pose dataset, checked against the schema (ValidationFailed naming the key).

    Reads the subset of YAML dataset files use (`key: value`, flow lists `[17, 3]`, and one level
    of nested `0: …` or `- …` entries): the Lambda has no YAML library, and needs no more.
    """
    data = _simple_yaml(text, where)
    shape = data.get("kpt_shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(n, int) for n in shape)):
        raise ValidationFailed.single(f"{where}.kpt_shape", "is missing: this is not a YOLO pose dataset")
    if shape != [schema.total_keypoints, 3]:
        raise ValidationFailed.single(
            f"{where}.kpt_shape",
            f"is {shape}; the schema needs [{schema.total_keypoints}, 3] (x, y and visibility per keypoint)",
        )
    names = data.get("kpt_names")
    if isinstance(names, dict) and names:
        names = next(iter(names.values()))
    positions = list(range(schema.total_keypoints))
    if names is not None:
        position_of = {k.name: i for i, k in enumerate(schema.keypoints)}
        if not isinstance(names, list) or sorted(map(str, names)) != sorted(position_of):
            raise ValidationFailed.single(
                f"{where}.kpt_names", "does not list exactly the schema's keypoints"
            )
        positions = [position_of[str(n)] for n in names]
    folders: dict[str, DatasetSplit] = {}
    for key, split in _YOLO_SPLIT_KEYS.items():
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or value.endswith(".txt"):
            raise ValidationFailed.single(
                f"{where}.{key}", "must name one image folder (lists of files are not read)"
            )
        folder = posixpath.normpath(value.removeprefix("./")).rstrip("/")
        # One folder may serve two keys (Cradle's YAML lets the test images validate when there is
        # no validation split): the key the folder is named after wins, else the first.
        if folder not in folders or split_named(posixpath.basename(folder)) is split:
            folders[folder] = split
    if not folders:
        raise ValidationFailed.single(where, "names no train, val or test image folder")
    return YoloDataset(folders, positions)


def keypoints_from_label(
    text: str, schema: SchemaDefinition, positions: list[int], width: int, height: int, where: str
) -> KeypointSet | None:
    """The one infant of a label file in pixels (None: an empty file); more than one is refused."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    if len(lines) > 1:
        raise ValidationFailed.single(where, f"has {len(lines)} people; Cradle keeps one infant per image")
    try:
        label = parse_label_line(lines[0], schema, width, height)
    except ValidationFailed as error:
        raise ValidationFailed.single(where, error.problems[0].message) from None
    keypoints = []
    for position, point in zip(positions, label.keypoints, strict=True):
        absent = point.visible is Visibility.ABSENT
        keypoints.append(
            {
                "id": schema.keypoints[position].id,
                "x": 0.0 if absent else point.x,
                "y": 0.0 if absent else point.y,
                "visible": int(point.visible),
            }
        )
    try:
        return validate_keypoints({"keypoints": keypoints}, schema, width, height)
    except ValidationFailed as error:
        raise ValidationFailed.single(where, error.problems[0].message) from None


def _simple_yaml(text: str, where: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        if line[0] in " \t-":
            entry = line.strip()
            if current is None:
                raise ValidationFailed.single(f"{where}:{number}", "an indented entry belongs to no key")
            if entry.startswith("- "):
                listed = result[current] if isinstance(result[current], list) else []
                result[current] = [*listed, _scalar(entry[2:])]
            else:
                key, _, value = entry.partition(":")
                nested = result[current] if isinstance(result[current], dict) else {}
                result[current] = {**nested, key.strip(): _scalar(value)}
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise ValidationFailed.single(f"{where}:{number}", "is not `key: value`")
        current = key.strip()
        result[current] = _scalar(value) if value.strip() else None
    return result


def _scalar(text: str) -> Any:
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    if text.startswith("[") and text.endswith("]"):
        return [_scalar(part) for part in text[1:-1].split(",") if part.strip()]
    return text.strip("'\"")
