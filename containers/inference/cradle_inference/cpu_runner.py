"""The CPU pipeline: several single-threaded lanes, each decoding, letterboxing and running its
own batches with its own copy of the network.

On a small CPU the network is what costs (yolo11n-pose at 384x640: 90-130 ms on one core of the
2-core test machine; decode and letterbox of a 1080p JPEG about 10 ms). Spreading one forward
over two cores with intra-op threads made it 1.35-1.5x faster there; two forwards side by side,
one thread each, gave about 1.75x, and degrade gently when other processes take a core, where
OpenMP's two-thread barriers collapse. So the engine runs `lanes` batches at once, one
intra-op thread each. Everything a lane does (OpenCV decode and resize, torch ops) releases the
GIL, so the lanes are true parallelism, and while one lane decodes, the other computes; a
separate decode pool would only move that work between threads of the same busy cores.

The forward itself runs either in torch (each lane borrows its own copy of the module) or in
ONNX Runtime (`onnx_export`): one session for all lanes, since `InferenceSession.run` is safe to
call from several threads at once and releases the GIL. The rest of the pipeline (decode,
letterbox, NMS, mapping back) is the same code for both, so they cannot drift apart; the only
difference is the channel order the letterbox leaves (the ONNX graph reads OpenCV's BGR). NMS
and mapping back run in numpy (`host_postprocess`), one image at a time: the GPU's batched torch
version cost several times more CPU here, its many small operations each meeting cold caches
after a forward.
"""

from __future__ import annotations

import queue
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from cradle_inference.batching import FailedImage, Item, PreparedImage, chunked, group_by_shape
from cradle_inference.decoding import ImageDecodeError, decode_bgr
from cradle_inference.detect import forward, now, results_of, thresholds_of
from cradle_inference.geometry import letterbox_geometry
from cradle_inference.host_postprocess import RawPredictions, host_detections
from cradle_inference.letterbox import RgbImage, letterbox_cpu, stack_cpu
from cradle_inference.network import PoseNetwork
from cradle_inference.results import failed_result
from cradlepose.domain.inference import ImageResult, ModelSpec


class CpuRunner:
    def __init__(
        self,
        network: PoseNetwork,
        spec: ModelSpec,
        input_size: int,
        batch_size: int,
        *,
        lanes: int,
        threads_per_lane: int,
        onnx_session: Any | None = None,
    ) -> None:
        self._spec = spec
        self._input_size = input_size
        self._batch_size = batch_size
        self._lanes = lanes
        self._threads_per_lane = threads_per_lane
        self._thresholds = thresholds_of(spec)
        self._stride = network.stride
        self._network = network  # what the post-processing reads: classes, end-to-end head
        self._onnx_session = onnx_session
        self._onnx_input = onnx_session.get_inputs()[0].name if onnx_session is not None else ""
        # A lane borrows a network for a batch and gives it back: never two threads on one copy.
        self._networks: queue.SimpleQueue[PoseNetwork] = queue.SimpleQueue()
        self._networks.put(network)
        for _ in range(0 if onnx_session is not None else lanes - 1):
            self._networks.put(network.replica())

    def run(self, items: Iterable[Item]) -> Iterator[ImageResult]:
        with ThreadPoolExecutor(
            max_workers=self._lanes,
            thread_name_prefix="cradle-lane",
            initializer=self._init_lane,
        ) as lanes:
            in_flight: deque[Future[list[ImageResult]]] = deque()
            for chunk in chunked(items, self._batch_size):
                in_flight.append(lanes.submit(self._process, chunk))
                # Two chunks per lane queued: a lane never waits for work, memory stays bounded.
                if len(in_flight) >= 2 * self._lanes:
                    yield from in_flight.popleft().result()
            while in_flight:
                yield from in_flight.popleft().result()

    def _init_lane(self) -> None:
        # OpenMP thread counts belong to the calling thread: each lane sets its own.
        torch.set_num_threads(self._threads_per_lane)

    def _process(self, chunk: list[Item]) -> list[ImageResult]:
        prepared: list[PreparedImage[RgbImage]] = []
        results: list[tuple[int, ImageResult]] = []
        for position, item in enumerate(chunk):
            outcome = self._prepare(position, item)
            if isinstance(outcome, FailedImage):
                results.append((position, self._failed(outcome)))
            else:
                prepared.append(outcome)
        for group in group_by_shape(prepared, self._batch_size):
            started = now()
            raw = self._forward([image.pixels for image in group])
            rows = host_detections(
                raw,
                [image.geometry for image in group],
                self._network.class_count,
                self._thresholds,
                self._network.end2end,
            )
            group_results = results_of(group, rows, now() - started, self._spec)
            results.extend(zip((image.position for image in group), group_results, strict=True))
        results.sort(key=lambda pair: pair[0])
        return [result for _, result in results]

    def _forward(self, pixels: list[RgbImage]) -> RawPredictions:
        if self._onnx_session is not None:
            # The graph transposes and scales the uint8 BGR images itself (onnx_export).
            batch = pixels[0][None] if len(pixels) == 1 else np.stack(pixels)
            (raw,) = self._onnx_session.run(None, {self._onnx_input: batch})
            return np.asarray(raw, dtype=np.float32)
        network = self._networks.get()
        try:
            return forward(network.module, stack_cpu(pixels, network.dtype)).float().numpy()
        finally:
            self._networks.put(network)

    def _failed(self, image: FailedImage) -> ImageResult:
        return failed_result(image.image_id, image.key, image.error, image.seconds, self._spec)

    def _prepare(self, position: int, item: Item) -> PreparedImage[RgbImage] | FailedImage:
        image_id, key, data = item
        started = now()
        try:
            image = decode_bgr(data)
        except ImageDecodeError as error:
            return FailedImage(position, image_id, key, str(error), now() - started)
        geometry = letterbox_geometry(image.shape[0], image.shape[1], self._input_size, self._stride)
        pixels = letterbox_cpu(image, geometry, rgb=self._onnx_session is None)
        return PreparedImage(position, image_id, key, geometry, pixels, now() - started)
