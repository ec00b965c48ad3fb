"""The contract between pipeline and inference container: best-person rule and visibility mapping."""

from __future__ import annotations

import pytest

from cradlepose.domain.enums import Visibility
from cradlepose.domain.inference import (
    ChunkManifest,
    DetectedPerson,
    ImageResult,
    choose_best_person,
    visibility_of,
)

pytestmark = pytest.mark.unit


def _person(box: list[float], score: float) -> DetectedPerson:
    return DetectedPerson(box=box, score=score, keypoints=[])


def test_best_person_is_the_largest_box_weighted_by_score() -> None:
    persons = [
        _person([0, 0, 10, 10], 0.95),  # 100 px², small and certain: 95
        _person([0, 0, 100, 100], 0.50),  # 10 000 px², large and unsure: 5 000
        _person([0, 0, 80, 80], 0.90),  # 6 400 px²: 5 760
    ]
    assert choose_best_person(persons) == 2


def test_no_person_means_no_choice() -> None:
    assert choose_best_person([]) is None


def test_ties_go_to_the_first_detection() -> None:
    assert choose_best_person([_person([0, 0, 10, 10], 0.5), _person([5, 5, 15, 15], 0.5)]) == 0


@pytest.mark.parametrize(
    ("confidence", "expected"),
    [
        (0.9, Visibility.VISIBLE),
        (0.5, Visibility.VISIBLE),
        (0.3, Visibility.OCCLUDED),
        (0.25, Visibility.OCCLUDED),
        (0.1, Visibility.ABSENT),
    ],
)
def test_visibility_from_confidence(confidence: float, expected: Visibility) -> None:
    assert visibility_of(confidence, threshold=0.5) is expected


def test_manifest_and_result_round_trip_as_json() -> None:
    manifest = ChunkManifest.model_validate(
        {
            "batch_id": 3,
            "chunk_index": 0,
            "bucket": "b",
            "images": [{"image_id": 1, "key": "k.jpg"}],
            "output_key": "o.jsonl",
        }
    )
    assert manifest.model.weights.startswith("package:")
    result = ImageResult(
        image_id=1, key="k.jpg", ok=True, persons=[_person([0, 0, 2, 2], 0.8)], best_person=0
    )
    assert ImageResult.model_validate_json(result.model_dump_json()) == result
    assert result.chosen is not None
