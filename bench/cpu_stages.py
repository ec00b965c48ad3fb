"""Where the CPU engine's time goes, stage by stage, and what the alternatives tried for issue 21
cost against it, measured in the same run.

    PYTHONPATH=containers/inference:layers/core/python python -m bench.cpu_stages [--images N]
        [--rounds R]

On the images `bench/inference.py` generates (720p-1080p JPEGs), per image and on one thread
(CPU time of that thread, so other processes' load inflates it less than wall-clock time):

- decode: `decode_bgr` (OpenCV, full size), and OpenCV's reduced decode (`IMREAD_REDUCED_COLOR_2`
  where the longer side is at least twice the network input): libjpeg scales while decoding;
- letterbox: resize and pad to the network input;
- forward: the engine's ONNX Runtime session (graph optimisation ALL, one intra-op thread), the
  same graph at optimisation EXTENDED (no NCHWc layout), torch (the fused module, one thread),
  and OpenVINO (static shape per letterbox shape, FP32, one thread) when it is installed;
- post: NMS and mapping back (`detect.detections`).

Then each forward runtime over the images from one thread and from two threads at once: the CPU
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
from cradle_inference.detect import detections, forward, thresholds_of
from cradle_inference.geometry import LetterboxGeometry, input_size_for, letterbox_geometry
from cradle_inference.letterbox import letterbox_cpu, stack_cpu
from cradle_inference.network import PoseNetwork, load_pose_network
from cradle_inference.onnx_export import default_onnx_cache_dir, export_key, onnx_session
from cradle_inference.postprocess import KEYPOINTS_START, DetectionRows
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument(
        "--rounds", type=int, default=3, help="passes over the images, after one to warm up (default: 3)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    spec = ModelSpec()
    weights = resolve_weights(spec.weights)
    network = load_pose_network(weights, torch.device("cpu"), half=False)
    input_size = input_size_for(spec.input_size, network.stride)
    onnx_session(network, weights, input_size, intra_op_threads=1)  # exports the graph if not cached
    graph = str(default_onnx_cache_dir() / export_key(weights, input_size, ort.__version__).file_name())
    forwards: dict[str, Forward] = {
        "forward ONNX Runtime, optimisation ALL (the engine)": ort_forward(
            graph, ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        ),
        "forward ONNX Runtime, optimisation EXTENDED": ort_forward(
            graph, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        ),
        "forward torch, 1 thread": torch_forward(network),
    }
    if (openvino := openvino_forward(graph)) is not None:
        forwards["forward OpenVINO, static shape, FP32"] = openvino
    thresholds = thresholds_of(spec)

    with tempfile.TemporaryDirectory(prefix="cradle-stages-") as folder:
        encoded = [path.read_bytes() for path in write_images(Path(folder), args.images)]
    print(f"{device_name('cpu')}; {len(encoded)} JPEGs 720p-1080p, {args.rounds} passes")
    print(f"CPU pressure (PSI some avg60) before: {cpu_pressure()}")

    costs: dict[str, list[float]] = {}

    def note(stage: str, milliseconds: float) -> None:
        costs.setdefault(stage, []).append(milliseconds)

    letterboxed: list[Letterboxed] = []
    geometries: list[LetterboxGeometry] = []
    for round_index in range(args.rounds + 1):
        if round_index == 1:  # the first pass warms up (OpenVINO compiles per shape): not counted
            costs.clear()
        letterboxed.clear()
        geometries.clear()
        for data in encoded:
            note("decode, full size (decode_bgr)", thread_ms(partial(decode_bgr, data)))
            image = decode_bgr(data)
            full_size = (image.shape[0], image.shape[1])
            if max(full_size) >= 2 * input_size:
                note(
                    "decode, reduced by 2 (only images >= 2x input)",
                    thread_ms(partial(reduced_decode, data, full_size, input_size)),
                )
            geometry = letterbox_geometry(full_size[0], full_size[1], input_size, network.stride)
            note("letterbox", thread_ms(partial(letterbox_cpu, image, geometry)))
            pixels = letterbox_cpu(image, geometry)[None]
            for name, run in forwards.items():
                note(name, thread_ms(partial(run, pixels)))
            raw = forwards["forward ONNX Runtime, optimisation ALL (the engine)"](pixels)
            prepared = [PreparedImage(0, 0, "", geometry, pixels[0], 0.0)]
            note(
                "post: NMS, back to original pixels",
                thread_ms(partial(detections, network, raw, prepared, thresholds)),
            )
            letterboxed.append(pixels)
            geometries.append(geometry)

    engine_forward = "forward ONNX Runtime, optimisation ALL (the engine)"
    reference = statistics.mean(costs[engine_forward])
    print(f"\n{'stage (CPU ms per image, one thread)':<52} {'mean':>7} {'median':>7} {'vs engine fwd':>14}")
    for stage, values in costs.items():
        ratio = f"{statistics.mean(values) / reference:.2f}x" if stage.startswith("forward") else ""
        print(f"{stage:<52} {statistics.mean(values):>7.1f} {statistics.median(values):>7.1f} {ratio:>14}")

    print(f"\n{'forward, wall ms per image':<52} {'1 thread':>9} {'2 threads':>10} {'overlap':>8}")
    for name, run in forwards.items():
        alone, together = overlap(run, letterboxed)
        print(f"{name:<52} {alone:>9.1f} {together:>10.1f} {alone / together:>7.2f}x")

    distances: list[float] = []
    reduced_images = 0
    matched = reference_persons = 0
    engine_run = forwards[engine_forward]
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
    print(f"CPU pressure (PSI some avg60) after: {cpu_pressure()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
