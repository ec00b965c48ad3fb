"""The CPU engine on ONNX Runtime: same answers as torch and plain predict, a cache keyed by the
weights' hash that rebuilds a corrupt file, and torch as the fallback."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch

from cradle_inference import engine as engine_module
from cradle_inference import onnx_export
from cradle_inference.decoding import decode_bgr
from cradle_inference.detect import forward
from cradle_inference.engine import RUNTIME_ENV, PoseEngine
from cradle_inference.geometry import letterbox_geometry
from cradle_inference.letterbox import letterbox_cpu, stack_cpu
from cradle_inference.network import PoseNetwork, load_pose_network
from cradle_inference.weights import resolve_weights
from cradlepose.domain.inference import ModelSpec
from tests.integration.inference.pose_agreement import (
    Persons,
    from_image_result,
    from_ultralytics,
    greedy_match,
    keypoint_distances,
)

pytestmark = pytest.mark.integration

SMALL = 320  # a small input keeps the forwards fast; the graph has dynamic height and width


@pytest.fixture(scope="session")
def small_spec() -> ModelSpec:
    return ModelSpec(input_size=SMALL)


@pytest.fixture(scope="session")
def onnx_engine(small_spec: ModelSpec) -> PoseEngine:
    return PoseEngine(small_spec, device="cpu", runtime="onnx")


@pytest.fixture(scope="session")
def torch_engine(small_spec: ModelSpec) -> PoseEngine:
    return PoseEngine(small_spec, device="cpu", runtime="torch")


@pytest.fixture(scope="session")
def weights() -> Path:
    return resolve_weights(ModelSpec().weights)


@pytest.fixture(scope="session")
def network(weights: Path) -> PoseNetwork:
    return load_pose_network(weights, torch.device("cpu"), half=False)


def _assert_agree(reference: Persons, ours: Persons, spec: ModelSpec) -> None:
    assert len(reference.boxes) > 0
    assert len(ours.boxes) == len(reference.boxes)  # no person lost, none added
    matches = greedy_match(reference, ours, min_iou=0.5)
    assert len(matches) == len(reference.boxes)
    assert min(iou for _, _, iou in matches) >= 0.95
    distances = keypoint_distances(reference, ours, matches, min_confidence=spec.visibility_threshold / 2)
    assert distances.size > 0
    assert float(np.median(distances)) <= 0.5


def test_the_cpu_engine_runs_onnx_runtime_by_default(pose_engine: PoseEngine) -> None:
    assert pose_engine.runtime == "onnx"


@pytest.mark.parametrize("name", ["bus.jpg", "zidane.jpg"])
def test_onnx_engine_agrees_with_the_torch_engine_and_plain_predict(
    name: str,
    onnx_engine: PoseEngine,
    torch_engine: PoseEngine,
    ultralytics_model: Any,
    small_spec: ModelSpec,
    sample_paths: dict[str, Path],
    sample_bytes: dict[str, bytes],
) -> None:
    assert (onnx_engine.runtime, torch_engine.runtime) == ("onnx", "torch")
    (ours,) = onnx_engine.predict([(1, name, sample_bytes[name])])
    (torch_result,) = torch_engine.predict([(1, name, sample_bytes[name])])
    plain = ultralytics_model.predict(
        str(sample_paths[name]),
        verbose=False,
        conf=small_spec.conf_threshold,
        iou=small_spec.iou_threshold,
        max_det=small_spec.max_detections,
        imgsz=small_spec.input_size,
        device="cpu",
    )[0]

    assert ours.ok
    assert torch_result.ok
    _assert_agree(from_image_result(torch_result), from_image_result(ours), small_spec)
    _assert_agree(from_ultralytics(plain), from_image_result(ours), small_spec)


def test_onnx_batches_give_the_single_image_answers(
    small_spec: ModelSpec, onnx_engine: PoseEngine, sample_bytes: dict[str, bytes]
) -> None:
    items = [
        (i, f"{i}.jpg", sample_bytes[name]) for i, name in enumerate(["bus.jpg", "bus.jpg", "zidane.jpg"])
    ]
    batched_engine = PoseEngine(small_spec, device="cpu", batch_size=3, runtime="onnx")

    batched = list(batched_engine.predict(items))
    single = list(onnx_engine.predict(items))

    assert batched_engine.runtime == "onnx"
    assert [r.image_id for r in batched] == [0, 1, 2]
    for ours, alone in zip(batched, single, strict=True):
        assert len(ours.persons) == len(alone.persons) > 0
        assert np.allclose([p.box for p in ours.persons], [p.box for p in alone.persons], atol=0.05)


def test_the_graph_reads_bgr_and_matches_the_torch_module(
    network: PoseNetwork, weights: Path, tmp_path: Path, sample_bytes: dict[str, bytes]
) -> None:
    """The export folds the channel order and 1/255 into the first convolution and writes the DFL
    as reductions: the same predictions as the torch module fed RGB in [0, 1]."""
    image = decode_bgr(sample_bytes["bus.jpg"])
    geometry = letterbox_geometry(image.shape[0], image.shape[1], SMALL, network.stride)
    session = _session(network, weights, tmp_path)

    (ours,) = session.run(
        None, {session.get_inputs()[0].name: letterbox_cpu(image, geometry, rgb=False)[None]}
    )
    expected = forward(network.module, stack_cpu([letterbox_cpu(image, geometry)], torch.float32)).numpy()

    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() < 0.01  # letterboxed pixels and sigmoid scores
    (graph_file,) = _graphs(tmp_path)
    nodes = onnx.load(str(graph_file)).graph.node
    assert not [node.name for node in nodes if node.op_type == "Softmax" and "dfl" in node.name]
    assert not [node.name for node in nodes if node.op_type == "ScatterND"]  # the head in export mode


# -- the cache ------------------------------------------------------------------------------------


class _CountingExport:
    def __init__(self) -> None:
        self.calls = 0
        self._export = onnx_export.export_onnx

    def __call__(self, network: PoseNetwork, input_size: int, target: Path) -> None:
        self.calls += 1
        self._export(network, input_size, target)


@pytest.fixture
def counting_export(monkeypatch: pytest.MonkeyPatch) -> _CountingExport:
    counter = _CountingExport()
    monkeypatch.setattr(onnx_export, "export_onnx", counter)
    return counter


def _session(network: PoseNetwork, weights: Path, cache: Path) -> Any:
    return onnx_export.onnx_session(network, weights, SMALL, intra_op_threads=1, cache_dir=cache)


def _graphs(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.onnx"))


def test_the_export_is_cached_by_the_weights_hash(
    network: PoseNetwork, weights: Path, tmp_path: Path, counting_export: _CountingExport
) -> None:
    cache = tmp_path / "cache"
    # Two weights files: the same bytes would share a graph, different bytes must not.
    first = tmp_path / "first.pt"
    shutil.copyfile(weights, first)
    second = tmp_path / "second.pt"
    second.write_bytes(weights.read_bytes() + b"\0")  # only the hash is read from this path

    _session(network, first, cache)
    _session(network, first, cache)
    assert counting_export.calls == 1
    (graph,) = _graphs(cache)
    assert onnx_export.weights_sha256(first) in graph.name

    _session(network, second, cache)
    assert counting_export.calls == 2
    assert len(_graphs(cache)) == 2
    assert any(onnx_export.weights_sha256(second) in path.name for path in _graphs(cache))
    assert not list(cache.glob(".*.part"))  # nothing half-written left behind


def test_a_corrupt_cache_file_is_exported_again(
    network: PoseNetwork, weights: Path, tmp_path: Path, counting_export: _CountingExport
) -> None:
    cache = tmp_path / "cache"
    _session(network, weights, cache)
    (graph,) = _graphs(cache)
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 3])  # a torn write

    session = _session(network, weights, cache)

    assert counting_export.calls == 2
    assert _graphs(cache) == [graph]
    outputs = session.run(None, {session.get_inputs()[0].name: np.zeros((1, 192, SMALL, 3), np.uint8)})
    assert outputs[0].shape[:2] == (1, 4 + network.class_count + 3 * network.keypoint_count)


def test_a_failed_export_leaves_no_file(
    network: PoseNetwork, weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_export(module: Any, args: Any, path: str, **kwargs: Any) -> None:
        Path(path).write_bytes(b"half a graph")
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(torch.onnx, "export", broken_export)
    cache = tmp_path / "cache"

    with pytest.raises(onnx_export.OnnxExportFailed, match="exporter crashed"):
        _session(network, weights, cache)
    assert list(cache.iterdir()) == []


# -- choosing the runtime, and the fallback -------------------------------------------------------


@pytest.fixture
def fresh_fallback_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "_fallbacks_logged", set())


@pytest.mark.usefixtures("fresh_fallback_log")
def test_without_onnxruntime_torch_runs_and_says_so_once(
    small_spec: ModelSpec, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed

    with caplog.at_level(logging.WARNING, logger=engine_module.__name__):
        engines = [PoseEngine(small_spec, device="cpu", runtime="onnx") for _ in range(2)]

    assert [engine.runtime for engine in engines] == ["torch", "torch"]
    warnings = [record for record in caplog.records if "running the torch engine" in record.getMessage()]
    assert len(warnings) == 1
    assert "onnxruntime" in warnings[0].getMessage()


@pytest.mark.usefixtures("fresh_fallback_log")
def test_a_failing_export_falls_back_to_torch_with_the_same_answers(
    small_spec: ModelSpec,
    torch_engine: PoseEngine,
    sample_bytes: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    def failing(network: PoseNetwork, input_size: int, target: Path) -> None:
        raise onnx_export.OnnxExportFailed("no exporter today")

    monkeypatch.setattr(onnx_export, "export_onnx", failing)

    fallback = PoseEngine(small_spec, device="cpu", runtime="onnx", onnx_cache=tmp_path)

    assert fallback.runtime == "torch"
    items = [(1, "zidane.jpg", sample_bytes["zidane.jpg"])]
    (ours,), (reference,) = list(fallback.predict(items)), list(torch_engine.predict(items))
    assert [p.box for p in ours.persons] == [p.box for p in reference.persons]


def test_the_runtime_setting_chooses_torch(small_spec: ModelSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUNTIME_ENV, "torch")
    assert PoseEngine(small_spec, device="cpu").runtime == "torch"


def test_unknown_runtimes_and_onnx_on_cuda_are_refused(
    small_spec: ModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="not one of onnx, torch"):
        PoseEngine(small_spec, device="cpu", runtime="tensorrt")
    monkeypatch.setenv(RUNTIME_ENV, "openvino")
    with pytest.raises(ValueError, match="not one of onnx, torch"):
        PoseEngine(small_spec, device="cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(ValueError, match="CPU only"):
        PoseEngine(small_spec, device="cuda", runtime="onnx")
