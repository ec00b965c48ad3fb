"""The GPU engine's correctness rules, checked on the CPU (CUDA stubbed, see conftest.cpu_as_cuda).

- CUDA asked for and absent is an error, never a silent run on the CPU.
- Batches are padded to a few bucket sizes, so cuDNN meets few input shapes.
- cuDNN autotuning is off unless asked for (it cost seconds per new shape on an H200).
- Each batch's network output is its own: a compiled module replaying a CUDA graph writes every
  call's output into one static buffer.
- An FP16 network decodes boxes and keypoints in FP32.
"""

from __future__ import annotations

import statistics
from typing import Any

import pytest
import torch

from cradle_inference.batching import MIN_BUCKET, bucket_size
from cradle_inference.cuda_runner import CudaRunner
from cradle_inference.detect import head_output
from cradle_inference.engine import PoseEngine
from cradle_inference.network import PoseNetwork, load_pose_network
from cradle_inference.weights import resolve_weights
from cradlepose.domain.inference import ImageResult, ModelSpec

pytestmark = pytest.mark.integration

EDGE_PX = 2.0  # a box this close to the frame's left edge is a person cut by it
WHOLE_PERSON_SHIFT_PX = 4.0  # measured worst here 3.5 px on 1080p frames
FP16_STEP_FROM_512 = 0.5  # FP16 holds numbers in [512, 1024) in steps of 0.5


@pytest.fixture(scope="module")
def cpu_network(spec: ModelSpec) -> PoseNetwork:
    return load_pose_network(resolve_weights(spec.weights), torch.device("cpu"), half=False)


def _persons(results: list[ImageResult]) -> list[list[tuple[float, ...]]]:
    return [[tuple(person.box) for person in result.persons] for result in results]


def test_cuda_asked_for_without_cuda_is_an_error(spec: ModelSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a host where torch sees no GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    # When an engine is asked for CUDA, then it refuses rather than running on the CPU
    with pytest.raises(RuntimeError, match="torch sees no CUDA device"):
        PoseEngine(spec, device="cuda")
    # and GPU-only options are refused on the CPU
    with pytest.raises(ValueError, match="cudnn_autotune is offered on CUDA only"):
        PoseEngine(spec, device="cpu", cudnn_autotune=True)


def test_batch_sizes_are_padded_to_powers_of_two_from_the_smallest_bucket() -> None:
    assert MIN_BUCKET == 8
    assert [bucket_size(count, 64) for count in (1, 7, 8, 9, 16, 17, 33, 64)] == [8, 8, 8, 16, 16, 32, 64, 64]
    assert bucket_size(3, 48) == 8
    assert bucket_size(40, 48) == 48  # never past the batch size
    assert bucket_size(2, 2) == 2  # a batch size under the smallest bucket is the bucket
    with pytest.raises(ValueError, match="at least one image"):
        bucket_size(0, 64)


@pytest.mark.usefixtures("cpu_as_cuda")
def test_the_gpu_pipeline_forwards_bucketed_batches_with_autotuning_off(
    spec: ModelSpec, cpu_network: PoseNetwork, pose_engine: PoseEngine, sample_bytes: dict[str, bytes]
) -> None:
    # Given a runner with room for 16 images and a chunk of 3 portrait and 2 landscape frames
    runner = CudaRunner(cpu_network, spec, input_size=640, batch_size=16, compile_mode=None)
    shapes: list[tuple[int, ...]] = []
    hook = runner._module.register_forward_pre_hook(lambda module, args: shapes.append(tuple(args[0].shape)))
    bus, zidane = sample_bytes["bus.jpg"], sample_bytes["zidane.jpg"]
    items = [(1, "bus", bus), (2, "zidane", zidane), (3, "bus", bus), (4, "bus", bus), (5, "zidane", zidane)]

    # When it runs
    try:
        results = list(runner.run(items))
    finally:
        hook.remove()

    # Then cuDNN autotuning is off, each shape's group went through as one batch of the smallest
    # bucket, and the padding changed nothing in the results
    assert torch.backends.cudnn.benchmark is False
    assert sorted(shapes) == [(8, 3, 384, 640), (8, 3, 640, 480)]
    assert [result.image_id for result in results] == [1, 2, 3, 4, 5]
    expected = list(pose_engine.predict(items))
    assert [len(persons) for persons in _persons(results)] == [len(p) for p in _persons(expected)]


@pytest.mark.usefixtures("cpu_as_cuda")
def test_cudnn_autotuning_is_on_when_asked(spec: ModelSpec, cpu_network: PoseNetwork) -> None:
    CudaRunner(cpu_network, spec, input_size=640, batch_size=2, compile_mode=None, cudnn_autotune=True)

    assert torch.backends.cudnn.benchmark is True


@pytest.mark.usefixtures("cpu_as_cuda")
def test_with_autotuning_letterboxes_are_padded_to_shape_buckets(
    spec: ModelSpec, cpu_network: PoseNetwork, sample_bytes: dict[str, bytes]
) -> None:
    # Given an autotuning runner and a chunk of a 4:3 portrait and a 16:9 landscape frame
    runner = CudaRunner(
        cpu_network, spec, input_size=640, batch_size=8, compile_mode=None, cudnn_autotune=True
    )
    shapes: list[tuple[int, ...]] = []
    hook = runner._module.register_forward_pre_hook(lambda module, args: shapes.append(tuple(args[0].shape)))
    items = [(1, "bus", sample_bytes["bus.jpg"]), (2, "zidane", sample_bytes["zidane.jpg"])]

    # When it runs
    try:
        results = list(runner.run(items))
    finally:
        hook.remove()

    # Then the portrait's exact 640x480 input became the 640x512 bucket (384 is a bucket already)
    assert sorted(shapes) == [(8, 3, 384, 640), (8, 3, 640, 512)]
    # and the wider grey border lost no person and moved box corners by a pixel at the median in
    # the original frames. A person cut by the frame's edge can change more: the network sees
    # more grey next to it (measured: bus.jpg's half-visible man, 120 px on one side), which is
    # why buckets come only with autotuning, for long streams where speed matters more.
    exact = list(CudaRunner(cpu_network, spec, input_size=640, batch_size=8, compile_mode=None).run(items))
    shifts: list[float] = []
    for got, want in zip(_persons(results), _persons(exact), strict=True):
        assert len(got) == len(want)
        for box in got:  # each person's nearest counterpart found without the extra border
            nearest = min(want, key=lambda other: sum(abs(a - b) for a, b in zip(box, other, strict=True)))
            shifts.extend(abs(a - b) for a, b in zip(box, nearest, strict=True))
            if min(box[0], nearest[0]) > EDGE_PX:
                assert max(abs(a - b) for a, b in zip(box, nearest, strict=True)) <= WHOLE_PERSON_SHIFT_PX
    assert statistics.median(shifts) <= 1.0


class _OneOutputBuffer(torch.nn.Module):
    """Returns every output as a view of one storage, as a replayed CUDA graph does."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.storage = torch.empty(8_000_000)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        output = head_output(self.inner(batch))
        view = self.storage[: output.numel()].view(output.shape)
        return view.copy_(output)


@pytest.mark.usefixtures("cpu_as_cuda")
def test_each_batch_keeps_its_own_output_when_the_module_reuses_its_output_buffer(
    spec: ModelSpec, cpu_network: PoseNetwork, sample_bytes: dict[str, bytes]
) -> None:
    # Given a chunk whose two shapes make two batches, forwarded before either one's NMS runs
    bus, zidane = sample_bytes["bus.jpg"], sample_bytes["zidane.jpg"]
    items = [(1, "bus", bus), (2, "zidane", zidane), (3, "bus", bus), (4, "zidane", zidane)]
    plain = CudaRunner(cpu_network, spec, input_size=640, batch_size=4, compile_mode=None)
    reusing = CudaRunner(cpu_network, spec, input_size=640, batch_size=4, compile_mode=None)
    reusing._module = _OneOutputBuffer(cpu_network.module)

    # When a module that overwrites its previous output runs them
    results = list(reusing.run(items))

    # Then every image still gets its own detections
    expected = list(plain.run(items))
    assert _persons(results) == _persons(expected)
    assert all(result.persons for result in results)


def test_an_fp16_network_decodes_boxes_and_keypoints_in_fp32(spec: ModelSpec) -> None:
    # Given the FP16 network the GPU runs (FP16 convolutions run on the CPU too, slowly: a thin input)
    network = load_pose_network(resolve_weights(spec.weights), torch.device("cpu"), half=True)
    batch = torch.rand(1, 3, 64, 640).to(torch.float16).contiguous(memory_format=torch.channels_last)

    # When it runs
    with torch.inference_mode():
        predictions: Any = head_output(network.module(batch))

    # Then its decoded output is FP32, and keypoint x past 512 px falls between FP16's half pixels
    assert predictions.dtype == torch.float32
    keypoint_x = predictions[0, 4 + network.class_count :: 3].flatten()
    far_right = keypoint_x[keypoint_x >= 512]
    off_fp16_grid = torch.remainder(far_right, FP16_STEP_FROM_512) != 0
    assert far_right.numel() > 100
    assert off_fp16_grid.float().mean() > 0.9
    # and a replica (one per CPU lane) decodes with its own head, not the original's
    replica = network.replica()
    model: Any = replica.module
    head = model.model[-1]
    assert head._inference.__self__ is head
