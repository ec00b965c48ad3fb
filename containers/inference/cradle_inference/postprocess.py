"""From raw network output to detections in original pixels, on whatever device the batch is on.

One NMS call covers the whole batch (torchvision's `batched_nms`, images and classes kept apart
by their group index), so a batch costs one host synchronisation instead of one per image, and
boxes and keypoints are mapped back through each image's letterbox before anything leaves the
device. The selection is Ultralytics' `non_max_suppression` (best class per box, score above the
threshold, at most `max_det` per image by score), so the persons found are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torchvision.ops import batched_nms

from cradle_inference.geometry import LetterboxGeometry

BOX_VALUES = 4
# Columns of a detection row: x1, y1, x2, y2, score, class, then x, y, confidence per keypoint.
SCORE_COLUMN = 4
KEYPOINTS_START = 6

DetectionRows = npt.NDArray[np.float32]  # (persons, 6 + 3 * keypoints), original pixels


@dataclass(frozen=True, slots=True)
class Thresholds:
    confidence: float
    iou: float
    max_detections: int


def select_detections(
    raw: torch.Tensor, class_count: int, thresholds: Thresholds, end2end: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Detections kept after NMS as (rows, image index per row), rows in letterboxed pixels.

    `raw` is the head's output: (batch, 4 + classes + extra, anchors) with xywh boxes, or for an
    end-to-end head (batch, max_det, 6 + extra) already in xyxy, score, class.
    """
    if end2end:
        return _select_end2end(raw, thresholds)
    batch = raw.shape[0]
    predictions = raw.transpose(1, 2)  # (batch, anchors, channels)
    scores, classes = predictions[..., BOX_VALUES : BOX_VALUES + class_count].max(dim=-1)
    image_index, anchor_index = (scores > thresholds.confidence).nonzero(as_tuple=True)
    candidates = predictions[image_index, anchor_index].float()
    boxes = _xywh_to_xyxy(candidates[:, :BOX_VALUES])
    candidate_scores = scores[image_index, anchor_index].float()
    candidate_classes = classes[image_index, anchor_index]
    kept = batched_nms(boxes, candidate_scores, image_index * class_count + candidate_classes, thresholds.iou)
    # batched_nms orders by score over the whole batch; a stable sort by image keeps that order
    # within each image, then the first max_det of each image survive.
    kept = kept[torch.sort(image_index[kept], stable=True).indices]
    kept_images = image_index[kept]
    per_image = torch.bincount(kept_images, minlength=batch)
    first_of_image = torch.cumsum(per_image, 0) - per_image
    rank = torch.arange(kept.numel(), device=kept.device) - first_of_image[kept_images]
    kept = kept[rank < thresholds.max_detections]
    rows = torch.cat(
        (
            boxes[kept],
            candidate_scores[kept, None],
            candidate_classes[kept, None].float(),
            candidates[kept, BOX_VALUES + class_count :],
        ),
        dim=1,
    )
    return rows, image_index[kept]


def _select_end2end(raw: torch.Tensor, thresholds: Thresholds) -> tuple[torch.Tensor, torch.Tensor]:
    raw = raw[:, : thresholds.max_detections]  # the head sorts by score
    image_index, slot = (raw[..., SCORE_COLUMN] > thresholds.confidence).nonzero(as_tuple=True)
    return raw[image_index, slot].float(), image_index


def _xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    centre, half_size = boxes[:, :2], boxes[:, 2:] / 2
    return torch.cat((centre - half_size, centre + half_size), dim=1)


def to_original_pixels(
    rows: torch.Tensor, image_index: torch.Tensor, geometries: Sequence[LetterboxGeometry]
) -> torch.Tensor:
    """Undo each row's letterbox, clipped to its image, as Ultralytics' scale_boxes/scale_coords."""
    per_image = torch.tensor(
        [[g.left, g.top, g.scale_x, g.scale_y, g.width, g.height] for g in geometries],
        dtype=torch.float32,
        device=rows.device,
    )[image_index]
    left, top, scale_x, scale_y, width, height = per_image.unbind(dim=1)
    out = rows.clone()
    xs = torch.cat((out[:, 0:BOX_VALUES:2], out[:, KEYPOINTS_START::3]), dim=1)
    ys = torch.cat((out[:, 1:BOX_VALUES:2], out[:, KEYPOINTS_START + 1 :: 3]), dim=1)
    xs = ((xs - left[:, None]) / scale_x[:, None]).clamp(min=0).minimum(width[:, None])
    ys = ((ys - top[:, None]) / scale_y[:, None]).clamp(min=0).minimum(height[:, None])
    out[:, 0:BOX_VALUES:2], out[:, KEYPOINTS_START::3] = xs[:, :2], xs[:, 2:]
    out[:, 1:BOX_VALUES:2], out[:, KEYPOINTS_START + 1 :: 3] = ys[:, :2], ys[:, 2:]
    return out


def split_by_image(rows: torch.Tensor, image_index: torch.Tensor, batch: int) -> list[DetectionRows]:
    """Rows on the host, one array per image of the batch (one device-to-host copy)."""
    # The image index rides along as a column (exact in float32) to make it one copy, not two.
    host = torch.cat((image_index[:, None].to(rows.dtype), rows), dim=1).cpu().numpy()
    host_index, host_rows = host[:, 0].astype(np.int64), host[:, 1:]
    # Rows are grouped by image already (sorted above); searchsorted finds each image's run.
    bounds = np.searchsorted(host_index, np.arange(batch + 1))
    return [host_rows[bounds[i] : bounds[i + 1]] for i in range(batch)]
