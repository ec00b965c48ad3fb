"""Given a dataset of verified images, its statistics count its images per split, each joint's
visibility flags in the keypoints it exports, and the infants' ages in bands."""

from __future__ import annotations

from collections import Counter

import pytest

from cradlepose.domain.keypoint_schema import infant_pose_17
from tests.datasets_support import VerifiedBatch
from tests.integration.datasets.conftest import make_dataset
from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration


def test_statistics_match_the_datasets_images(
    api: ApiClient, verifier: Persona, verified: VerifiedBatch
) -> None:
    dataset = make_dataset(api, verifier, verified.schema_id, seed=3)
    response = api.get(f"/datasets/{dataset['id']}/statistics", verifier)
    assert response.status == 200, response.body
    stats = response.json

    assert stats["images"] == dataset["num_images"] == len(verified.image_ids)
    assert {s["split"]: s["images"] for s in stats["splits"]} == {
        s: dataset[f"{s}_count"] for s in ("train", "validation", "test")
    }

    names = [k.name for k in infant_pose_17().schema_definition.keypoints]
    assert [j["name"] for j in stats["keypoint_visibility"]] == names
    expected: Counter[tuple[int, int]] = Counter(
        (k["id"], k["visible"]) for payload in verified.keypoints.values() for k in payload["keypoints"]
    )
    for joint_id, joint in enumerate(stats["keypoint_visibility"]):
        assert joint["visible"] == expected[(joint_id, 2)], joint
        assert joint["occluded"] == expected[(joint_id, 1)], joint
        assert joint["absent"] == expected[(joint_id, 0)], joint
        assert joint["images"] == len(verified.image_ids)

    # add_verified_batch gives image n the age 2 + n % 4 months
    ages = Counter(2 + n % 4 for n in range(len(verified.image_ids)))
    assert {b["band"]: b["images"] for b in stats["age_months"]} == _bands(ages)
    assert stats["age_unknown"] == 0


def test_statistics_of_a_missing_dataset_are_404(api: ApiClient, verifier: Persona) -> None:
    assert api.get("/datasets/999999/statistics", verifier).status == 404


def _bands(ages: Counter[int]) -> dict[str, int]:
    bands: Counter[str] = Counter()
    for age, n in ages.items():
        bands["4–6" if age in (4, 5) else f"{age}–{age + 1}"] += n
    return dict(bands)
