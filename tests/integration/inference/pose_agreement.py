"""Comparing two sets of detected persons: greedy box matching and keypoint distances."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cradlepose.domain.inference import ImageResult


@dataclass(frozen=True)
class Persons:
    boxes: np.ndarray  # (N, 4) x1, y1, x2, y2
    keypoints: np.ndarray  # (N, K, 3) x, y, confidence


def from_ultralytics(result: Any) -> Persons:
    return Persons(
        boxes=result.boxes.xyxy.cpu().numpy().reshape(-1, 4),
        keypoints=result.keypoints.data.cpu().numpy(),
    )


def from_image_result(result: ImageResult) -> Persons:
    keypoints = [
        [[kp.x, kp.y, kp.confidence] for kp in sorted(person.keypoints, key=lambda kp: kp.id)]
        for person in result.persons
    ]
    return Persons(
        boxes=np.asarray([person.box for person in result.persons], dtype=np.float64).reshape(-1, 4),
        keypoints=np.asarray(keypoints, dtype=np.float64),
    )


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def greedy_match(reference: Persons, other: Persons, min_iou: float) -> list[tuple[int, int, float]]:
    pairs = sorted(
        (
            (box_iou(reference.boxes[i], other.boxes[j]), i, j)
            for i in range(len(reference.boxes))
            for j in range(len(other.boxes))
        ),
        reverse=True,
    )
    used_reference: set[int] = set()
    used_other: set[int] = set()
    matches = []
    for iou, i, j in pairs:
        if iou >= min_iou and i not in used_reference and j not in used_other:
            used_reference.add(i)
            used_other.add(j)
            matches.append((i, j, iou))
    return matches


def keypoint_distances(
    reference: Persons, other: Persons, matches: list[tuple[int, int, float]], min_confidence: float
) -> np.ndarray:
    """Pixel distances of the matched persons' keypoints that the reference labels (confidence
    at least `min_confidence`)."""
    distances = []
    for i, j, _ in matches:
        labelled = reference.keypoints[i, :, 2] >= min_confidence
        delta = reference.keypoints[i, labelled, :2] - other.keypoints[j, labelled, :2]
        distances.extend(np.linalg.norm(delta, axis=1).tolist())
    return np.asarray(distances)
