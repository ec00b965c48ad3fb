"""Logs carry no uploader's file names and no SQL parameters (docs/security.md, "Logs carry no
values"): a whole `cradle demo --verbose` run, every line of log it writes anywhere, grepped.

The demo runs in a process of its own (tests/e2e/demo_process.py: the demo's own stack
configuration and story, Python logging at INFO as Lambda's runtime keeps it, Powertools at
INFO, the cloud's level). What is read: that process's stdout and stderr (the API and trigger
Lambdas, the gateway, moto, the job runner, the demo's HTTP client, all in it), the inference
containers' log (`<state>/demo/logs/`) and the embedded PostgreSQL server's log. The story's
narration to its operator, which names the operator's own files as an uploader's progress does,
goes to a report file of its own and is not a log.

On the code before this control the upload trigger logged every upload's key, which ends with
the file name (and kept it on every later line of the process), and an image's download link
carried the file name in its signed query, which the client's log, a proxy's and S3's access
logs record.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cradle_workstation.demo.samples import NOT_AN_IMAGE, sample_paths
from tests.support import ROOT

pytestmark = pytest.mark.e2e

RUN_TIMEOUT_S = 240.0
# SQLAlchemy showing a statement's values, and PostgreSQL quoting a key's in a violation.
SQL_VALUE_DUMPS = re.compile(r"\[parameters: |\bparams\b|DETAIL:\s+Key \(")


def _logs(tmp_path: Path, state: Path) -> dict[str, str]:
    sources = [tmp_path / "stdout.log", tmp_path / "stderr.log"]
    sources += sorted((state / "demo" / "logs").glob("*"))  # the inference containers'
    sources += [p for p in (state / "demo" / "pgdata").glob("log*") if p.is_file()]  # PostgreSQL's
    return {str(p.relative_to(tmp_path)): p.read_text(errors="replace") for p in sources}


def _names() -> list[str]:
    """The demo's files, and their stems where a stem is no common word ("bus" is, in logs)."""
    files = [*sample_paths(), NOT_AN_IMAGE]
    stems = [Path(name).stem for name in files if len(Path(name).stem) >= 6]
    return files + stems


def test_a_full_demo_logs_no_file_names_and_no_sql_parameters(tmp_path: Path) -> None:
    state, output, report = tmp_path / "state", tmp_path / "output", tmp_path / "report.txt"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            str(ROOT / p)
            for p in ("layers/core/python", "workstation", "functions", ".", "containers/inference")
        ),
        "PYTHONUNBUFFERED": "1",
    }
    started = time.monotonic()
    with (tmp_path / "stdout.log").open("wb") as stdout, (tmp_path / "stderr.log").open("wb") as stderr:
        finished = subprocess.run(
            [sys.executable, "-m", "tests.e2e.demo_process", str(state), str(output), str(report)],
            stdout=stdout, stderr=stderr, env=env, cwd=ROOT, timeout=RUN_TIMEOUT_S, check=False,
        )  # fmt: skip
    elapsed = time.monotonic() - started
    logs = _logs(tmp_path, state)
    assert finished.returncode == 0, logs["stderr.log"][-4000:]

    told = report.read_text()
    assert "COMPLETED" in told
    for name in [*sample_paths(), NOT_AN_IMAGE]:
        assert name in told  # the demo did upload these very files, so a log could have named them
    assert set(logs) >= {"stdout.log", "stderr.log", "state/demo/logs/inference.log"}
    assert '"upload handled"' in logs["stdout.log"]  # the triggers did log at INFO
    assert "chunk_done" in logs["state/demo/logs/inference.log"]

    leaks = [
        f"{source}: {name!r} in {line.strip()[:300]!r}"
        for source, text in logs.items()
        for line in text.splitlines()
        for name in _names()
        if name.lower() in line.lower()
    ]
    assert leaks == []
    dumps = [
        f"{source}: {line.strip()[:300]!r}"
        for source, text in logs.items()
        for line in text.splitlines()
        if SQL_VALUE_DUMPS.search(line)
    ]
    assert dumps == []
    print(f"demo with its logs captured: {elapsed:.0f} s")  # noqa: T201 - the runtime, for -s
