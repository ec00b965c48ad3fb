"""`python -m cradle_inference`: the container's command, on local manifests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cradle_inference.__main__ import main, parse_args
from cradlepose.domain.inference import ChunkImage, ChunkManifest, ImageResult

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]

# Runs the entry point with every socket refused: a network attempt anywhere, even one the code
# would swallow, is written to stderr and fails the test.
GUARDED_ENTRY = """
import runpy, socket, sys
def refuse(*args, **kwargs):
    sys.stderr.write(f"NETWORK ATTEMPT {args!r}\\n")
    raise OSError("network disabled in this test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.getaddrinfo = refuse
socket.create_connection = refuse
sys.argv = ["cradle_inference", *sys.argv[1:]]
runpy.run_module("cradle_inference", run_name="__main__", alter_sys=True)
"""


def _write_manifest(folder: Path, keys: list[str], **fields: object) -> Path:
    manifest = ChunkManifest(
        batch_id=7,
        chunk_index=0,
        images=[ChunkImage(image_id=i + 1, key=key) for i, key in enumerate(keys)],
        output_key="results/chunk-0.jsonl",
        **fields,
    )
    path = folder / "chunk-0.json"
    path.write_text(manifest.model_dump_json())
    return path


def test_the_container_command_processes_a_local_chunk(
    tmp_path: Path, sample_bytes: dict[str, bytes], pdf_named_jpg: bytes
) -> None:
    (tmp_path / "bus.jpg").write_bytes(sample_bytes["bus.jpg"])
    (tmp_path / "scan.jpg").write_bytes(pdf_named_jpg)
    manifest = _write_manifest(tmp_path, ["bus.jpg", "scan.jpg"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}  # the package sets them itself
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "containers" / "inference"), str(REPO / "layers" / "core" / "python"), str(REPO)]
    )
    env["YOLO_CONFIG_DIR"] = str(tmp_path / "ultralytics-config")

    completed = subprocess.run(
        [sys.executable, "-c", GUARDED_ENTRY, "--manifest", str(manifest), "--device", "cpu"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )

    assert "NETWORK ATTEMPT" not in completed.stderr
    assert completed.returncode == 0, completed.stderr
    logs = [json.loads(line) for line in completed.stdout.splitlines()]
    events = [log["event"] for log in logs]
    assert events == ["chunk_started", "engine_ready", "image_failed", "chunk_done"]
    assert all(log["service"] == "cradle-inference" and log["batch_id"] == 7 for log in logs[1:])
    assert logs[1]["runtime"] == "onnx"  # the CPU default, and it did not fall back to torch
    assert logs[-1]["ok"] == 1
    assert logs[-1]["failed"] == 1
    lines = (tmp_path / "results" / "chunk-0.jsonl").read_text().splitlines()
    results = [ImageResult.model_validate_json(line) for line in lines]
    assert [(r.key, r.ok) for r in results] == [("bus.jpg", True), ("scan.jpg", False)]


def test_an_unreadable_manifest_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.json").write_text("{not json")

    assert main(["--manifest", str(tmp_path / "broken.json")]) == 2
    assert main(["--manifest", str(tmp_path / "missing.json")]) == 2

    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [log["event"] for log in logs] == ["manifest_unreadable", "manifest_unreadable"]
    assert all(log["level"] == "ERROR" for log in logs)


def test_an_unwritable_output_exits_3(
    tmp_path: Path, sample_bytes: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bus.jpg").write_bytes(sample_bytes["bus.jpg"])
    (tmp_path / "results").write_text("a file where the output folder should be")
    manifest = _write_manifest(tmp_path, ["bus.jpg"])

    assert main(["--manifest", str(manifest), "--device", "cpu"]) == 3

    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert logs[-1]["event"] == "output_unwritable"


def test_the_runtime_option_takes_onnx_or_torch() -> None:
    assert parse_args(["--manifest", "m.json"]).runtime is None  # the engine's default decides
    assert parse_args(["--manifest", "m.json", "--runtime", "torch"]).runtime == "torch"
    with pytest.raises(SystemExit):
        parse_args(["--manifest", "m.json", "--runtime", "tensorrt"])
