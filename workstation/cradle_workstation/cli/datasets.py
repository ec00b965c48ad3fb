"""`cradle datasets|export|import|collections|models|evaluate|jobs`: verified data out, data in, models.

Every command talks to the API over HTTP with the profile's token, as the other remote commands
do; ZIPs go to and from S3 directly through the presigned URLs the API hands out. Long work (a
collection being packed, an import, a training or evaluation job) is waited for with `--wait`
(the default), polling the API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.table import Table

from cradle_workstation.cli.client import ApiError, CradleClient
from cradle_workstation.cli.common import console, err_console
from cradle_workstation.cli.remote import ConfigDir, ProfileOption, api

datasets_app = typer.Typer(help="Datasets of verified images with fixed splits, and the catalogue.")
collections_app = typer.Typer(help="Collections: a query's images packed as a ZIP to download.")
models_app = typer.Typer(help="Pose models: registry, training, evaluation metrics, promotion.")
jobs_app = typer.Typer(help="Training and inference jobs.")

FORMATS = {"coco": "COCO_KEYPOINTS", "yolo": "YOLO_POSE"}
COLLECTION_DONE = ("READY", "FAILED", "EXPIRED")
IMPORT_DONE = ("COMPLETED", "FAILED")
JOB_DONE = ("COMPLETED", "FAILED", "CANCELLED")
WaitOption = typer.Option(True, help="wait until the work is done (polling the API)")
PollOption = typer.Option(2.0, "--poll", help="seconds between two looks at the API")
TimeoutOption = typer.Option(3600.0, "--timeout", help="give up waiting after this many seconds")


def s3_http() -> httpx.Client:
    """How the CLI reaches S3's presigned URLs (tests put their own transport here)."""
    return httpx.Client(timeout=httpx.Timeout(60.0, write=600.0))


class WaitTimedOut(Exception):
    pass


def wait_until(
    fetch: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    *,
    poll_s: float,
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Fetch until `done` says so; WaitTimedOut after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        current = fetch()
        if done(current):
            return current
        if time.monotonic() > deadline:
            raise WaitTimedOut(f"still not done after {timeout_s:g} s")
        sleep(poll_s)


def download(url: str, target: Path, http: httpx.Client | None = None) -> int:
    """Stream a presigned GET to `target` (through a .part file); returns the bytes written."""
    client = http or s3_http()
    partial = target.with_name(f".{target.name}.part")
    written = 0
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 300:
                raise RuntimeError(f"S3 answered {response.status_code} to the download")
            with partial.open("wb") as sink:
                for chunk in response.iter_bytes(1024 * 1024):
                    sink.write(chunk)
                    written += len(chunk)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
        if http is None:
            client.close()
    return written


def upload_with_form(form: dict[str, Any], source: Path, http: httpx.Client | None = None) -> None:
    """POST a file to S3 with a presigned form."""
    client = http or s3_http()
    try:
        with source.open("rb") as handle:
            response = client.post(
                form["url"],
                data=form["fields"],
                files={"file": (source.name, handle, form["fields"].get("Content-Type"))},
            )
    finally:
        if http is None:
            client.close()
    if response.status_code >= 300:
        raise RuntimeError(f"S3 refused the upload ({response.status_code}): {response.text[:300]}")


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/] {message}")
    return typer.Exit(1)


def _format(name: str) -> str:
    try:
        return FORMATS[name.lower()]
    except KeyError:
        raise _fail(f"--format is coco or yolo, not {name!r}") from None


# ------------------------------------------------------------------ datasets


@datasets_app.command("list")
def list_datasets(
    text: str | None = typer.Option(None, "--text", help="free text over the catalogue"),
    tag: str | None = typer.Option(None, help="a tag's code"),
    modality: str | None = typer.Option(None, help="a modality's code"),
    task_type: str | None = typer.Option(None, help="a task type's code"),
    anatomical_area: str | None = typer.Option(None, help="an anatomical area's code"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """The catalogue: datasets (made here or imported) with their split counts and terms."""
    with api(profile, config_dir) as client:
        items = client.pages(
            "/datasets",
            text=text,
            tag=tag,
            modality=modality,
            task_type=task_type,
            anatomical_area=anatomical_area,
        )
    table = Table()
    for column in ("id", "name", "origin", "schema", "train", "validation", "test", "terms"):
        table.add_column(column)
    for d in items:
        terms = d["catalogue"]
        words = [
            terms.get("anatomical_area") or "",
            *terms["modalities"],
            *terms["task_types"],
            *terms["tags"],
        ]
        table.add_row(
            str(d["id"]), d["name"], d["origin"], str(d["keypoint_schema_id"]), str(d["train_count"]),
            str(d["validation_count"]), str(d["test_count"]), ", ".join(w for w in words if w),
        )  # fmt: skip
    console.print(table)


@datasets_app.command("create")
def create_dataset(
    name: str = typer.Argument(..., help="the dataset's name (unique)"),
    schema: int = typer.Option(..., "--schema", help="the keypoint schema id"),
    batch: list[int] = typer.Option([], "--batch", help="only these batches (repeat the option)"),
    institution: list[str] = typer.Option([], "--institution", help="only these institutions"),
    age_min: float | None = typer.Option(None, help="youngest age in months"),
    age_max: float | None = typer.Option(None, help="oldest age in months"),
    min_quality: float | None = typer.Option(None, help="lowest image quality score (1-10)"),
    seed: int = typer.Option(0, help="the split's seed: the same seed gives the same split"),
    group_by: str = typer.Option("subject", help="what never straddles two splits: subject or batch"),
    train: float = typer.Option(0.7),
    validation: float = typer.Option(0.15),
    test: float = typer.Option(0.15),
    description: str | None = typer.Option(None),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Make a dataset of the verified images the filters choose, split once and for good."""
    filters: dict[str, Any] = {
        "batch_ids": batch or None,
        "institutions": institution or None,
        "age_months_min": age_min,
        "age_months_max": age_max,
        "min_quality": min_quality,
    }
    body = {
        "name": name,
        "description": description,
        "keypoint_schema_id": schema,
        "filters": {k: v for k, v in filters.items() if v is not None},
        "fractions": {"train": train, "validation": validation, "test": test},
        "seed": seed,
        "group_by": group_by,
    }
    with api(profile, config_dir) as client:
        made = client.post("/datasets", body)
    console.print(
        f"dataset {made['id']} [bold]{made['name']}[/]: {made['train_count']} train, "
        f"{made['validation_count']} validation, {made['test_count']} test"
    )


@datasets_app.command("show")
def show_dataset(
    dataset_id: int = typer.Argument(...), profile: str = ProfileOption, config_dir: Path | None = ConfigDir
) -> None:
    """One dataset: how it was made and its split counts."""
    with api(profile, config_dir) as client:
        d = client.get(f"/datasets/{dataset_id}")
    console.print(f"dataset {d['id']} [bold]{d['name']}[/] ({d['origin']}, schema {d['keypoint_schema_id']})")
    console.print(
        f"  splits: {d['train_count']} train, {d['validation_count']} validation, {d['test_count']} test"
    )
    console.print(f"  seed {d['split_seed']}, grouped by {d['group_by']}, filters {d['filters']}")


# ------------------------------------------------------------------ export, collections


def _await_collection(
    client: CradleClient, collection_id: int, poll_s: float, timeout_s: float
) -> dict[str, Any]:
    with console.status(f"packing collection {collection_id}"):
        return wait_until(
            lambda: client.get(f"/collections/{collection_id}"),
            lambda c: c["status"] in COLLECTION_DONE,
            poll_s=poll_s,
            timeout_s=timeout_s,
        )


def _finish_collection(collection: dict[str, Any], output: Path | None) -> None:
    if collection["status"] != "READY":
        raise _fail(
            f"collection {collection['id']} is {collection['status']}: "
            f"{collection.get('error_message') or ''}"
        )
    target = output or Path(f"collection-{collection['id']}.zip")
    size = download(collection["download_url"], target)
    console.print(f"{target} ({size} bytes, {collection['num_images']} images)")


def export(
    dataset_id: int = typer.Argument(..., help="the dataset to export"),
    format_name: str = typer.Option(
        "coco", "--format", "-f", help="coco (COCO keypoints) or yolo (YOLO pose)"
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="where to save the ZIP"),
    wait: bool = WaitOption,
    poll: float = PollOption,
    timeout: float = TimeoutOption,
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Export a dataset as a COCO keypoints or YOLO pose ZIP (and download it when packed)."""
    with api(profile, config_dir) as client:
        collection = client.post(f"/datasets/{dataset_id}/exports", {"format": _format(format_name)})
        console.print(f"collection {collection['id']}: {collection['status']}")
        if not wait:
            return
        try:
            done = _await_collection(client, collection["id"], poll, timeout)
        except WaitTimedOut as error:
            raise _fail(f"{error}: `cradle collections download {collection['id']}` later") from None
    _finish_collection(done, output)


@collections_app.command("create")
def create_collection(
    name: str = typer.Argument(...),
    schema: int = typer.Option(..., "--schema", help="the keypoint schema id"),
    text: str | None = typer.Option(None, "--text", help="free text over the catalogue's datasets"),
    tag: str | None = typer.Option(None, help="only datasets with this tag"),
    dataset: list[int] = typer.Option([], "--dataset", help="only these datasets (repeat the option)"),
    format_name: str = typer.Option("coco", "--format", "-f", help="coco or yolo"),
    seed: int = typer.Option(0),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Build a collection from a query over the catalogue; it is packed in the background."""
    query: dict[str, Any] = {"query_text": text, "tag": tag, "dataset_ids": dataset or None}
    body = {
        "name": name,
        "keypoint_schema_id": schema,
        "query": {k: v for k, v in query.items() if v is not None},
        "format": _format(format_name),
        "seed": seed,
    }
    with api(profile, config_dir) as client:
        made = client.post("/collections", body)
    console.print(f"collection {made['id']} ({made['num_images']} images): {made['status']}")


@collections_app.command("list")
def list_collections(
    status: str | None = typer.Option(None, help="PENDING, READY, FAILED or EXPIRED"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Your collections, newest first."""
    with api(profile, config_dir) as client:
        items = client.get("/collections", status=status, limit=50)["items"]
    table = Table()
    for column in ("id", "name", "format", "images", "status", "expires", "error"):
        table.add_column(column)
    for c in items:
        table.add_row(
            str(c["id"]), c["name"], c["format"], str(c["num_images"]), c["status"],
            c.get("expires_at") or "", (c.get("error_message") or "")[:60],
        )  # fmt: skip
    console.print(table)


@collections_app.command("download")
def download_collection(
    collection_id: int = typer.Argument(...),
    output: Path | None = typer.Option(None, "--output", "-o"),
    wait: bool = WaitOption,
    poll: float = PollOption,
    timeout: float = TimeoutOption,
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Download a collection's ZIP (waiting for it to be packed)."""
    with api(profile, config_dir) as client:
        if wait:
            try:
                collection = _await_collection(client, collection_id, poll, timeout)
            except WaitTimedOut as error:
                raise _fail(str(error)) from None
        else:
            collection = client.get(f"/collections/{collection_id}")
    _finish_collection(collection, output)


# ------------------------------------------------------------------ import


def import_coco(
    archive: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="a ZIP of COCO keypoints JSON + images, or a YOLO pose dataset"
    ),
    name: str = typer.Option(..., "--name", help="the batch's and the catalogue entry's name"),
    schema: int | None = typer.Option(None, "--schema", help="default: the active infant-pose-17"),
    source_url: str | None = typer.Option(None, help="where the dataset comes from"),
    description: str | None = typer.Option(None),
    resplit: bool = typer.Option(
        False, "--resplit", help="split by infant instead of keeping the archive's train/val/test splits"
    ),
    wait: bool = WaitOption,
    poll: float = PollOption,
    timeout: float = TimeoutOption,
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Import a COCO keypoints or YOLO pose archive as a batch pre-annotated with its keypoints (admin)."""
    body = {
        "resplit": resplit or None,
        "name": name,
        "description": description,
        "source_url": source_url,
        "keypoint_schema_id": schema,
        "size": archive.stat().st_size,
    }
    with api(profile, config_dir) as client:
        made = client.post("/dataset-imports", {k: v for k, v in body.items() if v is not None})
        upload_with_form(made["upload"], archive)
        try:
            started = client.post(f"/dataset-imports/{made['id']}/start")
        except ApiError as error:
            raise _fail(f"the archive was refused:\n{error.describe()}") from None
        console.print(f"import {started['id']}: {started['status']}")
        if not wait:
            return
        try:
            with console.status("importing"):
                done = wait_until(
                    lambda: client.get(f"/dataset-imports/{made['id']}"),
                    lambda i: i["status"] in IMPORT_DONE,
                    poll_s=poll,
                    timeout_s=timeout,
                )
        except WaitTimedOut as error:
            raise _fail(str(error)) from None
    if done["status"] != "COMPLETED":
        raise _fail(f"import {done['id']} failed: {done['error_message']}")
    console.print(
        f"batch {done['batch_id']} and dataset {done['dataset_id']}: {done['images_imported']} images, "
        f"{done['annotations_imported']} with keypoints"
    )


# ------------------------------------------------------------------ models and jobs


@models_app.command("list")
def list_models(
    schema: int | None = typer.Option(None, "--schema"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Registered models with their deployment status."""
    with api(profile, config_dir) as client:
        items = client.pages("/models", schema_id=schema)
    table = Table()
    for column in ("id", "name", "version", "framework", "schema", "status", "base", "weights"):
        table.add_column(column)
    for m in items:
        table.add_row(
            str(m["id"]), m["model_name"], m["version"], m["framework"], str(m["keypoint_schema_id"]),
            m["deployment_status"], str(m.get("base_model_id") or ""), m.get("model_path") or "",
        )  # fmt: skip
    console.print(table)


def _await_job(
    client: CradleClient, kind: str, job_id: int, poll_s: float, timeout_s: float
) -> dict[str, Any]:
    path = f"/{kind}-jobs/{job_id}"
    with console.status(f"{kind} job {job_id}") as status:

        def fetch() -> dict[str, Any]:
            job: dict[str, Any] = client.get(path)
            status.update(f"{kind} job {job_id}: {job['status']} {job['progress_percentage']:.0f}%")
            return job

        return wait_until(fetch, lambda j: j["status"] in JOB_DONE, poll_s=poll_s, timeout_s=timeout_s)


def _job_outcome(job: dict[str, Any], kind: str) -> None:
    if job["status"] != "COMPLETED":
        raise _fail(f"{kind} job {job['id']} is {job['status']}: {job.get('error_message') or ''}")


@models_app.command("train")
def train(
    base_model: int = typer.Argument(..., help="the model to fine-tune"),
    dataset: int = typer.Argument(..., help="the dataset to train on (its train and validation splits)"),
    epochs: int = typer.Option(50),
    imgsz: int = typer.Option(640),
    batch: int = typer.Option(16),
    name: str | None = typer.Option(None, help="the new model's name (default: the base's + '-ft')"),
    version: str | None = typer.Option(None, help="the new model's version (default: job-<id>)"),
    wait: bool = WaitOption,
    poll: float = PollOption,
    timeout: float = TimeoutOption,
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Fine-tune a model on a dataset; the result is registered as a new DEVELOPMENT model."""
    body: dict[str, Any] = {
        "base_model_id": base_model,
        "dataset_id": dataset,
        "hyperparameters": {"epochs": epochs, "imgsz": imgsz, "batch": batch},
        "result_model_name": name,
        "result_model_version": version,
    }
    with api(profile, config_dir) as client:
        job = client.post("/training-jobs", {k: v for k, v in body.items() if v is not None})
        console.print(f"training job {job['id']}: {job['status']}")
        if not wait:
            return
        try:
            job = _await_job(client, "training", job["id"], poll, timeout)
        except WaitTimedOut as error:
            raise _fail(str(error)) from None
    _job_outcome(job, "training")
    console.print(
        f"model {job['result_model_id']} registered "
        f"({job['result_model_name']} {job['result_model_version']})"
    )


def evaluate(
    model: int = typer.Argument(..., help="the model to evaluate"),
    dataset: int = typer.Argument(..., help="the dataset whose split it is scored on"),
    split: str = typer.Option("test", help="train, validation or test"),
    sigma_schema: int | None = typer.Option(None, help="score with this schema version's sigmas"),
    wait: bool = WaitOption,
    poll: float = PollOption,
    timeout: float = TimeoutOption,
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Run a model over a dataset split and score it: COCO keypoint AP/AR, pixel error, PCK."""
    evaluation = {"dataset_id": dataset, "split": split, "sigma_schema_id": sigma_schema}
    with api(profile, config_dir) as client:
        job = client.post(
            "/inference-jobs",
            {"model_id": model, "evaluation": {k: v for k, v in evaluation.items() if v is not None}},
        )
        console.print(f"inference job {job['id']}: {job['status']}")
        if not wait:
            return
        try:
            job = _await_job(client, "inference", job["id"], poll, timeout)
        except WaitTimedOut as error:
            raise _fail(str(error)) from None
    _job_outcome(job, "inference")
    figures = (job.get("results") or {}).get("evaluation") or {}
    table = Table(title=f"model {model} on dataset {dataset} ({split})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("ap", "ap50", "ap75", "ar", "mean_error_px", "pck"):
        value = figures.get(key)
        table.add_row(key.upper(), "—" if value is None else f"{value:.4f}")
    console.print(table)


@models_app.command("metrics")
def model_metrics(
    model: int = typer.Argument(...),
    dataset: int | None = typer.Option(None, "--dataset"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """A model's stored evaluation figures (overall ones; per keypoint with the API)."""
    with api(profile, config_dir) as client:
        rows = client.pages(f"/models/{model}/metrics", dataset_id=dataset)
    table = Table()
    for column in ("dataset", "split", "metric", "value", "threshold", "job", "when"):
        table.add_column(column)
    for r in rows:
        if r["class_name"] is not None:
            continue
        table.add_row(
            str(r["dataset_id"]), r["split"] or "", r["metric_type"], f"{r['metric_value']:.4f}",
            "" if r["threshold"] is None else f"{r['threshold']:g}", str(r["inference_job_id"]),
            r["evaluation_timestamp"],
        )  # fmt: skip
    console.print(table)


@models_app.command("promote")
def promote(
    model: int = typer.Argument(...),
    to: str = typer.Option(..., "--to", help="TESTING or PRODUCTION (DEVELOPMENT to send it back)"),
    gate_dataset: int | None = typer.Option(
        None, help="for PRODUCTION: the dataset on which it must beat the current model's AP"
    ),
    gate_split: str = typer.Option("test", help="the gate dataset's split"),
    reason: str | None = typer.Option(None),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Promote a model one step (admin); PRODUCTION makes it pre-annotate its schema's batches."""
    body: dict[str, Any] = {"target": to.upper(), "reason": reason}
    if gate_dataset is not None:
        body["gate"] = {"dataset_id": gate_dataset, "split": gate_split}
    with api(profile, config_dir) as client:
        made = client.post(f"/models/{model}/promotions", {k: v for k, v in body.items() if v is not None})
    console.print(f"model {model}: {made['from_status']} → {made['to_status']}")
    if made.get("replaced_model_id"):
        console.print(f"model {made['replaced_model_id']} is DEPRECATED")
    if made.get("evidence"):
        e = made["evidence"]
        console.print(f"AP {e['candidate_ap']:.4f} against {e['incumbent_ap'] or 0:.4f} on {e['split']}")


@jobs_app.command("show")
def show_job(
    kind: str = typer.Argument(..., help="training or inference"),
    job_id: int = typer.Argument(...),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """A job's status, progress and the tail of its log."""
    if kind not in ("training", "inference"):
        raise _fail("the kind is training or inference")
    with api(profile, config_dir) as client:
        job = client.get(f"/{kind}-jobs/{job_id}")
    console.print(f"{kind} job {job['id']}: {job['status']} {job['progress_percentage']:.0f}%")
    if job.get("error_message"):
        console.print(f"[red]{job['error_message']}[/]")
    if job.get("execution_logs"):
        console.print(job["execution_logs"])


@jobs_app.command("cancel")
def cancel_job(
    kind: str = typer.Argument(..., help="training or inference"),
    job_id: int = typer.Argument(...),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Cancel a queued job, or ask a running one to stop."""
    if kind not in ("training", "inference"):
        raise _fail("the kind is training or inference")
    with api(profile, config_dir) as client:
        job = client.post(f"/{kind}-jobs/{job_id}/cancel")
    asked = " (asked to stop)" if job["cancel_requested"] and job["status"] == "RUNNING" else ""
    console.print(f"{kind} job {job['id']}: {job['status']}{asked}")
