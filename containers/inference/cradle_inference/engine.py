"""PoseEngine: a pose model loaded once, run over a stream of encoded images, one result each."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, Protocol

import torch

from cradle_inference.batching import Item
from cradle_inference.cpu_runner import CpuRunner
from cradle_inference.geometry import input_size_for
from cradle_inference.network import PoseNetwork, load_pose_network
from cradle_inference.weights import resolve_weights
from cradlepose.domain.inference import ImageResult, ModelSpec

# Measured on a 2-core CPU (containers/inference/README.md): one single-threaded lane per core.
# Batching saved no CPU time per image there, and one image per task keeps the lanes evenly
# loaded to the end of a stream.
DEFAULT_CPU_BATCH = 1
DEFAULT_CPU_THREADS_PER_LANE = 1
# For the GPU: enough images per forward to keep an H100 busy with a nano model at ~384x640.
DEFAULT_CUDA_BATCH = 64

Runtime = Literal["onnx", "torch"]
RUNTIMES: tuple[Runtime, ...] = ("onnx", "torch")
# Which runtime runs the CPU forward; ONNX Runtime unless set (measured faster: README).
RUNTIME_ENV = "CRADLE_INFERENCE_RUNTIME"
DEFAULT_CPU_RUNTIME: Runtime = "onnx"

log = logging.getLogger(__name__)
_fallbacks_logged: set[str] = set()


class _Runner(Protocol):
    def run(self, items: Iterable[Item]) -> Iterator[ImageResult]: ...


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # respects cpusets (containers), unlike cpu_count
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class PoseEngine:
    """Runs `spec`'s pose model on `device` ("cuda", "cpu"; default: CUDA when there is one).

    `predict` takes (image_id, key, encoded bytes) and yields one `ImageResult` per item, in
    input order, in original pixel coordinates and schema keypoint ids. An image that cannot be
    decoded yields `ok=False` with the reason; the others are unaffected.

    On the CPU the forward runs in ONNX Runtime (`runtime="onnx"`, the default; or
    $CRADLE_INFERENCE_RUNTIME) from a graph exported once per weights file, or in torch
    (`runtime="torch"`). Without onnxruntime, or when the export fails, torch runs and the reason
    is logged once. `runtime` says which one runs.
    """

    def __init__(
        self,
        spec: ModelSpec,
        device: str | None = None,
        batch_size: int | None = None,
        *,
        lanes: int | None = None,
        threads_per_lane: int | None = None,
        compile_mode: str | None = None,
        cudnn_autotune: bool = False,
        weights_cache: Path | None = None,
        runtime: str | None = None,
        onnx_cache: Path | None = None,
    ) -> None:
        self.spec = spec
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for, but torch sees no CUDA device")
        if self.device.type not in {"cuda", "cpu"}:
            raise ValueError(f"unsupported device {self.device}")
        if cudnn_autotune and self.device.type != "cuda":
            raise ValueError("cudnn_autotune is offered on CUDA only")
        if compile_mode and self.device.type != "cuda":
            # Measured here: inductor on CPU compiled for ~110 s and ran slower than eager.
            raise ValueError("compile_mode is offered on CUDA only")
        asked = _runtime_asked(runtime)
        if asked == "onnx" and runtime is not None and self.device.type != "cpu":
            raise ValueError("the ONNX Runtime engine is offered on the CPU only")
        weights = resolve_weights(spec.weights, cache_dir=weights_cache)
        network = load_pose_network(weights, self.device, half=self.device.type == "cuda")
        if len(spec.keypoint_map) != network.keypoint_count:
            raise ValueError(
                f"keypoint_map has {len(spec.keypoint_map)} entries, the model predicts "
                f"{network.keypoint_count} keypoints"
            )
        self.input_size = input_size_for(spec.input_size, network.stride)
        self._runner: _Runner
        self.runtime: Runtime = "torch"  # what runs the forward: torch, or ONNX Runtime on the CPU
        if self.device.type == "cuda":
            from cradle_inference.cuda_runner import CudaRunner  # noqa: PLC0415 - GPU hosts only

            self.batch_size = batch_size or DEFAULT_CUDA_BATCH
            self._runner = CudaRunner(
                network, spec, self.input_size, self.batch_size, compile_mode, cudnn_autotune=cudnn_autotune
            )
        else:
            self.batch_size = batch_size or DEFAULT_CPU_BATCH
            threads = threads_per_lane or DEFAULT_CPU_THREADS_PER_LANE
            session = None
            if asked == "onnx":
                session = _onnx_session_or_none(network, weights, self.input_size, threads, onnx_cache)
            self.runtime = "onnx" if session is not None else "torch"
            self._runner = CpuRunner(
                network,
                spec,
                self.input_size,
                self.batch_size,
                lanes=lanes or available_cores(),
                threads_per_lane=threads,
                onnx_session=session,
            )

    def predict(self, items: Iterable[Item]) -> Iterator[ImageResult]:
        return self._runner.run(items)


def _runtime_asked(runtime: str | None) -> Runtime:
    chosen = runtime or os.environ.get(RUNTIME_ENV) or DEFAULT_CPU_RUNTIME
    for known in RUNTIMES:
        if chosen == known:
            return known
    raise ValueError(f"runtime {chosen!r} is not one of {', '.join(RUNTIMES)}")


def _onnx_session_or_none(
    network: PoseNetwork, weights: Path, input_size: int, threads: int, cache: Path | None
) -> Any | None:
    """An ONNX Runtime session, or None (logged once per reason) when torch has to run instead."""
    try:
        from cradle_inference.onnx_export import onnx_session  # noqa: PLC0415

        return onnx_session(network, weights, input_size, intra_op_threads=threads, cache_dir=cache)
    except Exception as error:  # no onnxruntime, export or load failed: torch runs
        reason = f"{type(error).__name__}: {error}"
        if reason not in _fallbacks_logged:
            _fallbacks_logged.add(reason)
            log.warning("ONNX Runtime engine unavailable, running the torch engine: %s", reason)
        return None
