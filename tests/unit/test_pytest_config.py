"""The suite's pytest configuration fails a run on an exception no test could catch: one raised in a
thread, or in a finalizer (where a stray KeyboardInterrupt from a signal meant for another process
lands). Each case runs in a pytest of its own with the project's configuration (pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.unit

CASES = {
    "PytestUnhandledThreadExceptionWarning": """
import threading

def test_a_thread_dies() -> None:
    thread = threading.Thread(target=lambda: 1 / 0)
    thread.start()
    thread.join()
""",
    "PytestUnraisableExceptionWarning": """
import gc

class Finalized:
    def __del__(self) -> None:
        raise KeyboardInterrupt("meant for another process")

def test_a_finalizer_raises() -> None:
    Finalized()
    gc.collect()
""",
}


@pytest.mark.parametrize("warning", sorted(CASES))
def test_an_exception_no_test_could_catch_fails_the_run(warning: str, tmp_path: Path) -> None:
    test_file = tmp_path / "test_case.py"
    test_file.write_text(CASES[warning])
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
         "-p", "no:cacheprovider", "-p", "no:xdist", "-q", str(test_file)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert warning in done.stdout, done.stdout
