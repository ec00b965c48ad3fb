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
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from cradlepose.domain.enums import DatasetSplit, Visibility
from cradlepose.domain.errors import ValidationFailed
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.keypoints import KeypointSet
from cradlepose.domain.person_box import person_box
from cradlepose.domain.splits import SPLIT_ORDER

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
