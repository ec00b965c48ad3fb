"""The pose network as an ONNX graph for ONNX Runtime, exported once per weights file and cached.

The graph is exported from the very module the torch path runs (`load_pose_network`: fused,
FP32), wrapped to return only the head's decoded predictions, so Cradle's own letterbox, NMS and
mapping back to original pixels stay as they are: the two runtimes differ only in who does the
forward. Batch, height and width are dynamic axes, so one file serves every letterboxed shape.
The graph takes the letterboxed images as they are, uint8 RGB (batch, height, width, 3), and
scales and transposes them itself: measured here, that costs ONNX Runtime less than the torch
stack-transpose-divide before it did (about 3 ms of a 60 ms image on one core).

A cache file is named after everything that changes the graph: the weights' SHA-256, the opset,
the input size and the versions of torch (the exporter) and ONNX Runtime (the reader). It is
written beside its final name and renamed into place, so a crash never leaves half a file under
the final name; a file that ONNX Runtime cannot load all the same (a disk error, a hand edit) is
exported again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cradle_inference.detect import head_output
from cradle_inference.network import PoseNetwork

OPSET = 17
CACHE_ENV = "CRADLE_ONNX_CACHE"
INPUT_NAME = "images"
OUTPUT_NAME = "predictions"
GRAPH_FORMAT = "u8nhwc"  # what the graph takes; part of the cache key
_HASH_BLOCK = 1 << 20


class OnnxExportFailed(Exception):
    """The network could not be exported to, or loaded from, ONNX."""


def default_onnx_cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cradle" / "onnx"


def weights_sha256(weights: Path) -> str:
    digest = hashlib.sha256()
    with weights.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ExportKey:
    weights_sha256: str
    opset: int
    input_size: int
    torch_version: str
    ort_version: str

    def file_name(self) -> str:
        torch_version = self.torch_version.split("+")[0]
        return (
            f"pose-{self.weights_sha256}-{GRAPH_FORMAT}-opset{self.opset}-in{self.input_size}"
            f"-torch{torch_version}-ort{self.ort_version}.onnx"
        )


def export_key(weights: Path, input_size: int, ort_version: str) -> ExportKey:
    return ExportKey(
        weights_sha256=weights_sha256(weights),
        opset=OPSET,
        input_size=input_size,
        torch_version=str(torch.__version__),
        ort_version=ort_version,
    )


class _Predictions(torch.nn.Module):
    """Letterboxed uint8 RGB (batch, height, width, 3) in, what the engine reads out:
    (batch, 4 + classes + 3 * keypoints, anchors), as `stack_cpu` and `forward` give torch."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        scaled = images.permute(0, 3, 1, 2).float().div(255)
        return head_output(self.module(scaled))


def export_onnx(network: PoseNetwork, input_size: int, target: Path) -> None:
    """Write `network` as ONNX to `target`, atomically (temporary file beside it, then rename)."""
    if network.dtype != torch.float32 or network.device.type != "cpu":
        raise OnnxExportFailed("the ONNX graph is exported from the FP32 network on the CPU")
    # A copy: tracing leaves the detection head's anchor cache holding traced values.
    module = _Predictions(network.replica().module).eval()
    stride = network.stride
    height = max(stride, (input_size * 3 // 5) // stride * stride)  # a landscape letterbox
    sample = torch.zeros(1, height, input_size, 3, dtype=torch.uint8)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(handle)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's warnings about shape-dependent Python
            torch.onnx.export(
                module,
                (sample,),
                partial,
                dynamo=False,  # the TorchScript exporter: no onnxscript, and dynamic axes as asked
                opset_version=OPSET,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={
                    INPUT_NAME: {0: "batch", 1: "height", 2: "width"},
                    OUTPUT_NAME: {0: "batch", 2: "anchors"},
                },
            )
        os.replace(partial, target)
    except Exception as error:
        Path(partial).unlink(missing_ok=True)
        raise OnnxExportFailed(f"could not export the pose network to ONNX: {error}") from error


def onnx_session(
    network: PoseNetwork,
    weights: Path,
    input_size: int,
    *,
    intra_op_threads: int,
    cache_dir: Path | None = None,
) -> Any:
    """An ONNX Runtime session running `network`, from the cache or freshly exported.

    Raises `OnnxExportFailed` (or ImportError without onnxruntime); the engine then runs torch.
    """
    import onnxruntime as ort  # noqa: PLC0415 - optional: the torch path works without it

    key = export_key(weights, input_size, str(ort.__version__))
    target = (cache_dir or default_onnx_cache_dir()) / key.file_name()
    if target.is_file():
        try:
            return _session(ort, target, intra_op_threads)
        except Exception:  # any load failure means the file is not a usable graph
            target.unlink(missing_ok=True)
    export_onnx(network, input_size, target)
    try:
        return _session(ort, target, intra_op_threads)
    except Exception as error:
        raise OnnxExportFailed(f"ONNX Runtime could not load the exported graph: {error}") from error


def _session(ort: Any, path: Path, intra_op_threads: int) -> Any:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: no per-node placement chatter
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
