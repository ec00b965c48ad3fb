"""NMS and mapping back to original pixels in numpy, one image at a time: the CPU runner's way.

The CPU engine's forward hands back a numpy array (ONNX Runtime) or a CPU tensor (torch). Doing
`postprocess`'s batched torch work on it cost 3-5 ms of CPU per image inside a lane, against
0.6 ms when the same calls ran back to back: each of its ~40 small torch operations meets its
code cold after a 50 ms forward has run through the caches. A handful of numpy calls on the few
candidates above the threshold does the same selection in a fraction of that.

The selection is the one `postprocess.select_detections` makes (Ultralytics'
`non_max_suppression`): the best class per anchor, score above the threshold, xywh to xyxy,
greedy NMS per class in score order (torchvision's kernel, in float32, the overlap compared with
the threshold in float64 as torchvision does), at most `max_detections` per image. Boxes and
keypoints are mapped back as `postprocess.to_original_pixels` maps them, in float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from cradle_inference.geometry import LetterboxGeometry
from cradle_inference.postprocess import BOX_VALUES, KEYPOINTS_START, SCORE_COLUMN, DetectionRows, Thresholds

RawPredictions = npt.NDArray[np.float32]  # the head's output for a batch, as the forward gave it


def host_detections(
    raw: RawPredictions,
    geometries: Sequence[LetterboxGeometry],
    class_count: int,
    thresholds: Thresholds,
    end2end: bool,
) -> list[DetectionRows]:
    """Per image of the batch, its detection rows (best score first) in original pixels.

    `raw` is (batch, 4 + classes + extra, anchors) with xywh boxes, or for an end-to-end head
    (batch, max_det, 6 + extra) already in xyxy, score, class.
    """
    select = _select_end2end if end2end else _select
    return [
        _to_original_pixels(select(raw[index], class_count, thresholds), geometry)
        for index, geometry in enumerate(geometries)
    ]


def _select(raw: RawPredictions, class_count: int, thresholds: Thresholds) -> DetectionRows:
    class_scores = raw[BOX_VALUES : BOX_VALUES + class_count]  # (classes, anchors)
    classes = class_scores.argmax(axis=0) if class_count > 1 else np.zeros(raw.shape[1], np.intp)
    scores = class_scores[0] if class_count == 1 else np.take_along_axis(class_scores, classes[None], 0)[0]
    anchors = np.flatnonzero(scores > thresholds.confidence)
    candidates = np.ascontiguousarray(raw[:, anchors].T, dtype=np.float32)  # (k, channels)
    centre, half_size = candidates[:, 0:2], candidates[:, 2:4] / np.float32(2)
    boxes = np.concatenate((centre - half_size, centre + half_size), axis=1)
    candidate_scores = np.asarray(scores[anchors], dtype=np.float32)
    candidate_classes = classes[anchors].astype(np.float32)
    kept = _nms(boxes, candidate_scores, candidate_classes, thresholds)
    return np.concatenate(
        (
            boxes[kept],
            candidate_scores[kept, None],
            candidate_classes[kept, None],
            candidates[kept, BOX_VALUES + class_count :],
        ),
        axis=1,
    )


def _nms(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    classes: npt.NDArray[np.float32],
    thresholds: Thresholds,
) -> npt.NDArray[np.intp]:
    """Indices kept, best score first: torchvision's `nms` kernel, per class, stopping at max_det.

    Stopping once `max_detections` are kept changes nothing: NMS keeps in score order, and only
    the first `max_detections` survive anyway.
    """
    order = np.argsort(-scores, kind="stable")  # torchvision sorts stably, descending
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[order, i]) for i in range(4))
    areas = (x2 - x1) * (y2 - y1)
    ordered_classes = classes[order]
    iou_threshold = np.float64(thresholds.iou)  # torchvision compares a float overlap with a double
    suppressed = np.zeros(len(order), dtype=bool)
    kept: list[int] = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        kept.append(i)
        if len(kept) == thresholds.max_detections:
            break
        rest = slice(i + 1, None)
        width = np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), np.float32(0))
        height = np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), np.float32(0))
        inter = width * height
        overlap = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest] |= (overlap > iou_threshold) & (ordered_classes[rest] == ordered_classes[i])
    return order[np.asarray(kept, dtype=np.intp)]


def _select_end2end(raw: RawPredictions, class_count: int, thresholds: Thresholds) -> DetectionRows:
    del class_count  # the head has chosen each row's class already
    rows = raw[: thresholds.max_detections]  # the head sorts by score
    return np.asarray(rows[rows[:, SCORE_COLUMN] > thresholds.confidence], dtype=np.float32)


def _to_original_pixels(rows: DetectionRows, geometry: LetterboxGeometry) -> DetectionRows:
    """Undo the letterbox, clipped to the image, as Ultralytics' scale_boxes/scale_coords."""
    out = rows.copy()
    left, top = np.float32(geometry.left), np.float32(geometry.top)
    scale_x, scale_y = np.float32(geometry.scale_x), np.float32(geometry.scale_y)
    width, height = np.float32(geometry.width), np.float32(geometry.height)
    zero = np.float32(0)
    for columns in (slice(0, BOX_VALUES, 2), slice(KEYPOINTS_START, None, 3)):
        out[:, columns] = np.minimum(np.maximum((rows[:, columns] - left) / scale_x, zero), width)
    for columns in (slice(1, BOX_VALUES, 2), slice(KEYPOINTS_START + 1, None, 3)):
        out[:, columns] = np.minimum(np.maximum((rows[:, columns] - top) / scale_y, zero), height)
    return out
