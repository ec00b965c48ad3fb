"""COCO keypoints documents and YOLO pose labels: written as the field expects, read back unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cradlepose.domain import coco_keypoints, yolo_pose
from cradlepose.domain.enums import DatasetSplit, Visibility
from cradlepose.domain.errors import ValidationFailed
from cradlepose.domain.keypoint_schema import COCO17_NAMES, infant_pose_17
from cradlepose.domain.keypoints import Keypoint, KeypointSet, validate_keypoints
from cradlepose.domain.splits import split_named

pytestmark = pytest.mark.unit

SCHEMA = infant_pose_17().schema_definition
W, H = 640, 480


def keypoint_sets() -> st.SearchStrategy[KeypointSet]:
    point = st.tuples(
        st.floats(0, W, allow_nan=False).map(lambda v: round(v, 2)),
        st.floats(0, H, allow_nan=False).map(lambda v: round(v, 2)),
        st.sampled_from([0, 1, 2]),
    )
    return st.lists(point, min_size=17, max_size=17).map(
        lambda points: KeypointSet(
            keypoints=[
                Keypoint(id=i, name=COCO17_NAMES[i], x=x if v else 0, y=y if v else 0, visible=v)
                for i, (x, y, v) in enumerate(points)
            ]
        )
    )


def item(image_id: int, keypoints: KeypointSet | None) -> coco_keypoints.ExportItem:
    return coco_keypoints.ExportItem(
        image_id, f"{image_id}.jpg", W, H, keypoints, {"subject_id": "s1"}, "Site"
    )


def test_the_category_names_the_schema_keypoints_and_a_one_based_skeleton() -> None:
    category = coco_keypoints.category(SCHEMA)
    assert category["keypoints"] == list(COCO17_NAMES)
    assert [16, 14] in category["skeleton"]  # left_ankle-left_knee, COCO's own first edge
    assert min(min(edge) for edge in category["skeleton"]) == 1


@given(keypoint_sets())
@settings(max_examples=50, deadline=None)
def test_a_document_reads_back_with_the_same_keypoints_and_visibility(keypoints: KeypointSet) -> None:
    document = coco_keypoints.document(SCHEMA, [item(7, keypoints), item(8, None)])
    annotations = document["annotations"]
    if any(k.is_labelled for k in keypoints.keypoints):
        assert annotations[0]["id"] == 1
        assert annotations[0]["num_keypoints"] == sum(k.is_labelled for k in keypoints.keypoints)
        assert len(annotations[0]["keypoints"]) == 51
    images = {i.coco_id: i for i in coco_keypoints.parse_document(document, SCHEMA)}
    assert images[8].keypoints is None
    back = images[7].keypoints
    assert back is not None
    for before, after in zip(keypoints.keypoints, back.keypoints, strict=True):
        assert after.visible == before.visible
        if before.is_labelled:
            assert (after.x, after.y) == (before.x, before.y)
        else:
            assert (after.x, after.y) == (0, 0)
    assert images[7].infant_metadata == {"subject_id": "s1"}
    assert images[7].source_institution == "Site"


def test_keypoints_listed_in_another_order_are_matched_by_name() -> None:
    names = list(reversed(COCO17_NAMES))
    flat: list[Any] = []
    for name in names:
        flat += [10, 20, 1] if name == "nose" else [0, 0, 0]
    document = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": W, "height": H}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "keypoints": flat}],
        "categories": [{"id": 3, "name": "person", "keypoints": names}],
    }
    [image] = coco_keypoints.parse_document(document, SCHEMA)
    assert image.keypoints is not None
    nose = image.keypoints.by_id()[0]
    assert (nose.x, nose.y, nose.visible) == (10, 20, Visibility.OCCLUDED)


def _valid() -> dict[str, Any]:
    keypoints = KeypointSet(keypoints=[Keypoint(id=i, x=100 + i, y=100, visible=2) for i in range(17)])
    return coco_keypoints.document(SCHEMA, [item(1, keypoints), item(2, keypoints)])


@pytest.mark.parametrize(
    ("break_it", "location", "words"),
    [
        (lambda d: d.pop("annotations"), "annotations", "missing"),
        (
            lambda d: d["annotations"][1]["keypoints"].__setitem__(5, 3),
            "annotations[1].keypoints[5]",
            "visibility 3",
        ),
        (
            lambda d: d["annotations"][1]["keypoints"].__setitem__(3, 9999),
            "annotations[1].keypoints[3]",
            "outside",
        ),
        (lambda d: d["annotations"][0].__setitem__("image_id", 42), "annotations[0].image_id", "no image"),
        (lambda d: d["annotations"][1].__setitem__("image_id", 1), "annotations[1]", "second person"),
        (lambda d: d["annotations"][0]["keypoints"].pop(), "annotations[0].keypoints", "51 numbers"),
        (lambda d: d["images"][1].__setitem__("file_name", "../etc/passwd"), "images[1].file_name", "leaves"),
        (lambda d: d["images"][0].__setitem__("width", 0), "images[0].width", "positive"),
        (
            lambda d: d["categories"][0]["keypoints"].__setitem__(0, "snout"),
            "categories[0].keypoints",
            "snout",
        ),
        (lambda d: d["annotations"][0].__setitem__("iscrowd", 1), "annotations[0].iscrowd", "crowd"),
    ],
)
def test_a_broken_record_is_named(break_it: Any, location: str, words: str) -> None:
    document = _valid()
    break_it(document)
    with pytest.raises(ValidationFailed) as raised:
        coco_keypoints.parse_document(document, SCHEMA, where="train.json")
    assert raised.value.problems[0].location == f"train.json: {location}"
    assert words in raised.value.problems[0].message


def test_only_the_first_broken_record_is_reported() -> None:
    document = _valid()
    document["annotations"][0]["keypoints"][2] = 7
    document["annotations"][1]["keypoints"][2] = 7
    with pytest.raises(ValidationFailed) as raised:
        coco_keypoints.parse_document(document, SCHEMA)
    assert [p.location for p in raised.value.problems] == ["annotations[0].keypoints[2]"]


# ---------------------------------------------------------------- YOLO pose


@given(keypoint_sets())
@settings(max_examples=50, deadline=None)
def test_a_label_line_has_56_columns_and_reads_back_to_the_same_pixels_and_flags(
    keypoints: KeypointSet,
) -> None:
    line = yolo_pose.label_line(keypoints, SCHEMA, W, H)
    if not any(k.is_labelled for k in keypoints.keypoints):
        assert line is None
        return
    assert line is not None
    assert len(line.split()) == 56
    columns = [float(v) for v in line.split()]
    flags = columns[7::3]
    assert all(0 <= v <= 1 for i, v in enumerate(columns[1:], start=1) if i < 5 or (i - 5) % 3 != 2)
    assert flags == [int(k.visible) for k in keypoints.keypoints]
    label = yolo_pose.parse_label_line(line, SCHEMA, W, H)
    for before, after in zip(keypoints.keypoints, label.keypoints, strict=True):
        assert after.visible == before.visible
        if before.is_labelled:
            assert after.x == pytest.approx(before.x, abs=1e-3)
            assert after.y == pytest.approx(before.y, abs=1e-3)
        cx, cy, bw, bh = label.box
        if before.is_labelled:  # the box holds every labelled keypoint
            assert cx - bw / 2 - 1e-3 <= before.x <= cx + bw / 2 + 1e-3
            assert cy - bh / 2 - 1e-3 <= before.y <= cy + bh / 2 + 1e-3


def test_the_dataset_yaml_is_what_ultralytics_reads() -> None:
    text = yolo_pose.dataset_yaml(SCHEMA, [DatasetSplit.TRAIN, DatasetSplit.VALIDATION], "infants")
    data = yaml.safe_load(text)
    assert data["train"] == "images/train"
    assert data["val"] == "images/validation"
    assert "test" not in data
    assert "path" not in data  # the YAML's own folder is the root, wherever it is unpacked
    assert data["kpt_shape"] == [17, 3]
    assert data["flip_idx"] == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    assert data["names"] == {0: "infant"}
    assert data["kpt_names"][0] == list(COCO17_NAMES)


def test_without_validation_images_the_test_split_validates() -> None:
    data = yaml.safe_load(yolo_pose.dataset_yaml(SCHEMA, [DatasetSplit.TRAIN, DatasetSplit.TEST], "t"))
    assert data["val"] == "images/test"
    assert data["test"] == "images/test"


def test_a_label_with_a_bad_flag_or_width_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="columns"):
        yolo_pose.parse_label_line("0 0.5 0.5 0.1 0.1", SCHEMA, W, H)
    line = "0 0.5 0.5 0.1 0.1 " + " ".join(["0.5 0.5 2"] * 16 + ["0.5 0.5 5"])
    with pytest.raises(ValidationFailed, match="visibility 5"):
        yolo_pose.parse_label_line(line, SCHEMA, W, H)


def raw_keypoint_sets() -> st.SearchStrategy[KeypointSet]:
    """Keypoints as a model predicts or an older row holds them: any float, not yet rounded."""
    point = st.tuples(
        st.floats(0, W, allow_nan=False), st.floats(0, H, allow_nan=False), st.sampled_from([0, 1, 2])
    )
    return st.lists(point, min_size=17, max_size=17).map(
        lambda points: KeypointSet(
            keypoints=[
                Keypoint(id=i, name=COCO17_NAMES[i], x=x if v else 0, y=y if v else 0, visible=v)
                for i, (x, y, v) in enumerate(points)
            ]
        )
    )


def _export_import(keypoints: KeypointSet) -> tuple[dict[str, Any], KeypointSet]:
    document = coco_keypoints.document(SCHEMA, [item(1, keypoints)])
    (imported,) = coco_keypoints.parse_document(document, SCHEMA)
    assert imported.keypoints is not None
    return document["annotations"][0], imported.keypoints


@settings(max_examples=200, deadline=None)
@given(raw_keypoint_sets())
def test_a_first_export_is_already_the_fixed_point_of_import_and_export(keypoints: KeypointSet) -> None:
    """import → export → import → export: the first export's keypoints, bbox and area come back."""
    first, stored = _export_import(keypoints)
    second, stored_again = _export_import(stored)
    third, _ = _export_import(stored_again)
    assert second == first
    assert third == first
    assert stored_again == stored


def test_keypoints_are_rounded_once_where_they_are_stored() -> None:
    payload = {"keypoints": [{"id": 0, "x": 10.123456, "y": 20.005001, "visible": 2}]}
    stored = validate_keypoints(payload, SCHEMA, W, H)
    assert (stored.keypoints[0].x, stored.keypoints[0].y) == (10.12, 20.01)
    assert validate_keypoints(stored.model_dump(), SCHEMA, W, H) == stored


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("person_keypoints_train2017.json", DatasetSplit.TRAIN),
        ("person_keypoints_val2017.json", DatasetSplit.VALIDATION),
        ("person_keypoints_validation.json", DatasetSplit.VALIDATION),
        ("images/test", DatasetSplit.TEST),
        ("infants.json", None),
        ("train_and_test.json", None),  # two splits named: none
        ("trainee.json", None),
    ],
)
def test_the_split_an_archive_name_gives(name: str, split: DatasetSplit | None) -> None:
    assert split_named(name) is split


def test_a_cradle_yolo_yaml_is_read_back_with_its_folders_and_keypoint_order() -> None:
    text = yolo_pose.dataset_yaml(SCHEMA, [DatasetSplit.TRAIN, DatasetSplit.TEST], "infants")
    dataset = yolo_pose.read_dataset_yaml(text, SCHEMA, "data.yaml")
    # val: images/test as well: the folder named after its split keeps it
    assert dataset.folders == {"images/train": DatasetSplit.TRAIN, "images/test": DatasetSplit.TEST}
    assert dataset.positions == list(range(17))
    reordered = "kpt_shape: [17, 3]\ntrain: ./images/tr\nkpt_names:\n  0: " + json.dumps(COCO17_NAMES[::-1])
    assert yolo_pose.read_dataset_yaml(reordered, SCHEMA, "d.yaml").positions == list(range(16, -1, -1))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("train: images/train\n", "d.yaml.kpt_shape"),
        ("kpt_shape: [17, 2]\ntrain: images/train\n", "d.yaml.kpt_shape"),
        ("kpt_shape: [17, 3]\ntrain: train.txt\n", "d.yaml.train"),
        ("kpt_shape: [17, 3]\n", "d.yaml"),
        ("kpt_shape: [17, 3]\ntrain: images\nkpt_names:\n  - nose\n", "d.yaml.kpt_names"),
    ],
)
def test_a_yolo_yaml_the_schema_cannot_take_is_refused_naming_the_key(text: str, where: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        yolo_pose.read_dataset_yaml(text, SCHEMA, "d.yaml")
    assert refused.value.problems[0].location == where


@settings(max_examples=100, deadline=None)
@given(keypoint_sets())
def test_a_label_line_is_read_back_as_the_keypoints_it_was_written_from(keypoints: KeypointSet) -> None:
    line = yolo_pose.label_line(keypoints, SCHEMA, W, H)
    back = yolo_pose.keypoints_from_label(line or "", SCHEMA, list(range(17)), W, H, "l.txt")
    labelled = [k for k in keypoints.keypoints if k.is_labelled]
    if not labelled:
        assert back is None
        return
    assert back is not None
    assert [(k.x, k.y, k.visible) for k in back.keypoints] == [
        (k.x, k.y, k.visible) if k.is_labelled else (0.0, 0.0, k.visible) for k in keypoints.keypoints
    ]


def test_a_label_with_two_people_is_refused() -> None:
    line = "0 0.5 0.5 0.1 0.1" + " 0.5 0.5 2" * 17
    with pytest.raises(ValidationFailed, match="one infant"):
        yolo_pose.keypoints_from_label(f"{line}\n{line}\n", SCHEMA, list(range(17)), W, H, "l.txt")
