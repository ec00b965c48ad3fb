"""Model keypoints become schema keypoints: remapped, dropped, and given a visibility."""

from __future__ import annotations

import numpy as np
import pytest

from cradle_inference.engine import PoseEngine
from cradle_inference.geometry import letterbox_geometry
from cradle_inference.results import image_result
from cradlepose.domain.enums import Visibility
from cradlepose.domain.inference import ModelSpec, visibility_of

# COCO's 17 keypoints onto a schema that numbers them from 100 in reverse and has no ears (3, 4).
REMAP: list[int | None] = [116 - i for i in range(17)]
REMAP[3] = None
REMAP[4] = None


def _rows(confidences: list[float]) -> np.ndarray:
    """One detection: box, score 0.8, class 0, keypoint i at (10 + i, 20 + i)."""
    keypoints = [[10.0 + i, 20.0 + i, c] for i, c in enumerate(confidences)]
    return np.asarray([[1.0, 2.0, 300.0, 400.0, 0.8, 0.0, *np.ravel(keypoints)]], dtype=np.float32)


@pytest.mark.unit
def test_keypoint_map_renumbers_and_drops() -> None:
    spec = ModelSpec(keypoint_map=REMAP)
    geometry = letterbox_geometry(480, 640, 640, 32)

    result = image_result(1, "k", geometry, _rows([0.9] * 17), seconds=0.01, spec=spec)

    (person,) = result.persons
    assert [kp.id for kp in person.keypoints] == [116 - i for i in range(17) if i not in (3, 4)]
    assert [(kp.x, kp.y) for kp in person.keypoints] == [
        (10.0 + i, 20.0 + i) for i in range(17) if i not in (3, 4)
    ]


@pytest.mark.unit
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_visibility_follows_the_spec_threshold(threshold: float) -> None:
    confidences = [0.0, 0.1, 0.149, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.79, 0.8, 0.9, 1.0]
    spec = ModelSpec(visibility_threshold=threshold)

    result = image_result(
        1, "k", letterbox_geometry(480, 640, 640, 32), _rows(confidences), seconds=0, spec=spec
    )

    visible = [kp.visible for kp in result.persons[0].keypoints]
    assert visible == [visibility_of(c, threshold) for c in confidences]
    assert Visibility.OCCLUDED in visible
    assert Visibility.ABSENT in visible


@pytest.mark.unit
def test_non_finite_output_fails_the_image_not_the_batch() -> None:
    rows = _rows([0.9] * 17)
    rows[0, 7] = np.nan

    result = image_result(1, "k", letterbox_geometry(480, 640, 640, 32), rows, seconds=0, spec=ModelSpec())

    assert not result.ok
    assert "non-finite" in (result.error or "")


@pytest.mark.integration
def test_engine_applies_keypoint_map_and_visibility(
    pose_engine: PoseEngine, sample_bytes: dict[str, bytes]
) -> None:
    # Given the default engine's answer, and an engine on the same weights with a remapping
    # schema and a stricter visibility threshold
    item = [(1, "zidane.jpg", sample_bytes["zidane.jpg"])]
    (default,) = pose_engine.predict(item)
    remapped_engine = PoseEngine(ModelSpec(keypoint_map=REMAP, visibility_threshold=0.8), device="cpu")

    (remapped,) = remapped_engine.predict(item)

    # Then each model keypoint i appears as schema keypoint REMAP[i], ears dropped
    assert len(remapped.persons) == len(default.persons) > 0
    for plain, mapped in zip(default.persons, remapped.persons, strict=True):
        assert plain.box == mapped.box
        by_id = {kp.id: kp for kp in mapped.keypoints}
        assert len(by_id) == 15
        for index, kp in enumerate(plain.keypoints):
            schema_id = REMAP[index]
            if schema_id is None:
                continue
            twin = by_id[schema_id]
            assert (twin.x, twin.y, twin.confidence) == (kp.x, kp.y, kp.confidence)
            assert twin.visible == visibility_of(kp.confidence, 0.8)


@pytest.mark.integration
def test_a_keypoint_map_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="keypoint_map has 5 entries"):
        PoseEngine(ModelSpec(keypoint_map=[0, 1, 2, 3, 4]), device="cpu")
