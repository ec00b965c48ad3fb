"""Fixtures for the inference engine tests: the model is loaded once per session.

Every test here also runs with the network refused: the engine must never download weights,
fonts or anything else, nor phone home, once its model is loaded.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Ultralytics probes DNS when first imported unless YOLO_OFFLINE is set: cradle_inference sets it,
# so it must be imported first (isort: split keeps it there).
import cradle_inference  # noqa: F401

# isort: split

import cv2
import numpy as np
import pytest
import torch
from ultralytics.models.yolo.model import YOLO
from ultralytics.utils import ASSETS

from cradle_inference.engine import RUNTIME_ENV, PoseEngine
from cradle_inference.onnx_export import CACHE_ENV as ONNX_CACHE_ENV
from cradle_inference.weights import resolve_weights
from cradlepose.domain.inference import ModelSpec

SAMPLES = ("bus.jpg", "zidane.jpg")


class _Stream:
    def wait_event(self, event: Any) -> None:
        pass

    def synchronize(self) -> None:
        pass


class _Event:
    def record(self, stream: Any = None) -> None:
        pass


@pytest.fixture
def cpu_as_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """CUDA streams, events and pinned memory stubbed, so the GPU pipeline runs on the CPU."""
    monkeypatch.setattr(torch.cuda, "Stream", lambda device=None: _Stream())
    monkeypatch.setattr(torch.cuda, "Event", _Event)
    monkeypatch.setattr(torch.cuda, "stream", lambda stream: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: _Stream())
    monkeypatch.setattr(torch.Tensor, "record_stream", lambda self, stream: None)
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: self)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", torch.backends.cudnn.benchmark)


class NetworkAttempt(AssertionError):
    """Code under test tried to reach the network."""


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise NetworkAttempt(f"network access attempted: {args!r}")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, _refuse)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)


@pytest.fixture(scope="session", autouse=True)
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Exported ONNX graphs go to a folder of this test session, not the user's cache, and the
    engine picks its default runtime whatever the shell running the tests has set."""
    folder = tmp_path_factory.mktemp("onnx-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ONNX_CACHE_ENV, str(folder))
        patch.delenv(RUNTIME_ENV, raising=False)
        yield folder


@pytest.fixture(scope="session")
def spec() -> ModelSpec:
    return ModelSpec()


@pytest.fixture(scope="session")
def pose_engine(spec: ModelSpec) -> PoseEngine:
    return PoseEngine(spec, device="cpu")


@pytest.fixture(scope="session")
def ultralytics_model(spec: ModelSpec) -> YOLO:
    return YOLO(str(resolve_weights(spec.weights)), task="pose")


@pytest.fixture(scope="session")
def sample_paths() -> dict[str, Path]:
    return {name: Path(ASSETS / name) for name in SAMPLES}


@pytest.fixture(scope="session")
def sample_bytes(sample_paths: dict[str, Path]) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in sample_paths.items()}


@pytest.fixture(scope="session")
def corrupt_jpeg(sample_bytes: dict[str, bytes]) -> bytes:
    """A JPEG header followed by noise: looks like a JPEG, decodes as nothing."""
    rng = np.random.default_rng(7)
    return sample_bytes["bus.jpg"][:600] + rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes()


@pytest.fixture(scope="session")
def pdf_named_jpg() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(scope="session")
def png_bytes(sample_paths: dict[str, Path]) -> bytes:
    image = cv2.imread(str(sample_paths["zidane.jpg"]))
    assert image is not None
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


@pytest.fixture
def moto_s3() -> Iterator[Any]:
    import boto3  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")
