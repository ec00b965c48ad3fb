"""The CPU runner's numpy NMS and mapping back select and place exactly what the torch version
(and so Ultralytics' non_max_suppression, scale_boxes and scale_coords) does."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ultralytics.utils.nms import non_max_suppression

from cradle_inference.geometry import letterbox_geometry
from cradle_inference.host_postprocess import host_detections
from cradle_inference.postprocess import Thresholds, select_detections, split_by_image, to_original_pixels
from tests.integration.inference.test_postprocess import KEYPOINTS, _raw_predictions

pytestmark = pytest.mark.unit

SHAPES = [(1080, 1920), (720, 1280), (1080, 1920), (1000, 1500)]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("max_detections", [1, 3, 20])
@pytest.mark.parametrize("iou", [0.7, 0.45, 0.6])
def test_numpy_selection_equals_the_torch_selection(seed: int, max_detections: int, iou: float) -> None:
    raw = _raw_predictions(batch=4, anchors=1500, seed=seed)
    raw[2, 4] = 0.0  # an image with nothing above the threshold
    thresholds = Thresholds(0.25, iou, max_detections)
    geometries = [letterbox_geometry(h, w, 640, 32) for h, w in SHAPES]
    rows, image_index = select_detections(raw, 1, thresholds, end2end=False)
    expected = split_by_image(to_original_pixels(rows, image_index, geometries), image_index, 4)
    per_image_nms = non_max_suppression(raw.clone(), 0.25, iou, max_det=max_detections, nc=1)

    ours = host_detections(raw.numpy(), geometries, 1, thresholds, end2end=False)

    assert [len(part) for part in ours] == [len(part) for part in expected] == [len(p) for p in per_image_nms]
    assert len(ours[2]) == 0
    for mine, theirs in zip(ours, expected, strict=True):
        assert mine.dtype == np.float32
        assert np.allclose(mine, theirs, atol=1e-3, rtol=0)
        assert np.array_equal(mine[:, 4], theirs[:, 4])  # the same persons, in the same order


def test_more_classes_are_suppressed_per_class() -> None:
    # Two identical boxes of different classes both survive; a weaker twin of the same class does not.
    anchors = np.zeros((1, 4 + 2 + 3 * KEYPOINTS, 3), np.float32)
    anchors[0, :4] = np.array([[100, 100, 100], [100, 100, 100], [50, 50, 50], [80, 80, 80]], np.float32)
    anchors[0, 4] = [0.9, 0.1, 0.8]  # class 0 scores
    anchors[0, 5] = [0.1, 0.95, 0.1]  # class 1 scores
    geometry = letterbox_geometry(640, 640, 640, 32)

    (rows,) = host_detections(anchors, [geometry], 2, Thresholds(0.25, 0.7, 20), end2end=False)

    assert rows[:, 4].tolist() == pytest.approx([0.95, 0.9])
    assert rows[:, 5].tolist() == [1.0, 0.0]


def test_end_to_end_rows_are_filtered_and_mapped() -> None:
    raw = np.zeros((2, 5, 6 + 3 * KEYPOINTS), np.float32)
    raw[0, :3, 4] = [0.9, 0.6, 0.1]
    raw[1, :2, 4] = [0.8, 0.7]
    raw[:, :, :4] = [10, 20, 30, 40]
    geometries = [letterbox_geometry(1080, 1920, 640, 32)] * 2

    ours = host_detections(raw, geometries, 1, Thresholds(0.25, 0.7, 20), end2end=True)

    assert [part[:, 4].tolist() for part in ours] == [pytest.approx([0.9, 0.6]), pytest.approx([0.8, 0.7])]
    expected = to_original_pixels(torch.from_numpy(raw[0, :2]), torch.zeros(2, dtype=torch.long), geometries)
    assert np.allclose(ours[0], expected.numpy())


def test_non_finite_values_pass_through_for_the_result_to_refuse() -> None:
    raw = _raw_predictions(batch=1, anchors=50, seed=4).numpy()
    raw[0, 4] = 0.0
    raw[0, 4, 7] = 0.99
    raw[0, 5, 7] = np.nan  # the first keypoint's x (channels: box, score, keypoints)
    geometry = letterbox_geometry(1080, 1920, 640, 32)

    (rows,) = host_detections(raw, [geometry], 1, Thresholds(0.25, 0.7, 20), end2end=False)

    assert len(rows) == 1
    assert np.isnan(rows[0, 6])
