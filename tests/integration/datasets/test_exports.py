"""Given a small verified dataset, when it is exported, then the COCO file is what pycocotools reads
and scores perfectly against itself, and the YOLO labels are the keypoints, flag for flag."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import numpy as np
import pytest
import yaml
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cradlepose.domain.keypoint_schema import infant_pose_17
from tests.datasets_support import VerifiedBatch, triplets
from tests.integration.datasets.conftest import Work, download_zip, export_ready, make_dataset
from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration

SCHEMA = infant_pose_17().schema_definition


def _coco(document: dict[str, Any]) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = document
        coco.createIndex()
    return coco


def test_dataset_splits_never_separate_an_infant(
    api: ApiClient, verifier: Persona, verified: VerifiedBatch
) -> None:
    dataset = make_dataset(api, verifier, verified.schema_id, seed=7)
    assert dataset["train_count"] + dataset["validation_count"] + dataset["test_count"] == 6
    members = api.get(f"/datasets/{dataset['id']}/images", verifier).json["items"]
    split_of_subject: dict[str, set[str]] = {}
    for member in members:
        split_of_subject.setdefault(verified.subjects[member["image_id"]], set()).add(member["split"])
    assert all(len(splits) == 1 for splits in split_of_subject.values())
    counted = {s: sum(m["split"] == s for m in members) for s in ("train", "validation", "test")}
    assert counted == {s: dataset[f"{s}_count"] for s in counted}
    again = make_dataset(api, verifier, verified.schema_id, name="same seed", seed=7)
    assert [again[f"{s}_count"] for s in counted] == [dataset[f"{s}_count"] for s in counted]


def test_a_dataset_of_one_infant_by_its_metadata(
    api: ApiClient, verifier: Persona, verified: VerifiedBatch
) -> None:
    # infant_metadata containment (the GIN-indexed filter): the two images of infant-1
    dataset = make_dataset(api, verifier, verified.schema_id, filters={"infant": {"subject_id": "infant-1"}})
    members = api.get(f"/datasets/{dataset['id']}/images", verifier).json["items"]
    assert {verified.subjects[m["image_id"]] for m in members} == {"infant-1"}
    assert len(members) == 2
    refused = api.post("/datasets", verifier, body={"name": "x", "keypoint_schema_id": verified.schema_id,
                                                    "filters": {"infant": {"subject_id": ["a"]}}})  # fmt: skip
    assert refused.status == 422


def test_coco_export_loads_in_pycocotools_and_scores_ap_1_against_itself(
    api: ApiClient, verifier: Persona, verified: VerifiedBatch, pack: Work
) -> None:
    dataset = make_dataset(api, verifier, verified.schema_id)
    archive = download_zip(export_ready(api, verifier, dataset["id"], "COCO_KEYPOINTS", pack))
    names = set(archive.namelist())
    documents = sorted(n for n in names if n.startswith("annotations/"))
    assert documents, names
    seen = 0
    for name in documents:
        document = json.loads(archive.read(name))
        split = name.removeprefix("annotations/person_keypoints_").removesuffix(".json")
        category = document["categories"][0]
        assert category["keypoints"] == [k.name for k in SCHEMA.keypoints]
        assert [5, 7] in category["skeleton"]  # 1-based: left_shoulder (4) - left_elbow (6)
        for image in document["images"]:
            assert f"images/{split}/{image['file_name']}" in names
        for annotation in document["annotations"]:
            stored = verified.keypoints[annotation["image_id"]]["keypoints"]
            expected = [(k["x"], k["y"], k["visible"]) if k["visible"] else (0, 0, 0) for k in stored]
            assert triplets(annotation["keypoints"]) == expected
            assert annotation["num_keypoints"] == sum(1 for k in stored if k["visible"])
            assert annotation["area"] > 0
            assert annotation["bbox"][2] > 0
            seen += 1

        ground_truth = _coco(document)
        detections = [{**a, "score": 1.0} for a in document["annotations"]]
        with contextlib.redirect_stdout(io.StringIO()):
            evaluator = COCOeval(ground_truth, ground_truth.loadRes(detections), "keypoints")
            evaluator.params.kpt_oks_sigmas = np.array(SCHEMA.sigmas())
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        assert evaluator.stats[0] == pytest.approx(1.0)  # AP over OKS .50:.95
        assert evaluator.stats[5] == pytest.approx(1.0)  # AR
    assert seen == len(verified.image_ids)
    manifest = json.loads(archive.read("cradle.json"))
    assert manifest["format"] == "COCO_KEYPOINTS"
    assert sum(manifest["images"].values()) == 6


def test_yolo_pose_export_labels_are_the_keypoints(
    api: ApiClient, verifier: Persona, verified: VerifiedBatch, pack: Work
) -> None:
    dataset = make_dataset(api, verifier, verified.schema_id)
    archive = download_zip(export_ready(api, verifier, dataset["id"], "YOLO_POSE", pack))
    config = yaml.safe_load(archive.read("data.yaml"))
    assert config["kpt_shape"] == [17, 3]
    assert config["flip_idx"] == SCHEMA.flip_index()
    assert config["flip_idx"][1:3] == [2, 1]  # left_eye <-> right_eye
    assert config["names"] == {0: "infant"}
    assert "path" not in config
    width, height = verified.size
    labels = [n for n in archive.namelist() if n.startswith("labels/")]
    assert len(labels) == len(verified.image_ids)
    for name in labels:
        split, file_name = name.split("/")[1:]
        image_id = int(file_name.removesuffix(".txt"))
        assert f"images/{split}/{image_id}.jpg" in archive.namelist()
        (line,) = archive.read(name).decode().splitlines()
        columns = line.split()
        assert len(columns) == 56  # class, box, then x y v for 17 keypoints
        assert columns[0] == "0"
        cx, cy, w, h = map(float, columns[1:5])
        assert 0 < w <= 1
        assert 0 < h <= 1
        assert 0 <= cx <= 1
        assert 0 <= cy <= 1
        stored = verified.keypoints[image_id]["keypoints"]
        for k, (x, y, v) in zip(stored, triplets([float(c) for c in columns[5:]]), strict=True):
            assert v == k["visible"]
            if v:
                assert x * width == pytest.approx(k["x"], abs=1e-3)
                assert y * height == pytest.approx(k["y"], abs=1e-3)
            else:
                assert (x, y) == (0, 0)
