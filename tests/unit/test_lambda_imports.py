"""The Lambdas' handler modules import only runtime code, and touch no network, at import.

Lambdas never import torch (the GPU container does the inference), nor the developer-only
packages (the local stack, the CLI, the demo), and load Pillow and markdown-it only when they use them. Each handler module of the function table is
imported in one fresh process, in table order, so each forbidden module is charged to the first
handler that pulled it in; socket connects and name lookups are recorded, since a cold start
must not reach the database before the first event.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cradlepose import function_table

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# Never in a Lambda: the GPU container's stack and the developer-only packages. Pillow and
# markdown-it are used by some handlers, but only on first use: at module level they cost every
# cold start (about 150 and 30 ms of the API's).
FORBIDDEN = (
    "torch",
    "ultralytics",
    "cv2",
    "cradle_workstation.devstack",
    "cradle_workstation.cli",
    "cradle_workstation.demo",
    "PIL",
    "markdown_it",
)

PROBE = """
import json, socket, sys
FORBIDDEN = {forbidden!r}
reached = []
def _refuse(*args, **kwargs):
    reached.append(repr(args[1:] or args)[:200])
    raise OSError("no network at import")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.getaddrinfo = _refuse
def forbidden_loaded():
    return {{n for n in sys.modules for f in FORBIDDEN if n == f or n.startswith(f + ".")}}
pulled, seen = {{}}, set()
for module in {modules!r}:
    __import__(module)
    new = forbidden_loaded() - seen
    if new:
        pulled[module] = sorted(new)
    seen |= new
print(json.dumps({{"pulled": pulled, "network": reached}}))
"""


def _handler_modules() -> list[str]:
    return list(dict.fromkeys(spec.module for spec in function_table.load().functions))


def test_handler_modules_import_no_torch_no_dev_tools_and_no_network() -> None:
    # Given every handler module of the function table, and a deployed function's environment
    modules = _handler_modules()
    assert "api.handler" in modules
    assert any(m.startswith("triggers.") for m in modules)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRADLE_", "PYTHONPATH"))}
    env |= {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), str(ROOT / "layers/core/python")]),
        "CRADLE_STAGE": "dev",
        "CRADLE_DB_HOST": "192.0.2.1",  # TEST-NET-1: a connection attempt would be recorded
        "CRADLE_DB_IAM_AUTH": "true",
        "CRADLE_WEB_ORIGIN": "https://cradle.example.org",
    }

    # When a fresh process imports them one after another
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(forbidden=FORBIDDEN, modules=modules)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then none of them pulled a forbidden module in, and none reached for the network
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["pulled"] == {}, f"handler modules that import what Lambdas must not: {report['pulled']}"
    assert report["network"] == [], f"network reached at import: {report['network']}"


# What the API's cold start leaves to its first request: the routers (each imported by the first
# request under its paths, api.resolver) and numpy (only the anomaly routes compute with it).
API_DEFERRED = ("api.routers.", "numpy")

API_PROBE = """
import json, sys
import api.handler
loaded = sorted(n for n in sys.modules if n.startswith({deferred!r}))
print(json.dumps(loaded))
"""


def test_the_api_imports_no_router_and_no_numpy_until_a_request_needs_them() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRADLE_", "PYTHONPATH"))}
    env |= {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), str(ROOT / "layers/core/python")]),
        "CRADLE_STAGE": "dev",
        "CRADLE_DB_HOST": "192.0.2.1",
    }
    done = subprocess.run(
        [sys.executable, "-c", API_PROBE.format(deferred=API_DEFERRED)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_probe_does_catch_a_forbidden_import() -> None:
    # Given a module list that imports a forbidden package (the CLI) after a clean one
    script = PROBE.format(forbidden=FORBIDDEN, modules=["json", "cradle_workstation.cli"])

    # When the probe runs it
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=os.environ | {"PYTHONPATH": str(ROOT / "layers/core/python")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then the CLI is charged to the module that imported it
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "cradle_workstation.cli" in report["pulled"]["cradle_workstation.cli"]
    assert "json" not in report["pulled"]
