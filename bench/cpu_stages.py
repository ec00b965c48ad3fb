"""Where the CPU engine's time goes, stage by stage, before and after issue 21's third round, and
what the alternatives tried for issue 21 cost against it, measured in the same run.

    PYTHONPATH=containers/inference:layers/core/python python -m bench.cpu_stages [--images N]
        [--rounds R] [--alternatives]

On the images `bench/inference.py` generates (720p-1080p JPEGs), per image and on one thread
(CPU time of that thread, so other processes' load inflates it less than wall-clock time), each
stage of a lane as it was before the third round and as it is now, taking turns image by image:

- letterbox: to RGB (before) and to BGR (now: the graph reads OpenCV's channel order);
- forward: the graph as exported before (RGB in, a division node, DFL as a transposed softmax)
  and the engine's graph now (`onnx_export`: scaling and channel order folded into the first
  convolution, DFL as reductions, the head in export mode), one ONNX Runtime thread each;
- post: NMS and mapping back in torch (`detect.detections`, before) and in numpy
  (`host_postprocess`, now), each timed right after its own forward, as a lane runs it (small
  operations meet cold caches after a forward, which is most of what they cost);
- results: the rows turned into the contract's `ImageResult`.

With `--alternatives`, the round-2 comparisons too:

- decode: `decode_bgr` (OpenCV, full size), and OpenCV's reduced decode (`IMREAD_REDUCED_COLOR_2`
  where the longer side is at least twice the network input): libjpeg scales while decoding;
- letterbox: resize and pad to the network input;
- forward: the engine's ONNX Runtime session (graph optimisation ALL, one intra-op thread), the
  same graph at optimisation EXTENDED (no NCHWc layout), torch (the fused module, one thread),
  and OpenVINO (static shape per letterbox shape, FP32, one thread) when it is installed;
- post: NMS and mapping back (`detect.detections`).

Then (with `--alternatives`) each forward runtime over the images from one thread and from two threads at once: the CPU
engine runs one lane per core, so a runtime whose two concurrent forwards do not overlap gains
nothing there, however fast one forward is. Last, what the reduced decode would do to the
answers: keypoint distance, in original pixels, between detections made from the full decode and
from the reduced one (persons matched by box IoU >= 0.5).
"""

from __future__ import annotations

import argparse
import importlib
import queue
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

# isort: split
from bench.inference import Person, cpu_pressure, device_name, match_persons, write_images

# isort: split

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import torch

from cradle_inference.batching import PreparedImage
from cradle_inference.decoding import decode_bgr
from cradle_inference.detect import detections, forward, head_output, thresholds_of
from cradle_inference.geometry import LetterboxGeometry, input_size_for, letterbox_geometry
from cradle_inference.host_postprocess import host_detections
from cradle_inference.letterbox import letterbox_cpu, stack_cpu
from cradle_inference.network import PoseNetwork, load_pose_network
from cradle_inference.onnx_export import (
    default_onnx_cache_dir,
    export_key,
    landscape_sample,
    onnx_session,
    trace_to_onnx,
)
from cradle_inference.postprocess import KEYPOINTS_START, DetectionRows
from cradle_inference.results import image_result
from cradle_inference.weights import resolve_weights
from cradlepose.domain.inference import ModelSpec

Letterboxed = npt.NDArray[np.uint8]  # (1, height, width, 3) RGB, what the ONNX graph takes
Forward = Callable[[Letterboxed], torch.Tensor]


def thread_ms(run: Callable[[], object]) -> float:
    started = time.thread_time()
    run()
    return 1000 * (time.thread_time() - started)


def reduced_decode(data: bytes, full_size: tuple[int, int], input_size: int) -> npt.NDArray[np.uint8] | None:
    """OpenCV's half-size JPEG decode when the full image is at least twice the input, else None."""
    if max(full_size) < 2 * input_size:
        return None
    return np.asarray(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_COLOR_2), np.uint8)


def ort_forward(path: str, level: Any) -> Forward:
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(pixels: Letterboxed) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {name: pixels})[0])

    return run


def openvino_forward(path: str) -> Forward | None:
    """OpenVINO on the same ONNX file, one model compiled per input shape (its dynamic-shape
    path measured slower here), FP32 (it would pick BF16 on CPUs with AMX), one thread."""
    try:
        openvino: Any = importlib.import_module("openvino")
    except ImportError:
        return None
    core = openvino.Core()
    compiled: dict[tuple[int, ...], Any] = {}

    def run(pixels: Letterboxed) -> torch.Tensor:
        if pixels.shape not in compiled:
            model = core.read_model(path)
            model.reshape({0: list(pixels.shape)})
            config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1, "NUM_STREAMS": 1}
            compiled[pixels.shape] = core.compile_model(model, "CPU", config)
        request = compiled[pixels.shape].create_infer_request()
        return torch.from_numpy(np.array(request.infer({0: pixels})[0]))

    return run


def torch_forward(network: PoseNetwork) -> Forward:
    """One copy of the module per concurrent caller, as the engine's lanes have: Ultralytics' head
    caches anchors per input shape on the module, so two threads cannot share one."""
    copies: queue.SimpleQueue[PoseNetwork] = queue.SimpleQueue()
    for copy in (network, network.replica()):
        copies.put(copy)

    def run(pixels: Letterboxed) -> torch.Tensor:
        copy = copies.get()
        try:
            return forward(copy.module, stack_cpu(list(pixels), copy.dtype))
        finally:
            copies.put(copy)

    return run


def persons_of(rows: DetectionRows) -> list[Person]:
    return [Person(box=row[:4], keypoints=row[KEYPOINTS_START:].reshape(-1, 3)) for row in rows]


def overlap(run: Forward, inputs: list[Letterboxed]) -> tuple[float, float]:
    """Wall-clock ms per forward from one thread, and from two threads at once."""
    started = time.perf_counter()
    for pixels in inputs:
        run(pixels)
    alone = (time.perf_counter() - started) / len(inputs)
    halves = [inputs[0::2], inputs[1::2]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        started = time.perf_counter()
        list(pool.map(lambda part: [run(pixels) for pixels in part], halves))
        together = (time.perf_counter() - started) / len(inputs)
    return 1000 * alone, 1000 * together


class _GraphBefore(torch.nn.Module):
    """The graph as exported before issue 21's third round: uint8 RGB in, scaled and transposed in
    the graph, the module (and its DFL softmax, its head's decode) traced as they are."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return head_output(self.module(images.permute(0, 3, 1, 2).float().div(255)))


def export_graph_before(network: PoseNetwork, input_size: int, target: Path) -> None:
    trace_to_onnx(
        _GraphBefore(network.replica().module).eval(), landscape_sample(network, input_size), target
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument(
        "--rounds", type=int, default=3, help="passes over the images, after one to warm up (default: 3)"
    )
    parser.add_argument("--alternatives", action="store_true", help="also the round-2 comparisons")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    spec = ModelSpec()
    weights = resolve_weights(spec.weights)
    network = load_pose_network(weights, torch.device("cpu"), half=False)
    input_size = input_size_for(spec.input_size, network.stride)
    onnx_session(network, weights, input_size, intra_op_threads=1)  # exports the graph if not cached
    graph = str(default_onnx_cache_dir() / export_key(weights, input_size, ort.__version__).file_name())
    thresholds = thresholds_of(spec)
    engine_before, engine_now = (
        "forward, graph before (RGB, /255 node, DFL softmax)",
        "forward, the engine's graph now",
    )

    with tempfile.TemporaryDirectory(prefix="cradle-stages-") as folder:
        encoded = [path.read_bytes() for path in write_images(Path(folder), args.images)]
        graph_before = str(Path(folder) / "before.onnx")
        export_graph_before(network, input_size, Path(graph_before))
        before = ort_forward(graph_before, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
        now = ort_forward(graph, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
        alternatives: dict[str, Forward] = {}
        if args.alternatives:
            alternatives = {
                "forward ONNX Runtime, optimisation EXTENDED (graph before)": ort_forward(
                    graph_before, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
                ),
                "forward torch, 1 thread": torch_forward(network),
            }
            if (openvino := openvino_forward(graph_before)) is not None:
                alternatives["forward OpenVINO, static shape, FP32 (graph before)"] = openvino
    print(f"{device_name('cpu')}; {len(encoded)} JPEGs 720p-1080p, {args.rounds} passes")
    print(f"CPU pressure (PSI some avg60) before: {cpu_pressure()}")

    costs: dict[str, list[float]] = {}

    def note(stage: str, milliseconds: float) -> None:
        costs.setdefault(stage, []).append(milliseconds)

    def timed_ms(run: Callable[[], object]) -> tuple[float, Any]:
        started = time.thread_time()
        out = run()
        return 1000 * (time.thread_time() - started), out

    def lane_before(image: npt.NDArray[np.uint8], geometry: LetterboxGeometry) -> DetectionRows:
        spent, pixels = timed_ms(partial(letterbox_cpu, image, geometry))
        note("letterbox, before (to RGB)", spent)
        spent, raw = timed_ms(partial(before, pixels[None]))
        note(engine_before, spent)
        prepared = [PreparedImage(0, 0, "", geometry, pixels, 0.0)]
        spent, rows = timed_ms(partial(detections, network, raw, prepared, thresholds))
        note("post, before: NMS + mapping back in torch", spent)
        spent, _ = timed_ms(partial(image_result, 0, "", geometry, rows[0], seconds=0.0, spec=spec))
        note("results (ImageResult), before", spent)
        return rows[0]

    def lane_now(image: npt.NDArray[np.uint8], geometry: LetterboxGeometry) -> DetectionRows:
        spent, pixels = timed_ms(partial(letterbox_cpu, image, geometry, rgb=False))
        note("letterbox, now (BGR)", spent)
        spent, raw = timed_ms(partial(now, pixels[None]))
        note(engine_now, spent)
        spent, rows = timed_ms(
            partial(
                host_detections, raw.numpy(), [geometry], network.class_count, thresholds, network.end2end
            )
        )
        note("post, now: NMS + mapping back in numpy", spent)
        spent, _ = timed_ms(partial(image_result, 0, "", geometry, rows[0], seconds=0.0, spec=spec))
        note("results (ImageResult), now", spent)
        return rows[0]

    letterboxed: list[Letterboxed] = []
    geometries: list[LetterboxGeometry] = []
    answers: list[tuple[DetectionRows, DetectionRows]] = []
    for round_index in range(args.rounds + 1):
        if round_index == 1:  # the first pass warms up (OpenVINO compiles per shape): not counted
            costs.clear()
        letterboxed.clear()
        geometries.clear()
        answers.clear()
        for index, data in enumerate(encoded):
            spent, image = timed_ms(partial(decode_bgr, data))
            note("decode (decode_bgr), the same before and now", spent)
            full_size = (image.shape[0], image.shape[1])
            geometry = letterbox_geometry(full_size[0], full_size[1], input_size, network.stride)
            # Taking turns, the order flipping image by image, so neither side always runs first.
            if (index + round_index) % 2:
                old_rows, new_rows = lane_before(image, geometry), lane_now(image, geometry)
            else:
                new_rows, old_rows = lane_now(image, geometry), lane_before(image, geometry)
            answers.append((old_rows, new_rows))
            if args.alternatives:
                if max(full_size) >= 2 * input_size:
                    note(
                        "decode, reduced by 2 (only images >= 2x input)",
                        thread_ms(partial(reduced_decode, data, full_size, input_size)),
                    )
                pixels = letterbox_cpu(image, geometry)[None]
                for name, run in alternatives.items():
                    note(name, thread_ms(partial(run, pixels)))
                letterboxed.append(pixels)
            geometries.append(geometry)

    totals = {"before": 0.0, "now": 0.0}
    print(f"\n{'stage (CPU ms per image, one thread)':<62} {'mean':>7} {'median':>7} {'vs before':>10}")
    decode_mean = statistics.mean(costs["decode (decode_bgr), the same before and now"])
    pairs = {
        "letterbox, now (BGR)": "letterbox, before (to RGB)",
        engine_now: engine_before,
        "post, now: NMS + mapping back in numpy": "post, before: NMS + mapping back in torch",
        "results (ImageResult), now": "results (ImageResult), before",
    }
    for stage, values in costs.items():
        mean = statistics.mean(values)
        ratio = ""
        if stage in pairs:
            ratio = f"{mean / statistics.mean(costs[pairs[stage]]):.2f}x"
            totals["now"] += mean
        elif stage in pairs.values():
            totals["before"] += mean
        elif stage.startswith("forward"):
            ratio = f"{mean / statistics.mean(costs[engine_before]):.2f}x"
        print(f"{stage:<62} {mean:>7.1f} {statistics.median(values):>7.1f} {ratio:>10}")
    before_total, now_total = decode_mean + totals["before"], decode_mean + totals["now"]
    print(
        f"{'a lane per image, decode to results: before':<62} {before_total:>7.1f}\n"
        f"{'a lane per image, decode to results: now':<62} {now_total:>7.1f} {'':>7} "
        f"{now_total / before_total:>9.2f}x"
    )

    distances: list[float] = []
    matched = reference_persons = 0
    for old_rows, new_rows in answers:
        old_persons, new_persons = persons_of(old_rows), persons_of(new_rows)
        reference_persons += len(old_persons)
        for i, j in match_persons(old_persons, new_persons):
            matched += 1
            labelled = old_persons[i].keypoints[:, 2] >= spec.visibility_threshold / 2
            difference = old_persons[i].keypoints[labelled, :2] - new_persons[j].keypoints[labelled, :2]
            distances.extend(np.linalg.norm(difference, axis=1).tolist())
    print(
        f"\nnow against before: {matched}/{reference_persons} persons matched ({sum(len(n) for _, n in answers)} "
        f"found now), keypoints moved by median {np.median(distances):.4f} px, max {np.max(distances):.4f} px"
    )
    if args.alternatives:
        print_alternatives(alternatives, letterboxed, encoded, geometries, network, input_size, spec, before)
    print(f"CPU pressure (PSI some avg60) after: {cpu_pressure()}")
    return 0


def print_alternatives(
    alternatives: dict[str, Forward],
    letterboxed: list[Letterboxed],
    encoded: list[bytes],
    geometries: list[LetterboxGeometry],
    network: PoseNetwork,
    input_size: int,
    spec: ModelSpec,
    engine_run: Forward,
) -> None:
    thresholds = thresholds_of(spec)
    print(f"\n{'forward, wall ms per image':<62} {'1 thread':>9} {'2 threads':>10} {'overlap':>8}")
    for name, run in {"forward, graph before": engine_run, **alternatives}.items():
        alone, together = overlap(run, letterboxed)
        print(f"{name:<62} {alone:>9.1f} {together:>10.1f} {alone / together:>7.2f}x")

    distances: list[float] = []
    reduced_images = 0
    matched = reference_persons = 0
    for data, geometry in zip(encoded, geometries, strict=True):
        small = reduced_decode(data, (geometry.height, geometry.width), input_size)
        if small is None:
            continue
        reduced_images += 1
        rows = [
            detections(network, engine_run(letterbox_cpu(image, geometry)[None]), [prepared], thresholds)[0]
            for image in (decode_bgr(data), small)
            for prepared in [PreparedImage(0, 0, "", geometry, np.zeros(0, np.uint8), 0.0)]
        ]
        full_persons, reduced_persons = persons_of(rows[0]), persons_of(rows[1])
        reference_persons += len(full_persons)
        for i, j in match_persons(full_persons, reduced_persons):
            matched += 1
            labelled = full_persons[i].keypoints[:, 2] >= spec.visibility_threshold / 2
            difference = full_persons[i].keypoints[labelled, :2] - reduced_persons[j].keypoints[labelled, :2]
            distances.extend(np.linalg.norm(difference, axis=1).tolist())
    if distances:
        print(
            f"\nreduced decode on {reduced_images} images: {matched}/{reference_persons} persons matched, "
            f"keypoints moved by median {np.median(distances):.2f} px, 95th percentile "
            f"{np.percentile(distances, 95):.2f} px, max {np.max(distances):.2f} px (original pixels)"
        )


if __name__ == "__main__":
    sys.exit(main())
