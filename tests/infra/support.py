"""What the infra tests share: the synth result and the constants of the offline synth."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("dev", "prod")
ACCOUNT = "111111111111"
REGION = "eu-central-1"
IMAGE_DIGEST = "sha256:" + "ab" * 32  # a stand-in for the pushed image's digest
ALARM_EMAIL = "ops@example.org"


def synthesize(base: Path, stages: tuple[str, ...] = STAGES) -> Synth:
    """The app synthesized offline into `base`, as `cdk synth` would (cdk.json's context, cdk-nag on),
    with bundling skipped (no pip download), AZs from context and a one-file web build."""
    import time  # noqa: PLC0415

    from aws_cdk import App  # noqa: PLC0415 - importing jsii starts node: only when a synth runs

    from infra.app import build_app, cdk_json_context  # noqa: PLC0415

    web = base / "web"
    web.mkdir(parents=True, exist_ok=True)
    (web / "index.html").write_text("<!doctype html><title>Cradle</title>\n")
    (web / "config.json").write_text('{"stage": "local"}\n')  # the local stack's; never uploaded
    outdir = base / "cdk.out"
    context = cdk_json_context()
    context.update(
        {
            "stage": ",".join(stages),
            "account": ACCOUNT,
            "region": REGION,
            f"availability-zones:account={ACCOUNT}:region={REGION}": [
                f"{REGION}a",
                f"{REGION}b",
                f"{REGION}c",
            ],
            "aws:cdk:bundling-stacks": [],
            "web_dir": str(web),
            # What `make deploy` passes: prod refuses to synthesize without them.
            "inference_image_digest": IMAGE_DIGEST,
            "alarm_email": ALARM_EMAIL,
        }
    )
    started = time.monotonic()
    app = App(context=context, outdir=str(outdir))
    build_app(app)
    error = None
    try:
        app.synth()
    except Exception as exc:  # cdk-nag findings fail the synth; the templates are written anyway
        error = str(exc)
    result = Synth(outdir=outdir, seconds=time.monotonic() - started, error=error)
    for path in outdir.glob("*.template.json"):
        result.templates[path.name.removesuffix(".template.json")] = json.loads(path.read_text())
    return result


def sam_executable() -> Path:
    """The SAM CLI the Makefile installs (`make sam`), or $CRADLE_SAM."""
    return Path(os.environ.get("CRADLE_SAM", ROOT / ".venv" / "sam" / "bin" / "sam"))


@dataclass
class Synth:
    outdir: Path
    seconds: float
    error: str | None
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    background: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

    def template(self, stage: str) -> dict[str, Any]:
        return self.templates[f"Cradle-{stage}"]

    def resources(self, stage: str, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template(stage)["Resources"].items() if v["Type"] == kind}

    def finish(self, name: str) -> tuple[int, str, str]:
        """Wait for a background check: its exit code, stdout and stderr."""
        process = self.background[name]
        output, errors = process.communicate(timeout=600)
        return process.returncode, output, errors
