"""The pose network as an ONNX graph for ONNX Runtime, exported once per weights file and cached.

The graph is exported from the very module the torch path runs (`load_pose_network`: fused,
FP32), wrapped to return only the head's decoded predictions, so Cradle's own letterbox, NMS and
mapping back to original pixels stay as they are: the two runtimes differ only in who does the
forward. Batch, height and width are dynamic axes, so one file serves every letterboxed shape.
The graph takes the letterboxed images as OpenCV leaves them, uint8 BGR (batch, height, width,
3), and transposes them itself: measured here, that costs ONNX Runtime less than the torch
stack-transpose-divide before it did (about 3 ms of a 60 ms image on one core). The channel
order and the scaling to [0, 1] are folded into the first convolution's weights (its input is
zero-padded, and a zero stays zero either way), so neither costs a pass over the image. The
head's box decoder (DFL: a softmax over 16 bins along a middle axis, then their expectation)
is exported as the same arithmetic written as max/exp/sum reductions along that axis, which ONNX
Runtime runs in a sixth of the time of its transposed softmax (about 3 ms of the forward), and
the head is put in Ultralytics' export mode (keypoints decoded without in-place scatters).
Together they leave the outputs within 0.001 px of the torch module's.

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
GRAPH_FORMAT = "u8bgr-v2"  # what the graph takes and how it was rewritten; part of the cache key
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
    """Letterboxed uint8 BGR (batch, height, width, 3) in, what the engine reads out:
    (batch, 4 + classes + 3 * keypoints, anchors), as `forward` gives torch for RGB in [0, 1]."""

    def __init__(self, module: torch.nn.Module, *, input_folded: bool) -> None:
        super().__init__()
        self.module = module
        self.input_folded = input_folded  # channel order and 1/255 are in the first convolution

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pixels = images.permute(0, 3, 1, 2).float()
        if not self.input_folded:
            pixels = pixels.flip(1).div(255)
        return head_output(self.module(pixels))


class _ExpectedDistance(torch.nn.Module):
    """Ultralytics' DFL integral, softmax(bins) . (0, 1, ..., n - 1), as reductions along the bin
    axis: (batch, 4 * n, anchors) in, (batch, 4, anchors) out. The same value to ~1e-6 of a grid
    step; ONNX Runtime transposes a softmax along a middle axis twice, reductions it runs in place."""

    def __init__(self, bins: int) -> None:
        super().__init__()
        self.bins = bins
        self.register_buffer("weights", torch.arange(bins, dtype=torch.float32).view(1, 1, bins, 1))

    def forward(self, distributions: torch.Tensor) -> torch.Tensor:
        batch, _, anchors = distributions.shape
        logits = distributions.view(batch, 4, self.bins, anchors)
        exponentials = (logits - logits.amax(dim=2, keepdim=True)).exp()
        weights = self.get_buffer("weights")
        return (exponentials * weights).sum(dim=2) / exponentials.sum(dim=2)


def _for_export(module: torch.nn.Module) -> _Predictions:
    """`module` (a private copy) rewritten for the graph: input scaling folded in, DFL as reductions,
    the head in export mode. Whatever does not have the expected shape is left as it is."""
    layers: Any = getattr(module, "model", None)
    first = layers[0] if isinstance(layers, torch.nn.Sequential) and len(layers) else None
    convolution = getattr(first, "conv", None)
    input_folded = (
        getattr(first, "f", None) == -1  # the first layer reads the input, and nothing else does
        and isinstance(convolution, torch.nn.Conv2d)
        and convolution.in_channels == 3
        and convolution.groups == 1
        and convolution.padding_mode == "zeros"
    )
    if input_folded and isinstance(convolution, torch.nn.Conv2d):
        # BGR in where the weights expect RGB, and 0-255 where they expect 0-1.
        folded = convolution.weight.detach().flip(1) / 255
        convolution.weight = torch.nn.Parameter(folded, requires_grad=False)
    head: Any = layers[-1] if isinstance(layers, torch.nn.Sequential) and len(layers) else None
    dfl = getattr(head, "dfl", None)
    dfl_convolution = getattr(dfl, "conv", None)
    bins = int(getattr(dfl, "c1", 0))
    if (
        isinstance(dfl_convolution, torch.nn.Conv2d)
        and bins > 1
        and torch.equal(
            dfl_convolution.weight.detach().flatten().float(), torch.arange(bins, dtype=torch.float32)
        )
    ):
        head.dfl = _ExpectedDistance(bins)
    if head is not None and hasattr(head, "export"):
        head.export, head.format, head.dynamic = True, "onnx", True  # as Ultralytics' ONNX exporter
    return _Predictions(module, input_folded=input_folded)


def landscape_sample(network: PoseNetwork, input_size: int) -> torch.Tensor:
    """A uint8 NHWC letterbox of a landscape image to trace with (height and width stay dynamic)."""
    stride = network.stride
    height = max(stride, (input_size * 3 // 5) // stride * stride)
    return torch.zeros(1, height, input_size, 3, dtype=torch.uint8)


def trace_to_onnx(module: torch.nn.Module, sample: torch.Tensor, target: str | Path) -> None:
    """Trace `module` on `sample` into an ONNX file: Cradle's opset, names and dynamic axes."""
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's warnings about shape-dependent Python
        torch.onnx.export(
            module,
            (sample,),
            str(target),
            dynamo=False,  # the TorchScript exporter: no onnxscript, and dynamic axes as asked
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={
                INPUT_NAME: {0: "batch", 1: "height", 2: "width"},
                OUTPUT_NAME: {0: "batch", 2: "anchors"},
            },
        )


def export_onnx(network: PoseNetwork, input_size: int, target: Path) -> None:
    """Write `network` as ONNX to `target`, atomically (temporary file beside it, then rename)."""
    if network.dtype != torch.float32 or network.device.type != "cpu":
        raise OnnxExportFailed("the ONNX graph is exported from the FP32 network on the CPU")
    # A copy: tracing leaves the detection head's anchor cache holding traced values.
    module = _for_export(network.replica().module).eval()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(handle)
    try:
        trace_to_onnx(module, landscape_sample(network, input_size), partial)
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
