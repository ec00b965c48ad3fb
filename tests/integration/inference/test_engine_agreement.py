"""The engine finds what plain Ultralytics finds, in original pixels, with the contract's fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cradle_inference.engine import PoseEngine
from cradlepose.domain.inference import ModelSpec, choose_best_person, visibility_of
from tests.integration.inference.pose_agreement import (
    from_image_result,
    from_ultralytics,
    greedy_match,
    keypoint_distances,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", ["bus.jpg", "zidane.jpg"])
def test_engine_agrees_with_plain_ultralytics(
    name: str,
    pose_engine: PoseEngine,
    ultralytics_model: Any,
    spec: ModelSpec,
    sample_paths: dict[str, Path],
    sample_bytes: dict[str, bytes],
) -> None:
    # Given plain Ultralytics' answer for one image, one call
    plain = ultralytics_model.predict(
        str(sample_paths[name]),
        verbose=False,
        conf=spec.conf_threshold,
        iou=spec.iou_threshold,
        max_det=spec.max_detections,
        imgsz=spec.input_size,
        device="cpu",
    )[0]
    reference = from_ultralytics(plain)

    # When the engine runs the same bytes
    (result,) = pose_engine.predict([(1, name, sample_bytes[name])])

    # Then it finds the same persons at the same places
    assert result.ok
    ours = from_image_result(result)
    assert len(ours.boxes) == len(reference.boxes) > 0
    matches = greedy_match(reference, ours, min_iou=0.5)
    assert len(matches) == len(reference.boxes)
    assert min(iou for _, _, iou in matches) >= 0.9
    distances = keypoint_distances(reference, ours, matches, min_confidence=spec.visibility_threshold / 2)
    assert distances.size > 0
    assert float(np.median(distances)) <= 1.0


def test_results_follow_the_contract(pose_engine: PoseEngine, sample_bytes: dict[str, bytes]) -> None:
    items = [(10, "a/bus.jpg", sample_bytes["bus.jpg"]), (11, "b/zidane.jpg", sample_bytes["zidane.jpg"])]

    results = list(pose_engine.predict(items))

    assert [(r.image_id, r.key) for r in results] == [(10, "a/bus.jpg"), (11, "b/zidane.jpg")]
    assert [(r.width, r.height) for r in results] == [(810, 1080), (1280, 720)]
    for result in results:
        assert result.ok
        assert result.error is None
        assert result.model_version == pose_engine.spec.version
        assert result.best_person == choose_best_person(result.persons)
        assert result.chosen is not None
        assert result.yolo_confidence == result.chosen.score
        assert result.processing_time_ms > 0
        scores = [person.score for person in result.persons]
        assert scores == sorted(scores, reverse=True)
        assert result.width is not None
        assert result.height is not None
        for person in result.persons:
            x1, y1, x2, y2 = person.box
            assert 0 <= x1 < x2 <= result.width
            assert 0 <= y1 < y2 <= result.height
            assert [kp.id for kp in person.keypoints] == list(range(17))
            for kp in person.keypoints:
                assert 0 <= kp.x <= result.width
                assert 0 <= kp.y <= result.height
                assert kp.visible == visibility_of(kp.confidence, pose_engine.spec.visibility_threshold)


def test_batches_of_mixed_sizes_give_the_single_image_answers(
    spec: ModelSpec, pose_engine: PoseEngine, sample_bytes: dict[str, bytes], png_bytes: bytes
) -> None:
    # Given a stream mixing JPEG and PNG, portrait and landscape, run three images per forward:
    # same-shape images share a batch, the others get their own
    items = [
        (1, "bus.jpg", sample_bytes["bus.jpg"]),
        (2, "zidane.png", png_bytes),
        (3, "zidane.jpg", sample_bytes["zidane.jpg"]),
        (4, "bus.jpg", sample_bytes["bus.jpg"]),
    ]
    batched_engine = PoseEngine(spec, device="cpu", batch_size=3)

    batched = list(batched_engine.predict(items))
    single = list(pose_engine.predict(items))

    # Then order holds and each image gets what it gets alone
    assert [r.image_id for r in batched] == [1, 2, 3, 4]
    assert all(r.ok for r in batched)
    for ours, alone in zip(batched, single, strict=True):
        assert len(ours.persons) == len(alone.persons) > 0
        assert np.allclose([p.box for p in ours.persons], [p.box for p in alone.persons], atol=0.05)
    # and the PNG of zidane gives the JPEG's persons (re-encoding aside)
    png, jpeg = from_image_result(batched[1]), from_image_result(batched[2])
    assert len(greedy_match(jpeg, png, min_iou=0.9)) == len(jpeg.boxes)
