"""The `cradle` commands that talk to a Cradle API over HTTP (the local stack or a deployment)."""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.live import Live
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from cradle_workstation.cli import auth, metadata_csv, uploader
from cradle_workstation.cli.client import ApiError, CradleClient
from cradle_workstation.cli.common import console, err_console
from cradle_workstation.cli.profiles import LOCAL, Profile, ProfileStore

ProfileOption = typer.Option(LOCAL, "--profile", "-p", help="which API (see ~/.config/cradle/config.toml)")
ConfigDir = typer.Option(
    None, "--config-dir", help="where profiles and tokens live (default ~/.config/cradle)"
)


def _store(config_dir: Path | None) -> ProfileStore:
    return ProfileStore(config_dir) if config_dir else ProfileStore()


@contextmanager
def api(profile_name: str, config_dir: Path | None) -> Iterator[CradleClient]:
    """A signed-in client; API problems end the command with their message."""
    store = _store(config_dir)
    try:
        profile = store.load(profile_name)
        client = CradleClient(profile.api_url, lambda: auth.current_token(profile, store))
    except (KeyError, auth.SignInFailed) as error:
        err_console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from None
    try:
        yield client
    except ApiError as error:
        err_console.print(f"[red]error:[/] {error.describe()}")
        raise typer.Exit(1) from None
    except auth.SignInFailed as error:
        err_console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from None
    finally:
        client.close()


def configure(
    name: str = typer.Option(..., "--name", help="the profile's name"),
    api_url: str = typer.Option(..., help="the API's base URL"),
    client_id: str = typer.Option(..., help="the Cognito app client id"),
    identity_url: str | None = typer.Option(None, help="Cognito's endpoint (default: AWS's for the region)"),
    region: str = typer.Option("us-east-1"),
    config_dir: Path | None = ConfigDir,
) -> None:
    """Add or change a profile (`cradle dev` writes the `local` one itself)."""
    _store(config_dir).save(Profile(name, api_url, identity_url, client_id, region))
    console.print(f"profile [bold]{name}[/] saved")


def login(
    username: str = typer.Option(..., "--username", "-u", prompt=True),
    password: str | None = typer.Option(None, "--password", help="prompted when left out"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Sign in; the tokens are kept (mode 0600) and refreshed as needed."""
    store = _store(config_dir)
    try:
        chosen = store.load(profile)
        secret = password or getpass.getpass("password: ")
        tokens = auth.sign_in(chosen, store, username, secret, lambda: getpass.getpass("new password: "))
    except (KeyError, auth.SignInFailed) as error:
        err_console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from None
    console.print(f"signed in to [bold]{profile}[/] as {tokens.username}")


def logout(profile: str = ProfileOption, config_dir: Path | None = ConfigDir) -> None:
    """Forget the profile's tokens."""
    _store(config_dir).forget_tokens(profile)
    console.print("signed out")


def whoami(profile: str = ProfileOption, config_dir: Path | None = ConfigDir) -> None:
    """Your Cradle account on this profile."""
    with api(profile, config_dir) as client:
        me = client.get("/me")
    state = "approved" if me["is_approved"] else "awaiting approval"
    console.print(f"{me['username']} ({me['role']}, {state}{'' if me['is_active'] else ', deactivated'})")


def upload(
    folder: Path = typer.Argument(..., exists=True, file_okay=False, help="a folder of JPEG/PNG images"),
    batch: str = typer.Option(
        ..., "--batch", help="the batch's name (the same name resumes an interrupted upload)"
    ),
    workers: int = typer.Option(uploader.default_workers(), min=1, max=32, help="uploads in parallel"),
    wait: bool = typer.Option(True, help="wait for every file's verdict and start pre-annotation"),
    specialty: str | None = typer.Option(None, help="the annotator specialty the batch asks for"),
    metadata: Path | None = typer.Option(
        None,
        "--metadata",
        exists=True,
        dir_okay=False,
        help="a CSV of what is known about each image: filename, age_months, sex, session_type, "
        "pseudonym, acquisition_date, source_institution",
    ),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Upload a folder as a batch: parallel, resumable, with a clear answer for every file."""
    with api(profile, config_dir) as client:
        state = uploader.scan(
            folder, uploader.UploadState.load(folder), client_url(profile, config_dir), batch
        )
        if metadata is not None:
            try:
                described = metadata_csv.read_metadata_csv(metadata, state.files)
            except metadata_csv.MetadataFileError as error:
                for problem in error.problems:
                    err_console.print(f"[red]error:[/] {metadata.name}: {problem}")
                raise typer.Exit(2) from None
            uploader.describe_files(state, described)
        uploader.ensure_batch(client, state, folder, {"specialty": specialty} if specialty else {})
        console.print(f"batch [bold]{state.batch_name}[/] (id {state.batch_id})")
        try:
            _send_with_progress(folder, state, workers)
        except KeyboardInterrupt:
            state.save(folder)
            counts = state.counts()
            err_console.print(
                f"[yellow]interrupted[/]: {counts.get('sent', 0)} sent, {counts.get('pending', 0)} left; "
                f"run the same command again to resume"
            )
            raise typer.Exit(130) from None
        complete = uploader.await_verdicts(client, state) if wait else False
        state.save(folder)
        _report(state)
        if wait and complete:
            _start_if_needed(client, state)
    failed = state.counts().get("failed", 0)
    raise typer.Exit(1 if failed else 0)


def client_url(profile: str, config_dir: Path | None) -> str:
    return _store(config_dir).load(profile).api_url


def _send_with_progress(folder: Path, state: uploader.UploadState, workers: int) -> None:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bars:
        data = bars.add_task("bytes", total=0)
        files = Progress(TextColumn("files"), BarColumn(), MofNCompleteColumn())
        files_task = files.add_task("files", total=0)
        bars.console.print()

        def total(count: int, size: int) -> None:
            bars.update(data, total=size)
            files.update(files_task, total=count)

        events = uploader.Events(
            total=total,
            sent=lambda _: files.advance(files_task),
            bytes_sent=lambda n: bars.advance(data, n),
            failed=lambda f: bars.console.print(f"[red]✗[/] {f.path}: {f.message}"),
        )
        uploader.send_all(folder, state, events, workers)
        bars.console.print(files)


def _report(state: uploader.UploadState) -> None:
    table = Table(title=f"batch {state.batch_name}")
    table.add_column("file")
    table.add_column("result")
    colours = {
        "registered": "green",
        "rejected": "red",
        "failed": "red",
        "skipped": "yellow",
        "sent": "yellow",
    }
    for file in sorted(state.files.values(), key=lambda f: f.path):
        table.add_row(file.path, f"[{colours.get(file.state, 'white')}]{uploader.describe(file)}[/]")
    console.print(table)
    counts = state.counts()
    console.print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


def _start_if_needed(client: CradleClient, state: uploader.UploadState) -> None:
    detail = client.get(f"/batches/{state.batch_id}")
    if detail["status"] == "UPLOADED" and detail["images_registered"] and not detail.get("pipeline_run"):
        client.post(f"/batches/{state.batch_id}/complete")
        console.print("pre-annotation started with the images that arrived")
    elif detail.get("pipeline_run"):
        console.print("pre-annotation started")


def batches(
    status: str | None = typer.Option(None, help="only batches in this status"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """The batches you may see, newest first."""
    with api(profile, config_dir) as client:
        items = client.get("/batches", status=status, limit=50)["items"]
    table = Table()
    for column in ("id", "name", "status", "images", "approved", "priority"):
        table.add_column(column)
    for b in items:
        table.add_row(
            str(b["id"]),
            b["batch_name"],
            b["status"],
            str(b["total_images"]),
            str(b["approved_count"]),
            str(b["processing_priority"]),
        )
    console.print(table)


def status(
    batch_id: int = typer.Argument(..., help="the batch id"),
    watch: bool = typer.Option(
        False, "--watch", "-w", help="keep refreshing until the batch is ready or done"
    ),
    interval: float = typer.Option(2.0, help="seconds between refreshes with --watch"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """A batch's progress: images by status and the pipeline's run."""
    with api(profile, config_dir) as client, Live(console=console, auto_refresh=False) as live:
        while True:
            detail = client.get(f"/batches/{batch_id}")
            live.update(_status_table(detail), refresh=True)
            settled = detail["status"] not in ("UPLOADED", "YOLO_PROCESSING", "YOLO_COMPLETED")
            if not watch or settled:
                return
            time.sleep(interval)


def _status_table(detail: dict[str, object]) -> Table:
    table = Table(title=f"batch {detail['id']} — {detail['batch_name']}: {detail['status']}")
    table.add_column("images")
    table.add_column("count", justify="right")
    for entry in detail["images_by_status"]:  # type: ignore[attr-defined]
        table.add_row(entry["status"], str(entry["count"]))
    run = detail.get("pipeline_run")
    if isinstance(run, dict):
        table.caption = f"pipeline run {run['attempt']}: {run['status']}" + (
            f" — {run['error']}" if run.get("error") else ""
        )
    return table


def assign(
    batch_id: int = typer.Argument(...),
    annotator: str | None = typer.Option(
        None, "--annotator", "-a", help="user name or id; leave out to auto-assign"
    ),
    due: str | None = typer.Option(None, help="due date, ISO 8601 with a time zone"),
    priority: int = typer.Option(5, min=1, max=10),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Assign a ready batch to an annotator (or with the auto-assign policy)."""
    with api(profile, config_dir) as client:
        if annotator is None:
            made = client.post(f"/batches/{batch_id}/auto-assign")["assignment"]
            if made is None:
                err_console.print("nobody has capacity: the batch keeps waiting")
                raise typer.Exit(1)
        else:
            user_id = _user_id(client, annotator)
            made = client.post(
                f"/batches/{batch_id}/assignments",
                {"annotator_id": user_id, "priority": priority, "due_date": due},
            )
    console.print(f"assignment {made['id']}: batch {made['batch_id']} → user {made['annotator_id']}")


def auto_assign(profile: str = ProfileOption, config_dir: Path | None = ConfigDir) -> None:
    """Assign every ready batch, highest priority first, while annotators have capacity."""
    with api(profile, config_dir) as client:
        result = client.post("/auto-assignments")
    for made in result["assigned"]:
        console.print(f"batch {made['batch_id']} → user {made['annotator_id']} (assignment {made['id']})")
    if result["waiting_batches"]:
        console.print(f"still waiting for capacity: {', '.join(map(str, result['waiting_batches']))}")


def approve(
    user: str = typer.Argument(..., help="user name or id"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Approve a registration."""
    with api(profile, config_dir) as client:
        approved = client.post(f"/users/{_user_id(client, user)}/approve")
    console.print(f"approved {approved['username']} as {approved['role']}")


def metrics(
    user: str = typer.Argument(..., help="user name or id"),
    period: str = typer.Option("DAILY", help="DAILY, WEEKLY, MONTHLY or QUARTERLY"),
    rollup: bool = typer.Option(False, help="recompute the current period first (admin)"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """A person's performance figures, newest period first."""
    with api(profile, config_dir) as client:
        if rollup:
            client.post("/metrics/rollup", period=period)
        rows = client.get(f"/users/{_user_id(client, user)}/metrics", period=period)
    table = Table(title=f"{user} — {period.lower()}")
    for column in ("period", "images", "accuracy", "quality", "verified", "approved", "minutes"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(
            r["metrics_date"],
            str(r["images_annotated"]),
            f"{r['accuracy_score']:.2f}",
            f"{r['avg_quality_rating']:.2f}",
            str(r["annotations_verified"]),
            str(r["annotations_approved"]),
            str(r["total_annotation_time_minutes"]),
        )
    console.print(table)


def _user_id(client: CradleClient, user: str) -> int:
    if user.isdigit():
        return int(user)
    matches = [u for u in client.pages("/users", search=user) if u["username"] == user]
    if not matches:
        raise ApiError(404, {"title": "Not found", "detail": f"no user named {user!r}"})
    return int(matches[0]["id"])
