"""Benchmark: Cradle's PoseEngine against plain Ultralytics, on the same images in one run.

    PYTHONPATH=containers/inference:layers/core/python python bench/inference.py [--images N]
        [--device cpu|cuda] [--batch-size B] [--warmup W] [--json OUT]

(a) plain Ultralytics `model.predict(path)`, one image at a time: the baseline. On a CPU,
    Ultralytics sets torch's intra-op threads itself, to min(8, cores - 1) (1 on 2 cores);
(a2) the same with torch's threads forced to every core: what intra-op threading alone gives;
(b) Ultralytics' own batching, `model.predict([paths], batch=B)` (FP16 on CUDA);
(c) Cradle's `PoseEngine.predict` with the torch runtime, fed the same files' bytes;
(d) on a CPU, the same engine with its forward in ONNX Runtime (the CPU default since issue 21).

Each mode sets its thread count right before it runs, since they share the process.

Every mode reads the JPEG files itself inside the timed region, and runs with the same
detection settings (those of the default ModelSpec). Agreement is measured against (a):
persons matched greedily by box IoU >= 0.5, then the pixel distance between matched persons'
labelled keypoints (those (a) gives a confidence of at least half the visibility threshold).

The images are generated at run time from the samples that ship with Ultralytics and
scikit-image (crops, flips, resizes to 720p-1080p, JPEG re-encoding), so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Ultralytics probes DNS when first imported unless YOLO_OFFLINE is set: cradle_inference sets it,
# so it must be imported first (isort: split keeps it there).
import cradle_inference  # noqa: F401

# isort: split

import cv2
import numpy as np
import skimage.data
import torch
from ultralytics.models.yolo.model import YOLO
from ultralytics.utils import ASSETS
from ultralytics.utils import NUM_THREADS as ULTRALYTICS_CPU_THREADS

from cradle_inference.engine import PoseEngine, available_cores
from cradle_inference.weights import resolve_weights
from cradlepose.domain.inference import ModelSpec

IOU_MATCH = 0.5
LANDSCAPE = ((1280, 720), (1920, 1080), (1440, 1080))
PORTRAIT = ((1080, 1440), (1080, 1920))
SQUARE = ((1080, 1080), (1440, 1080))


@dataclass
class Person:
    box: np.ndarray  # x1, y1, x2, y2
    keypoints: np.ndarray  # (K, 3): x, y, confidence


@dataclass
class ModeFigures:
    name: str
    description: str
    seconds: float
    images: int
    images_per_second: float
    cpu_ms_per_image: float  # CPU time of the whole process (every thread) per image
    cores_busy: float  # CPU time / wall time: how many cores the mode kept busy
    ratio_to_baseline: float = 1.0
    failed_images: int = 0
    persons: int = 0
    persons_in_baseline: int = 0
    persons_matched: int = 0
    keypoints_compared: int = 0
    keypoint_median_px: float | None = None
    keypoint_p95_px: float | None = None
    keypoint_max_px: float | None = None


@dataclass
class Report:
    device: str
    cpu_pressure: dict[str, str]  # Linux PSI "some avg60" before the run (others' load) and after
    device_name: str
    torch_threads_ultralytics: int
    engine_batch_size: int
    onnx_runtime: str  # what (d) ran: "onnx", or "torch" when ONNX Runtime was unavailable
    ultralytics_batch_size: int
    images: int
    warmup: int
    rounds: int
    command: str
    spec: dict[str, object]
    modes: list[ModeFigures] = field(default_factory=list)


# -- images ---------------------------------------------------------------------------------------


def sample_images() -> list[np.ndarray]:
    """BGR samples: Ultralytics' bus and zidane, scikit-image's astronaut, cameraman, coffee, rocket."""
    data: Any = skimage.data  # untyped
    samples: list[np.ndarray] = [
        np.asarray(cv2.imread(str(ASSETS / name))) for name in ("bus.jpg", "zidane.jpg")
    ]
    samples.append(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    samples.append(cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR))
    samples.append(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    samples.append(cv2.cvtColor(data.rocket(), cv2.COLOR_RGB2BGR))
    return samples


def variant(source: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A crop of `source` resized to a 720p-1080p frame of its orientation, maybe mirrored,
    and a JPEG quality to encode it with."""
    height, width = source.shape[:2]
    targets = LANDSCAPE if width > height * 1.1 else PORTRAIT if height > width * 1.1 else SQUARE
    out_w, out_h = targets[int(rng.integers(len(targets)))]
    # The largest crop of the target's aspect ratio, shrunk by up to 20%, anywhere in the source.
    crop_w = min(width, round(height * out_w / out_h))
    crop_h = min(height, round(width * out_h / out_w))
    shrink = rng.uniform(0.8, 1.0)
    crop_w, crop_h = max(32, round(crop_w * shrink)), max(32, round(crop_h * shrink))
    x0 = int(rng.integers(0, width - crop_w + 1))
    y0 = int(rng.integers(0, height - crop_h + 1))
    frame = cv2.resize(
        source[y0 : y0 + crop_h, x0 : x0 + crop_w], (out_w, out_h), interpolation=cv2.INTER_LINEAR
    )
    if rng.random() < 0.5:
        frame = cv2.flip(frame, 1)
    return frame, int(rng.integers(80, 96))


def write_images(folder: Path, count: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    samples = sample_images()
    paths = []
    for index in range(count):
        frame, quality = variant(samples[index % len(samples)], rng)
        path = folder / f"frame_{index:05d}.jpg"
        if not cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, quality]):
            raise OSError(f"could not write {path}")
        paths.append(path)
    return paths


# -- the three modes ------------------------------------------------------------------------------


def ultralytics_persons(result: object) -> list[Person]:
    boxes = result.boxes  # type: ignore[attr-defined]
    keypoints = result.keypoints  # type: ignore[attr-defined]
    if boxes is None or len(boxes) == 0:
        return []
    xyxy = boxes.xyxy.float().cpu().numpy()
    kpts = keypoints.data.float().cpu().numpy()
    return [Person(box=xyxy[i], keypoints=kpts[i]) for i in range(len(xyxy))]


def run_plain(model: YOLO, paths: list[Path], predict_args: dict[str, Any]) -> list[list[Person] | None]:
    out: list[list[Person] | None] = []
    for path in paths:
        results: Any = model.predict(str(path), verbose=False, **predict_args)
        out.append(ultralytics_persons(results[0]))
    return out


def run_batched(
    model: YOLO, paths: list[Path], predict_args: dict[str, Any], batch: int, half: bool
) -> list[list[Person] | None]:
    # quantize=16 is Ultralytics 8.4's name for half=True (which it still accepts, with a warning).
    precision = {"quantize": 16} if half else {}
    stream = model.predict(
        [str(path) for path in paths], batch=batch, stream=True, verbose=False, **precision, **predict_args
    )
    return [ultralytics_persons(result) for result in stream]


def run_engine(engine: PoseEngine, paths: list[Path]) -> list[list[Person] | None]:
    def items() -> Iterator[tuple[int, str, bytes]]:
        for index, path in enumerate(paths):
            yield index, path.name, path.read_bytes()

    out: list[list[Person] | None] = []
    for result in engine.predict(items()):
        if not result.ok:
            out.append(None)
            continue
        out.append(
            [
                Person(
                    box=np.asarray(person.box, dtype=np.float32),
                    keypoints=np.asarray(
                        [
                            [kp.x, kp.y, kp.confidence]
                            for kp in sorted(person.keypoints, key=lambda kp: kp.id)
                        ],
                        dtype=np.float32,
                    ),
                )
                for person in result.persons
            ]
        )
    return out


Runner = Callable[[list[Path]], list[list[Person] | None]]


def timed(run: Runner, paths: list[Path], cuda: bool) -> tuple[float, float, list[list[Person] | None]]:
    """Wall-clock seconds, CPU seconds of this process (all threads), and the persons found."""
    if cuda:
        torch.cuda.synchronize()
    started, cpu_started = time.perf_counter(), time.process_time()
    out = run(paths)
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - started, time.process_time() - cpu_started, out


# -- agreement ------------------------------------------------------------------------------------


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def match_persons(reference: list[Person], other: list[Person]) -> list[tuple[int, int]]:
    """Greedy matching by IoU, best pairs first, each person used once, IoU >= IOU_MATCH."""
    pairs = sorted(
        ((box_iou(r.box, o.box), i, j) for i, r in enumerate(reference) for j, o in enumerate(other)),
        reverse=True,
    )
    used_r: set[int] = set()
    used_o: set[int] = set()
    matched = []
    for iou, i, j in pairs:
        if iou < IOU_MATCH:
            break
        if i not in used_r and j not in used_o:
            used_r.add(i)
            used_o.add(j)
            matched.append((i, j))
    return matched


def agreement(
    figures: ModeFigures,
    reference: list[list[Person] | None],
    other: list[list[Person] | None],
    labelled_confidence: float,
) -> None:
    distances: list[float] = []
    for ref_persons, other_persons in zip(reference, other, strict=True):
        if other_persons is None:
            figures.failed_images += 1
            continue
        figures.persons += len(other_persons)
        if ref_persons is None:
            continue
        figures.persons_in_baseline += len(ref_persons)
        for i, j in match_persons(ref_persons, other_persons):
            figures.persons_matched += 1
            ref_kp, other_kp = ref_persons[i].keypoints, other_persons[j].keypoints
            labelled = ref_kp[:, 2] >= labelled_confidence
            distances.extend(np.linalg.norm(ref_kp[labelled, :2] - other_kp[labelled, :2], axis=1).tolist())
    figures.keypoints_compared = len(distances)
    if distances:
        figures.keypoint_median_px = float(np.median(distances))
        figures.keypoint_p95_px = float(np.percentile(distances, 95))
        figures.keypoint_max_px = float(np.max(distances))


# -- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu"
    )
    parser.add_argument("--images", type=int, help="default: 48 on CPU, 1024 on CUDA")
    parser.add_argument(
        "--batch-size",
        type=int,
        help="engine and Ultralytics batch (default: the engine's; at least 8 for (b))",
    )
    parser.add_argument(
        "--warmup", type=int, help="images each mode runs untimed first (default: 8 CPU, 64 CUDA)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--rounds", type=int, default=3, help="slices the modes take turns on (default: 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--modes", help="comma-separated modes to run, e.g. a,c,d (default: all; (a) always runs)"
    )
    return parser.parse_args(argv)


def cpu_pressure() -> str:
    """Share of the last minute in which runnable threads waited for a CPU (Linux PSI), or "n/a".

    The figures below are only comparable between runs made on an otherwise idle machine.
    """
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return "n/a"
    fields = dict(item.split("=") for item in some.split()[1:])
    return f"{fields.get('avg60', '?')}%"


def device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {available_cores()} cores"


def print_report(report: Report) -> None:
    print(
        f"device: {report.device} ({report.device_name}); {report.images} JPEG images 720p-1080p, "
        f"warmup {report.warmup} per mode, modes taking turns over {report.rounds} slices"
    )
    print(
        f"model {report.spec['name']} imgsz {report.spec['input_size']} conf {report.spec['conf_threshold']} "
        f"iou {report.spec['iou_threshold']} max_det {report.spec['max_detections']}; "
        f"torch threads: Ultralytics' own choice {report.torch_threads_ultralytics}; the engine: one per lane"
        + (f"; (d) ran {report.onnx_runtime}" if report.onnx_runtime else "")
    )
    print(
        f"CPU pressure (PSI some avg60): {report.cpu_pressure['before']} before the run (others' load), "
        f"{report.cpu_pressure['after']} after (this run's own threads included)"
    )
    print("baseline (a): plain Ultralytics model.predict(path), one image at a time")
    header = (
        f"{'mode':<54} {'img/s':>7} {'vs (a)':>7} {'CPU ms/img':>10} {'cores':>6} "
        f"{'persons':>8} {'matched':>8} {'kp median px':>13} {'kp p95 px':>10} {'failed':>7}"
    )
    print(header)
    print("-" * len(header))
    for mode in report.modes:
        median = "-" if mode.keypoint_median_px is None else f"{mode.keypoint_median_px:.3f}"
        p95 = "-" if mode.keypoint_p95_px is None else f"{mode.keypoint_p95_px:.3f}"
        print(
            f"{mode.name + ' ' + mode.description:<54} {mode.images_per_second:>7.2f} "
            f"{mode.ratio_to_baseline:>6.2f}x {mode.cpu_ms_per_image:>10.0f} {mode.cores_busy:>6.2f} "
            f"{mode.persons:>8} "
            f"{mode.persons_matched:>4}/{mode.persons_in_baseline:<3} {median:>13} {p95:>10} "
            f"{mode.failed_images:>7}"
        )
    by_name = {mode.name: mode for mode in report.modes}
    if "(a2)" in by_name and "(c)" in by_name:
        ratio = by_name["(c)"].images_per_second / by_name["(a2)"].images_per_second
        print(f"(c) against (a2), Ultralytics on every core: {ratio:.2f}x")
    if "(d)" in by_name and "(c)" in by_name:
        onnx, torch_engine = by_name["(d)"], by_name["(c)"]
        print(
            f"(d) ONNX Runtime engine: {onnx.ratio_to_baseline:.2f}x plain predict (a), "
            f"{onnx.images_per_second / torch_engine.images_per_second:.2f}x the torch engine (c)"
        )


def measure(
    modes: list[tuple[str, str, Runner]], paths: list[Path], warm_paths: list[Path], rounds: int, cuda: bool
) -> tuple[list[ModeFigures], list[list[list[Person] | None]]]:
    """Each mode over all `paths`, in `rounds` slices taken in turn, the mode order rotating each
    round: on a shared machine, load that comes and goes then weighs on every mode alike."""
    for _, _, run in modes:
        if warm_paths:
            run(warm_paths)
    slices = [list(part) for part in np.array_split(np.asarray(paths, dtype=object), rounds) if len(part)]
    wall = [0.0] * len(modes)
    cpu = [0.0] * len(modes)
    outputs: list[list[list[Person] | None]] = [[] for _ in modes]
    for round_index, part in enumerate(slices):
        for shift in range(len(modes)):
            index = (round_index + shift) % len(modes)
            seconds, cpu_seconds, out = timed(modes[index][2], part, cuda)
            wall[index] += seconds
            cpu[index] += cpu_seconds
            outputs[index].extend(out)
    figures = [
        ModeFigures(
            name=name,
            description=description,
            seconds=wall[index],
            images=len(paths),
            images_per_second=len(paths) / wall[index],
            cpu_ms_per_image=1000 * cpu[index] / len(paths),
            cores_busy=cpu[index] / wall[index],
        )
        for index, (name, description, _) in enumerate(modes)
    ]
    return figures, outputs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cuda = args.device == "cuda"
    count = args.images or (1024 if cuda else 48)
    warmup = args.warmup if args.warmup is not None else (64 if cuda else 8)
    spec = ModelSpec()
    cores = available_cores()
    # What Ultralytics' select_device sets for CPU inference, whatever was set before.
    ultralytics_threads = ULTRALYTICS_CPU_THREADS if not cuda else torch.get_num_threads()

    engine = PoseEngine(spec, device=args.device, batch_size=args.batch_size, runtime="torch")
    onnx_engine = (
        None if cuda else PoseEngine(spec, device=args.device, batch_size=args.batch_size, runtime="onnx")
    )
    # Ultralytics' batching gets a batch worth having even where the engine's default is small.
    ultralytics_batch = args.batch_size or max(engine.batch_size, 8)
    weights = str(resolve_weights(spec.weights))
    plain_model, all_cores_model, batched_model = (YOLO(weights, task="pose") for _ in range(3))
    predict_args: dict[str, Any] = {
        "conf": spec.conf_threshold,
        "iou": spec.iou_threshold,
        "max_det": spec.max_detections,
        "imgsz": spec.input_size,
        "device": 0 if cuda else "cpu",
    }

    def with_threads(threads: int, run: Runner) -> Runner:
        def threaded(paths: list[Path]) -> list[list[Person] | None]:
            torch.set_num_threads(threads)
            return run(paths)

        return threaded

    modes: list[tuple[str, str, Runner]] = [
        (
            "(a)",
            f"ultralytics predict, 1 image per call, {ultralytics_threads} thr",
            with_threads(ultralytics_threads, lambda p: run_plain(plain_model, p, predict_args)),
        ),
        (
            "(b)",
            f"ultralytics predict, list, batch={ultralytics_batch}" + (", half" if cuda else ""),
            with_threads(
                ultralytics_threads,
                lambda p: run_batched(batched_model, p, predict_args, ultralytics_batch, half=cuda),
            ),
        ),
        ("(c)", f"Cradle PoseEngine torch, batch={engine.batch_size}", lambda p: run_engine(engine, p)),
    ]
    if onnx_engine is not None:
        modes.append(
            (
                "(d)",
                f"Cradle PoseEngine ONNX Runtime, batch={onnx_engine.batch_size}",
                lambda p: run_engine(onnx_engine, p),
            )
        )
    if not cuda and cores > ultralytics_threads:
        modes.insert(
            1,
            (
                "(a2)",
                f"ultralytics predict, 1 image per call, {cores} thr",
                with_threads(cores, lambda p: run_plain(all_cores_model, p, predict_args)),
            ),
        )
    if args.modes:
        wanted = {f"({name.strip()})" for name in args.modes.split(",")} | {"(a)"}
        modes = [mode for mode in modes if mode[0] in wanted]
    report = Report(
        device=args.device,
        cpu_pressure={"before": cpu_pressure()},
        device_name=device_name(args.device),
        torch_threads_ultralytics=ultralytics_threads,
        engine_batch_size=engine.batch_size,
        onnx_runtime=onnx_engine.runtime if onnx_engine is not None else "",
        ultralytics_batch_size=ultralytics_batch,
        images=count,
        warmup=warmup,
        rounds=args.rounds,
        command="python bench/inference.py " + " ".join(sys.argv[1:] if argv is None else argv),
        spec=spec.model_dump(),
    )
    with tempfile.TemporaryDirectory(prefix="cradle-bench-") as folder:
        paths = write_images(Path(folder), count, args.seed)
        (Path(folder) / "warm").mkdir()
        warm_paths = write_images(Path(folder) / "warm", warmup, args.seed + 1)
        report.modes, outputs = measure(modes, paths, warm_paths, args.rounds, cuda)
    report.cpu_pressure["after"] = cpu_pressure()
    baseline = report.modes[0]
    for figures, out in zip(report.modes, outputs, strict=True):
        figures.ratio_to_baseline = figures.images_per_second / baseline.images_per_second
        agreement(figures, outputs[0], out, spec.visibility_threshold / 2)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
