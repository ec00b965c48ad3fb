"""What the infra tests share: the synth result and the constants of the offline synth."""

from __future__ import annotations

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
