"""Loading the pose network: an Ultralytics pose checkpoint as a plain, fused, inference-only module."""

from __future__ import annotations

import copy
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

KEYPOINT_VALUES = 3  # x, y, confidence per keypoint


class UnsupportedModel(Exception):
    """The checkpoint is not a pose model this engine can run."""


@dataclass(frozen=True)
class PoseNetwork:
    module: torch.nn.Module
    device: torch.device
    dtype: torch.dtype  # of the weights and of the input the module expects
    stride: int  # the largest stride: input sides must be multiples of it
    keypoint_count: int
    class_count: int
    end2end: bool  # the head de-duplicates itself (YOLO26-style); no NMS needed

    def replica(self) -> PoseNetwork:
        """An independent copy for another thread.

        Ultralytics' detection head caches its anchors on the module for the last input shape it
        saw, so two threads sharing one module with inputs of different shapes would decode each
        other's boxes with the wrong anchors. Each CPU lane runs its own copy (yolo11n: ~12 MB).
        """
        return PoseNetwork(
            module=copy.deepcopy(self.module),
            device=self.device,
            dtype=self.dtype,
            stride=self.stride,
            keypoint_count=self.keypoint_count,
            class_count=self.class_count,
            end2end=self.end2end,
        )


def load_pose_network(weights: Path, device: torch.device, half: bool) -> PoseNetwork:
    # Heavy, and must follow cradle_inference's offline settings.
    from ultralytics.models.yolo.model import YOLO  # noqa: PLC0415

    yolo = YOLO(str(weights), task="pose")
    model: Any = yolo.model  # an Ultralytics PoseModel; its attributes are not typed
    if yolo.task != "pose":
        raise UnsupportedModel(f"{weights.name} is a {yolo.task!r} model, not a pose model")
    kpt_shape = tuple(getattr(model, "kpt_shape", ()) or ())
    if len(kpt_shape) != 2 or kpt_shape[1] != KEYPOINT_VALUES:
        raise UnsupportedModel(
            f"{weights.name} has keypoint shape {kpt_shape}; per-keypoint confidence is needed"
        )
    model = model.fuse(verbose=False).eval()  # Conv+BatchNorm folded, as Ultralytics predicts
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    dtype = torch.float16 if half else torch.float32
    # channels_last: measured faster on CPU (Ultralytics does the same there); on CUDA it is the
    # layout cuDNN's FP16 tensor-core convolutions prefer.
    model = model.to(device=device, dtype=dtype, memory_format=torch.channels_last)
    if half:
        decode_head_in_fp32(model.model[-1])
    return PoseNetwork(
        module=model,
        device=device,
        dtype=dtype,
        stride=max(int(model.stride.max()), 32),  # as Ultralytics' AutoBackend
        keypoint_count=int(kpt_shape[0]),
        class_count=len(model.names),
        end2end=bool(getattr(model, "end2end", False)),
    )


def decode_head_in_fp32(head: torch.nn.Module) -> None:
    """Make an FP16 head decode boxes and keypoints in FP32; its convolutions stay FP16.

    The decode turns grid offsets into letterboxed pixels, (offset * 2 + anchor) * stride: in
    FP16 a value between 512 and 640 lands on a 0.5 px grid, which the way back to a 1080p frame
    triples. The head's maps are small, so casting them costs the GPU next to nothing.
    """
    if not hasattr(head, "_inference"):
        raise UnsupportedModel(f"{type(head).__name__} is not an Ultralytics detection head")
    dfl = getattr(head, "dfl", None)
    if isinstance(dfl, torch.nn.Module):
        dfl.float()  # the box decoder's fixed 1x1 convolution reads the FP32 maps
    # A bound method, so that deepcopy (PoseNetwork.replica) rebinds it to the copied head.
    object.__setattr__(head, "_inference", types.MethodType(_fp32_inference, head))


def _fp32_inference(head: Any, maps: dict[str, Any]) -> torch.Tensor:
    decoded: torch.Tensor = type(head)._inference(head, _as_fp32(maps))
    return decoded


def _as_fp32(maps: dict[str, Any]) -> dict[str, Any]:
    def cast(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.float()
        if isinstance(value, (list, tuple)):
            return [cast(item) for item in value]
        return value

    return {name: cast(value) for name, value in maps.items()}
