"""The GPU pipeline: a prefetch thread prepares the next chunk on its own CUDA stream while the
main thread runs the network on the current one.

    prefetch thread, prepare stream            main thread, default stream
    ─────────────────────────────────          ──────────────────────────────────────────────
    read chunk k+1 (the caller's iterator)      wait for chunk k's "ready" event
    nvJPEG batch decode (CPU for the rest,      FP16 forward of chunk k (queued, async)
      pinned memory, async upload)              build chunk k-1's results on the host while
    letterbox on the GPU into padded batches      the GPU computes
    record "ready" event                        NMS + rescale of chunk k on the GPU, one copy
                                                  to the host

Only small detection tensors come back to the host. Images arrive in input order and results
leave in input order.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import torch

from cradle_inference.batching import (
    FailedImage,
    Item,
    PreparedImage,
    bucket_size,
    chunked,
    group_by_shape,
)
from cradle_inference.decoding import BgrImage, ImageDecodeError, decode_bgr
from cradle_inference.detect import detections, forward, now, results_of, thresholds_of
from cradle_inference.geometry import bucketed, letterbox_geometry, shape_buckets
from cradle_inference.gpu_decoding import decode_jpegs_on_gpu, gpu_decodable
from cradle_inference.letterbox import letterbox_cuda, padded_batch_cuda
from cradle_inference.network import PoseNetwork
from cradle_inference.postprocess import DetectionRows
from cradle_inference.results import failed_result
from cradlepose.domain.inference import ImageResult, ModelSpec

PREFETCH_DEPTH = 2  # chunks prepared ahead of the one computing
CPU_DECODE_WORKERS = 4  # for what nvJPEG will not take (PNG, rotated JPEGs, ...)


@dataclass(frozen=True)
class _Batch:
    images: list[PreparedImage[None]]  # pixels live in `tensor` now
    tensor: torch.Tensor  # (batch, 3, H, W) in the network's dtype, channels-last


@dataclass(frozen=True)
class _Chunk:
    size: int
    batches: list[_Batch]
    failures: list[FailedImage]
    ready: torch.cuda.Event  # recorded on the prepare stream after the last letterbox


@dataclass(frozen=True)
class _Detected:
    chunk: _Chunk
    rows: list[list[DetectionRows]]  # per batch, per image


class _End:
    """Marks the end of the prefetched stream."""


class CudaRunner:
    def __init__(
        self,
        network: PoseNetwork,
        spec: ModelSpec,
        input_size: int,
        batch_size: int,
        compile_mode: str | None,
        *,
        cudnn_autotune: bool = False,
    ) -> None:
        self._network = network
        self._spec = spec
        self._input_size = input_size
        self._batch_size = batch_size
        self._thresholds = thresholds_of(spec)
        self._device = network.device
        self._prepare_stream = torch.cuda.Stream(device=self._device)  # type: ignore[no-untyped-call]
        # cuDNN autotuning times every convolution's algorithms once per new input shape. Measured
        # on an H200 (yolo11n-pose, 192 frames of 5 letterboxed shapes): ~4 s more per shape than
        # cuDNN's heuristics, for ~25% more images per second once every shape is tuned (340 vs
        # 269 img/s). Worth it only for streams of many thousand images, so off unless asked.
        # Batch buckets (bucket_size) keep the shapes few either way.
        torch.backends.cudnn.benchmark = cudnn_autotune
        # With autotuning, letterboxed shapes are padded further to a few fixed sides, so the
        # search runs once per bucket (at most nine shapes), not once per aspect ratio met.
        # Without it the exact Ultralytics shapes are kept: they agree with plain predict best.
        self._shape_buckets = shape_buckets(input_size, network.stride) if cudnn_autotune else None
        self._module: torch.nn.Module = network.module
        # Compiled graphs (CUDA graphs with mode="reduce-overhead") want one static shape: pad
        # every batch to batch_size. Off by default: not measured on a GPU yet.
        self._pad_batches = compile_mode is not None
        if compile_mode is not None:
            compiled: torch.nn.Module = torch.compile(network.module, mode=compile_mode, dynamic=False)  # type: ignore[assignment]
            self._module = compiled

    def run(self, items: Iterable[Item]) -> Iterator[ImageResult]:
        prefetched: queue.Queue[_Chunk | _End | BaseException] = queue.Queue(maxsize=PREFETCH_DEPTH)
        stop = threading.Event()
        producer = threading.Thread(
            target=self._produce, args=(items, prefetched, stop), name="cradle-prefetch", daemon=True
        )
        producer.start()
        try:
            yield from self._consume(prefetched)
        finally:
            stop.set()
            while producer.is_alive():  # unblock a producer waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    prefetched.get(timeout=0.1)
            producer.join()

    # -- main thread ---------------------------------------------------------------------------

    def _consume(self, prefetched: queue.Queue[_Chunk | _End | BaseException]) -> Iterator[ImageResult]:
        compute = torch.cuda.current_stream(self._device)
        pending: _Detected | None = None
        last_done = now()
        while not isinstance(message := prefetched.get(), _End):
            if isinstance(message, BaseException):
                raise message
            compute.wait_event(message.ready)
            raws = []
            for batch in message.batches:
                # The batch was allocated on the prepare stream: keep its memory from being reused
                # there until the forward queued here has read it.
                batch.tensor.record_stream(compute)
                raw = forward(self._module, batch.tensor)[: len(batch.images)]
                # A compiled module replaying a CUDA graph writes every call's output into one
                # static buffer, so the next batch's forward would overwrite this one before its
                # NMS ran: each batch keeps its own copy (a few MB, microseconds on the GPU).
                raws.append(raw.clone())
            if pending is not None:  # host-side work for the previous chunk, while the GPU runs
                results, last_done = self._results(pending, last_done)
                yield from results
            pending = _Detected(
                message,
                [
                    detections(self._network, raw, batch.images, self._thresholds)
                    for raw, batch in zip(raws, message.batches, strict=True)
                ],
            )
        if pending is not None:
            results, _ = self._results(pending, last_done)
            yield from results

    def _results(self, detected: _Detected, last_done: float) -> tuple[list[ImageResult], float]:
        """Results of a chunk in input order. Chunks overlap on the GPU, so an image's time is its
        share of the wall-clock between this chunk and the previous one finishing."""
        done = now()
        chunk = detected.chunk
        by_position: dict[int, ImageResult] = {}
        share = (done - last_done) / max(1, chunk.size)
        for batch, rows in zip(chunk.batches, detected.rows, strict=True):
            results = results_of(batch.images, rows, share * len(batch.images), self._spec)
            by_position.update(zip((image.position for image in batch.images), results, strict=True))
        for failure in chunk.failures:
            by_position[failure.position] = failed_result(
                failure.image_id, failure.key, failure.error, share, self._spec
            )
        return [by_position[position] for position in range(chunk.size)], done

    # -- prefetch thread -----------------------------------------------------------------------

    def _produce(
        self, items: Iterable[Item], out: queue.Queue[_Chunk | _End | BaseException], stop: threading.Event
    ) -> None:
        try:
            with (
                ThreadPoolExecutor(CPU_DECODE_WORKERS, thread_name_prefix="cradle-decode") as cpu_decoders,
                torch.cuda.stream(self._prepare_stream),
            ):
                for chunk in chunked(items, self._batch_size):
                    if stop.is_set():
                        return
                    out.put(self._prepare(chunk, cpu_decoders))
            out.put(_End())
        except BaseException as error:  # handed to the consumer, which raises it in the caller
            out.put(error)

    def _prepare(self, chunk: list[Item], cpu_decoders: ThreadPoolExecutor) -> _Chunk:
        # The header and structure checks run on the pool too: on an H100 this thread, not the
        # GPU, would otherwise set the pace.
        routes = list(cpu_decoders.map(gpu_decodable, (data for _, _, data in chunk)))
        on_gpu = [position for position, to_gpu in enumerate(routes) if to_gpu]
        gpu_positions = frozenset(on_gpu)
        # CPU decodes start first, so they run while nvJPEG works.
        on_cpu: dict[int, Future[BgrImage]] = {
            position: cpu_decoders.submit(decode_bgr, data)
            for position, (_, _, data) in enumerate(chunk)
            if position not in gpu_positions
        }
        decoded: dict[int, torch.Tensor] = {}
        gpu_images = decode_jpegs_on_gpu(
            [chunk[position][2] for position in on_gpu], self._device, self._prepare_stream
        )
        for position, image in zip(on_gpu, gpu_images, strict=True):
            if image is None:  # nvJPEG refused it: OpenCV gets a try, and words the error
                on_cpu[position] = cpu_decoders.submit(decode_bgr, chunk[position][2])
            else:
                decoded[position] = image
        failures: list[FailedImage] = []
        for position, future in sorted(on_cpu.items()):
            image_id, key, _ = chunk[position]
            try:
                bgr = future.result()
            except ImageDecodeError as error:
                failures.append(FailedImage(position, image_id, key, str(error), 0.0))
                continue
            # Pinned host memory makes the upload asynchronous on the prepare stream.
            uploaded = torch.from_numpy(bgr).pin_memory().to(self._device, non_blocking=True)
            decoded[position] = uploaded.permute(2, 0, 1).flip(0)  # HWC BGR -> CHW RGB
        batches = self._letterbox(chunk, decoded)
        ready = torch.cuda.Event()  # type: ignore[no-untyped-call]
        ready.record(self._prepare_stream)
        return _Chunk(size=len(chunk), batches=batches, failures=failures, ready=ready)

    def _letterbox(self, chunk: list[Item], decoded: dict[int, torch.Tensor]) -> list[_Batch]:
        pending: list[PreparedImage[torch.Tensor]] = []
        for position in sorted(decoded):
            pixels = decoded[position]
            geometry = letterbox_geometry(
                int(pixels.shape[1]), int(pixels.shape[2]), self._input_size, self._network.stride
            )
            if self._shape_buckets is not None:
                geometry = bucketed(geometry, self._shape_buckets)
            image_id, key, _ = chunk[position]
            pending.append(PreparedImage(position, image_id, key, geometry, pixels, 0.0))
        batches = []
        for group in group_by_shape(pending, self._batch_size):
            # Few distinct input shapes, so cuDNN autotunes each once (see bucket_size).
            size = self._batch_size if self._pad_batches else bucket_size(len(group), self._batch_size)
            tensor = padded_batch_cuda(size, group[0].geometry, self._network.dtype, self._device)
            for slot, image in enumerate(group):
                letterbox_cuda(image.pixels, image.geometry, tensor[slot])
            images = [
                PreparedImage(image.position, image.image_id, image.key, image.geometry, None, 0.0)
                for image in group
            ]
            batches.append(_Batch(images=images, tensor=tensor))
        return batches
