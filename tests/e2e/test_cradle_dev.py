"""`cradle dev` as a developer runs it: a process that serves until Ctrl-C, then stops cleanly,
and starts again on the state it left."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from cradle_workstation.cli.dev import STOP_HINT
from cradle_workstation.cli.main import app
from cradle_workstation.devstack.identity_provider import CLIENT_ID
from cradle_workstation.devstack.local_ecs import signal_task
from cradle_workstation.devstack.postgres import EmbeddedPostgres
from tests.stack_support import stack_database
from tests.support import ROOT

pytestmark = pytest.mark.e2e


class DevProcess:
    def __init__(self, state_dir: Path, database_url: str, config_dir: Path) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                str(ROOT / p) for p in ("layers/core/python", "functions", ".", "containers/inference")
            ),
            "COLUMNS": "200",  # one line per item of the summary
        }
        command = [sys.executable, "-m", "cradle_workstation.cli.main", "dev", "--state-dir", str(state_dir),
                   "--port", "0", "--aws-port", "0", "--database-url", database_url,
                   "--config-dir", str(config_dir)]  # fmt: skip
        # A process group of its own, as a shell gives a job: Ctrl-C goes to that group (`cradle dev`
        # and whatever it started) and never to this pytest process or its other children.
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, text: str, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(text in line for line in self.lines):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {text!r} within {timeout_s} s:\n" + "\n".join(self.lines)
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, "the process ended:\n" + "\n".join(self.lines)
            self.lines.append(line)

    def value(self, label: str) -> str:
        for line in self.lines:
            if match := re.match(rf"\s+{label}\s+(\S+)", line):
                return match.group(1)
        raise AssertionError(f"no {label} in the output")

    def stop(self, signal_number: int, timeout_s: float = 60.0) -> int:
        """What a terminal does on Ctrl-C (SIGINT) or a service manager on stop (SIGTERM)."""
        signal_task(self.process, signal_number)
        code = self.process.wait(timeout_s)
        self.wait_for_line("stopped", 5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            signal_task(self.process, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def dev(postgres: EmbeddedPostgres, migrated_template: str, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    with stack_database(postgres, migrated_template) as url:
        yield tmp_path, url


def test_cradle_dev_serves_until_ctrl_c_and_starts_again_on_its_state(dev: tuple[Path, str]) -> None:
    root, url = dev
    state_dir, config_dir = root / "state", root / "config"
    first = DevProcess(state_dir, url, config_dir)
    try:
        first.wait_for_line(STOP_HINT)
        api = first.value("API")
        assert requests.get(f"{api}/health", timeout=10).status_code == 200
        assert requests.get(first.value("Swagger UI"), timeout=10).status_code == 200
        # The web UI is served at / with the config.json that points it at this gateway
        web = first.value("web UI")
        page = requests.get(web, timeout=10)
        assert page.status_code == 200
        assert '<script type="module" src="js/main.js">' in page.text
        config = requests.get(f"{web}config.json", timeout=10).json()
        assert config["apiBase"] == "/api"
        assert config["cognitoEndpoint"] == "/idp/"
        assert config["clientId"] == CLIENT_ID
        created = next(line for line in first.lines if "administrator admin created" in line)
        credentials = Path(created.rsplit(" ", 1)[1])
        assert credentials.is_file()
        assert credentials.stat().st_mode & 0o777 == 0o600
        # The remote commands reach it through the `local` profile it wrote
        password = json.loads(credentials.read_text())["password"]
        cli = CliRunner()
        login = ["login", "-u", "admin", "--password", password, "--config-dir", str(config_dir)]
        assert cli.invoke(app, login).exit_code == 0
        whoami = cli.invoke(app, ["whoami", "--config-dir", str(config_dir)])
        assert whoami.exit_code == 0, whoami.output
        assert "admin (ADMIN, approved)" in whoami.output
        assert first.stop(signal.SIGINT) == 0
    finally:
        first.kill()

    second = DevProcess(state_dir, url, config_dir)
    try:
        second.wait_for_line(STOP_HINT)
        assert any("administrator admin: credentials under" in line for line in second.lines)
        assert requests.get(f"{second.value('API')}/health", timeout=10).status_code == 200
        assert second.stop(signal.SIGTERM) == 0
    finally:
        second.kill()
