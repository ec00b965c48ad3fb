"""The GPU pipeline's control flow, run on the CPU: no GPU is lent to this project's checks.

CUDA streams, events and pinned memory are stubbed; everything else is the real code: the
prefetch thread, the nvJPEG-or-OpenCV routing (torchvision's decode_jpeg runs on the CPU
device), the torch letterbox, batched NMS, the overlap of one chunk's host work with the next
chunk's forward, and the reordering. It must give what the CPU engine gives. This says nothing
about speed or FP16 on a real GPU; the benchmark on an H100 does.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from cradle_inference.cuda_runner import CudaRunner
from cradle_inference.engine import PoseEngine
from cradle_inference.network import load_pose_network
from cradle_inference.weights import resolve_weights
from cradlepose.domain.inference import ModelSpec

pytestmark = pytest.mark.integration


def _rotated_jpeg(data: bytes) -> bytes:
    """The same picture stored sideways with EXIF orientation 6: upright only once decoded."""
    image = Image.open(io.BytesIO(data)).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.usefixtures("cpu_as_cuda")
@pytest.mark.parametrize("pad_batches", [False, True])
def test_gpu_pipeline_gives_what_the_cpu_engine_gives(
    pad_batches: bool,
    spec: ModelSpec,
    pose_engine: PoseEngine,
    sample_bytes: dict[str, bytes],
    corrupt_jpeg: bytes,
    png_bytes: bytes,
) -> None:
    network = load_pose_network(resolve_weights(spec.weights), torch.device("cpu"), half=False)
    runner = CudaRunner(network, spec, input_size=640, batch_size=2, compile_mode=None)
    runner._pad_batches = pad_batches  # what compile_mode turns on, without compiling
    items = [
        (1, "bus.jpg", sample_bytes["bus.jpg"]),
        (2, "corrupt.jpg", corrupt_jpeg),
        (3, "zidane.png", png_bytes),
        (4, "zidane.jpg", sample_bytes["zidane.jpg"]),
        (5, "bus-sideways.jpg", _rotated_jpeg(sample_bytes["bus.jpg"])),
        (6, "empty.jpg", b""),
        (7, "bus.jpg", sample_bytes["bus.jpg"]),
    ]

    results = list(runner.run(items))
    expected = list(pose_engine.predict(items))

    assert [r.image_id for r in results] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.ok for r in results] == [r.ok for r in expected] == [True, False, True, True, True, False, True]
    assert [r.error for r in results] == [r.error for r in expected]
    for ours, theirs in zip(results, expected, strict=True):
        assert (ours.width, ours.height) == (theirs.width, theirs.height)
        assert len(ours.persons) == len(theirs.persons)
        for a, b in zip(ours.persons, theirs.persons, strict=True):
            # torchvision's JPEG decoder and the torch letterbox (no uint8 rounding) differ a little
            # from OpenCV's pixels: boxes moved under half a pixel when this was written.
            assert np.allclose(a.box, b.box, atol=1.0)
            assert abs(a.score - b.score) < 0.01
    assert results[4].width == 810  # the sideways JPEG went through OpenCV and came out upright
    assert all(r.processing_time_ms >= 0 for r in results)


@pytest.mark.usefixtures("cpu_as_cuda")
def test_a_failing_input_stream_surfaces_in_the_caller(
    spec: ModelSpec, sample_bytes: dict[str, bytes]
) -> None:
    network = load_pose_network(resolve_weights(spec.weights), torch.device("cpu"), half=False)
    runner = CudaRunner(network, spec, input_size=640, batch_size=2, compile_mode=None)

    def items() -> Any:
        yield 1, "bus.jpg", sample_bytes["bus.jpg"]
        yield 2, "bus.jpg", sample_bytes["bus.jpg"]
        raise ConnectionError("S3 went away")

    with pytest.raises(ConnectionError, match="S3 went away"):
        list(runner.run(items()))
