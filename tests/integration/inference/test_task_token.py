"""The container's command answers its task token itself (CRADLE_TASK_TOKEN), on every path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from cradle_inference import task_protocol
from cradle_inference.__main__ import main
from cradlepose.domain.inference import ChunkImage, ChunkManifest

pytestmark = pytest.mark.integration

TOKEN = "token-of-the-chunk"


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client(
        "stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setattr(task_protocol, "_stepfunctions_client", lambda: client)
    monkeypatch.setenv("CRADLE_TASK_TOKEN", TOKEN)
    with Stubber(client) as stub:
        yield stub


def _manifest(folder: Path) -> Path:
    manifest = ChunkManifest(
        batch_id=7,
        chunk_index=0,
        images=[ChunkImage(image_id=1, key="bus.jpg")],
        output_key="out/chunk-0.jsonl",
    )
    path = folder / "chunk-0.json"
    path.write_text(manifest.model_dump_json())
    return path


def _events(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_processed_chunk_answers_success_with_its_summary(
    tmp_path: Path, sample_bytes: dict[str, bytes], sfn: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bus.jpg").write_bytes(sample_bytes["bus.jpg"])
    sent: list[dict[str, Any]] = []
    sfn.add_response("send_task_success", {}, {"taskToken": TOKEN, "output": ANY})
    sfn.client.meta.events.register(
        "provide-client-params.stepfunctions.SendTaskSuccess", lambda params, **_: sent.append(params)
    )

    assert main(["--manifest", str(_manifest(tmp_path)), "--device", "cpu"]) == 0

    sfn.assert_no_pending_responses()
    output = json.loads(sent[0]["output"])
    assert (output["batch_id"], output["chunk_index"], output["ok"], output["failed_image_ids"]) == (
        7,
        0,
        1,
        [],
    )
    assert output["output_key"] == "out/chunk-0.jsonl"
    assert "failures" not in output
    assert _events(capsys)[-1]["event"] == "task_success_sent"


def test_an_unreadable_manifest_answers_failure(
    tmp_path: Path, sfn: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    sfn.add_response("send_task_failure", {}, {"taskToken": TOKEN, "error": "ValidationError", "cause": ANY})

    assert main(["--manifest", str(tmp_path / "broken.json")]) == 2

    sfn.assert_no_pending_responses()
    assert [e["event"] for e in _events(capsys)] == ["manifest_unreadable", "task_failure_sent"]


def test_an_unwritable_output_answers_failure(
    tmp_path: Path, sample_bytes: dict[str, bytes], sfn: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bus.jpg").write_bytes(sample_bytes["bus.jpg"])
    (tmp_path / "out").write_text("a file where the output folder should be")
    sfn.add_response("send_task_failure", {}, {"taskToken": TOKEN, "error": "OutputUnwritable", "cause": ANY})

    assert main(["--manifest", str(_manifest(tmp_path)), "--device", "cpu"]) == 3

    sfn.assert_no_pending_responses()
    assert _events(capsys)[-1]["event"] == "task_failure_sent"
