"""One batched NMS selects what Ultralytics' per-image NMS selects; mapping back to original
pixels is Ultralytics' scale_boxes / scale_coords with each image's own letterbox."""

from __future__ import annotations

import pytest
import torch
from ultralytics.utils import ops
from ultralytics.utils.nms import non_max_suppression

from cradle_inference.geometry import letterbox_geometry
from cradle_inference.postprocess import Thresholds, select_detections, split_by_image, to_original_pixels

pytestmark = pytest.mark.unit

KEYPOINTS = 17


def _raw_predictions(batch: int, anchors: int, seed: int) -> torch.Tensor:
    """Head-like output: (batch, 4 + 1 class + 51, anchors), clustered boxes so NMS has work."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.rand(batch, 2, 6, generator=generator) * 500 + 70
    pick = torch.randint(0, 6, (batch, anchors), generator=generator)
    xy = torch.gather(centres, 2, pick[:, None, :].expand(batch, 2, anchors))
    xy = xy + torch.randn(batch, 2, anchors, generator=generator) * 8
    wh = torch.rand(batch, 2, anchors, generator=generator) * 120 + 30
    scores = torch.rand(batch, 1, anchors, generator=generator)
    keypoints = torch.rand(batch, 3 * KEYPOINTS, anchors, generator=generator) * 600
    keypoints[:, 2::3] = torch.rand(batch, KEYPOINTS, anchors, generator=generator)
    return torch.cat((xy, wh, scores, keypoints), dim=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("max_detections", [3, 20])
def test_batched_nms_selects_what_ultralytics_selects(seed: int, max_detections: int) -> None:
    raw = _raw_predictions(batch=4, anchors=1500, seed=seed)
    raw[2, 4] = 0.0  # an image with nothing above the threshold
    expected = non_max_suppression(raw.clone(), 0.25, 0.7, max_det=max_detections, nc=1)

    rows, image_index = select_detections(
        raw, class_count=1, thresholds=Thresholds(0.25, 0.7, max_detections), end2end=False
    )

    for image in range(4):
        ours = rows[image_index == image]
        assert ours.shape == expected[image].shape
        assert torch.allclose(ours, expected[image], atol=1e-4)
    assert rows[image_index == 2].shape[0] == 0


def test_end_to_end_heads_are_filtered_not_suppressed() -> None:
    raw = torch.zeros(2, 5, 6 + 3 * KEYPOINTS)
    raw[0, :3, 4] = torch.tensor([0.9, 0.6, 0.1])
    raw[1, :2, 4] = torch.tensor([0.8, 0.7])

    rows, image_index = select_detections(raw, 1, Thresholds(0.25, 0.7, 20), end2end=True)

    assert image_index.tolist() == [0, 0, 1, 1]
    assert torch.allclose(rows[:, 4], torch.tensor([0.9, 0.6, 0.8, 0.7]))


def test_rows_map_back_like_scale_boxes_and_scale_coords() -> None:
    shapes = [(1080, 1920), (1080, 1920), (720, 1280)]  # one padded shape (384 x 640) for all
    geometries = [letterbox_geometry(h, w, 640, 32) for h, w in shapes]
    generator = torch.Generator().manual_seed(5)
    rows = torch.rand(7, 6 + 3 * KEYPOINTS, generator=generator) * 700 - 30  # some fall outside
    image_index = torch.tensor([0, 0, 0, 1, 2, 2, 2])

    mapped = to_original_pixels(rows, image_index, geometries)

    for row, image, out in zip(rows, image_index.tolist(), mapped, strict=True):
        padded = (geometries[image].padded_height, geometries[image].padded_width)
        box = ops.scale_boxes(padded, row[None, :4].clone(), shapes[image])
        keypoints = ops.scale_coords(padded, row[6:].reshape(1, KEYPOINTS, 3).clone(), shapes[image])
        assert torch.allclose(out[:4], box[0], atol=1e-3)
        assert torch.allclose(out[6:].reshape(KEYPOINTS, 3), keypoints[0], atol=1e-3)
        assert torch.equal(out[4:6], row[4:6])
    per_image = split_by_image(mapped, image_index, 3)
    assert [len(part) for part in per_image] == [3, 1, 3]
