"""One network batch: forward, NMS, back to original pixels, results. Shared by both devices."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from cradle_inference.batching import PreparedImage
from cradle_inference.network import PoseNetwork
from cradle_inference.postprocess import (
    DetectionRows,
    Thresholds,
    select_detections,
    split_by_image,
    to_original_pixels,
)
from cradle_inference.results import image_result
from cradlepose.domain.inference import ImageResult, ModelSpec


def head_output(output: Any) -> torch.Tensor:
    """The decoded predictions: in eval mode Ultralytics heads return (predictions, raw maps)."""
    predictions: torch.Tensor = output[0] if isinstance(output, (tuple, list)) else output
    return predictions


def forward(module: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return head_output(module(batch))


def detections(
    network: PoseNetwork,
    raw: torch.Tensor,
    images: Sequence[PreparedImage[Any]],
    thresholds: Thresholds,
) -> list[DetectionRows]:
    """Per image of the batch, its detection rows on the host in original pixels."""
    with torch.inference_mode():
        rows, image_index = select_detections(raw, network.class_count, thresholds, network.end2end)
        rows = to_original_pixels(rows, image_index, [image.geometry for image in images])
        return split_by_image(rows, image_index, len(images))


def results_of(
    images: Sequence[PreparedImage[Any]],
    rows: Sequence[DetectionRows],
    batch_seconds: float,
    spec: ModelSpec,
) -> list[ImageResult]:
    """The batch's time is shared equally by its images, on top of each one's own decode time."""
    share = batch_seconds / max(1, len(images))
    return [
        image_result(
            image.image_id, image.key, image.geometry, image_rows, seconds=image.seconds + share, spec=spec
        )
        for image, image_rows in zip(images, rows, strict=True)
    ]


def thresholds_of(spec: ModelSpec) -> Thresholds:
    return Thresholds(
        confidence=spec.conf_threshold, iou=spec.iou_threshold, max_detections=spec.max_detections
    )


def now() -> float:
    return time.perf_counter()
