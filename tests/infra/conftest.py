"""One offline synth of both stages per test session; every infra test reads its output.

The app is synthesized exactly as `cdk synth` would (cdk.json's context, cdk-nag on), with bundling
skipped (no pip download), AZs from context (no AWS lookup), and a one-file web build so the web
deployment path is synthesized too. cfn-lint and `sam validate --lint` start in the background as
soon as the templates exist, so they run while the assertion tests do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.support import REGION, ROOT, STAGES, Synth, sam_executable, synthesize

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def _start(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    base = tmp_path_factory.mktemp("infra")
    result = synthesize(base)
    outdir = result.outdir

    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": REGION}
    cfn_lint = [str(Path(sys.executable).parent / "cfn-lint"), "--format", "json", "--regions", REGION]
    sam = sam_executable()
    for stage in STAGES:
        template = outdir / f"Cradle-{stage}.template.json"
        if template.exists():
            result.background[f"cfn-lint:{stage}"] = _start([*cfn_lint, "--", str(template)], ROOT, env)
            if sam.exists():
                command = [str(sam), "validate", "--lint", "--template", str(template), "--region", REGION]
                result.background[f"sam:{stage}"] = _start(command, base, env)
    yield result
    for process in result.background.values():
        if process.poll() is None:
            process.kill()
    shutil.rmtree(base, ignore_errors=True)
