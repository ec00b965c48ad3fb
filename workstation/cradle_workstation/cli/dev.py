"""`cradle dev`: all of Cradle on this machine until Ctrl-C (see docs/local.md)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import typer

from cradle_workstation.cli.common import StateDir, console, state_dir
from cradle_workstation.cli.profiles import LOCAL, Profile, ProfileStore
from cradle_workstation.cli.remote import ConfigDir
from cradle_workstation.devstack.identity_provider import CLIENT_ID, POOL_ID
from cradle_workstation.devstack.stack import LocalStack, LocalStackConfig

READY = "Cradle is running"
STOP_HINT = "Ctrl-C stops it."  # the last line of the summary


def run(
    directory: Path | None = StateDir,
    port: int = typer.Option(8000, help="the gateway's port on 127.0.0.1: API, identity provider, web UI"),
    aws_port: int = typer.Option(4566, help="moto's port on 127.0.0.1 (S3, Step Functions, Lambda, SQS)"),
    fresh: bool = typer.Option(False, "--fresh", help="wipe the state directory's data first"),
    database_url: str | None = typer.Option(
        None, help="use this PostgreSQL instead of the embedded one under <state-dir>/pgdata"
    ),
    verbose: bool = typer.Option(False, "--verbose", help="the handlers' INFO logs too"),
    auto_confirm_sign_up: bool = typer.Option(
        False,
        "--auto-confirm-sign-up",
        help="let self sign-ups sign in at once (by default they wait for an administrator's confirmation)",
    ),
    config_dir: Path | None = ConfigDir,
) -> None:
    """Start the local stack and keep it running until Ctrl-C (or SIGTERM), then stop it cleanly."""
    config = LocalStackConfig(
        state_dir=state_dir(directory),
        port=port,
        aws_port=aws_port,
        fresh=fresh,
        database_url=database_url,
        log_level="INFO" if verbose else "WARNING",
        auto_confirm_sign_up=auto_confirm_sign_up,
    )
    stop = threading.Event()

    def terminate(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, terminate)
    console.print(f"starting Cradle in {config.state_dir.resolve()} …")
    try:
        with LocalStack(config) as stack:
            # The `local` profile of the remote commands (`cradle login`, `cradle upload`, …) points here.
            store = ProfileStore(config_dir) if config_dir else ProfileStore()
            store.save(Profile(LOCAL, stack.api_url, stack.identity_url, CLIENT_ID, "us-east-1"))
            _summary(stack)
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
            console.print("stopping …")
    finally:
        signal.signal(signal.SIGTERM, previous)
    console.print("stopped")


def _summary(stack: LocalStack) -> None:
    web = f"{stack.base_url}/" if stack.config.web_root else "(no web UI built: web/ has no index.html)"
    console.print(f"[bold green]{READY}[/]")
    console.print(f"  API           {stack.api_url}")
    console.print(f"  Swagger UI    {stack.swagger_url}")
    console.print(f"  web UI        {web}")
    console.print(
        f"  sign-in       {stack.identity_url} (Cognito protocol; pool {POOL_ID}, client {CLIENT_ID})"
    )
    console.print(f"  AWS (moto)    {stack.aws.endpoint}")
    console.print(f"  state         {stack.config.state_dir.resolve()}")
    console.print(f"  CLI profile   {LOCAL} (cradle login --profile {LOCAL} -u <user>)")
    if stack.admin_credentials is not None:
        console.print(
            f"  administrator {stack.admin_username} created: credentials in {stack.admin_credentials}"
        )
    elif stack.admin_username is not None:
        console.print(f"  administrator {stack.admin_username}: credentials under {stack.credentials_dir}")
    if stack.restored_objects or stack.resumed_runs:
        restored, resumed = stack.restored_objects, len(stack.resumed_runs)
        console.print(f"  restored {restored} stored objects; resumed {resumed} pipeline runs")
    console.print(STOP_HINT)
