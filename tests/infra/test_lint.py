"""cfn-lint and `sam validate --lint` accept the synthesized templates.

Both run in the background from the session's synth fixture; these tests wait for them. The SAM
CLI comes from `make sam` (.venv/sam); without it this test fails: the Makefile installs it before
`make test` runs pytest.
"""

from __future__ import annotations

import json

import pytest

from tests.infra.support import STAGES, Synth, sam_executable

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("stage", STAGES)
def test_cfn_lint_reports_no_error(synth: Synth, stage: str) -> None:
    _, output, stderr = synth.finish(f"cfn-lint:{stage}")
    assert output.strip(), f"cfn-lint printed nothing: {stderr[-2000:]}"
    matches = json.loads(output)
    lint_errors = [m for m in matches if m["Level"] == "Error"]
    assert not lint_errors, json.dumps(lint_errors, indent=1)[:4000]
    # W3005 and W3010 are ignored in the template's own cfn-lint config (infra/stacks/cradle.py);
    # nothing else may show up either.
    assert not matches, json.dumps(matches, indent=1)[:4000]


@pytest.mark.parametrize("stage", STAGES)
def test_sam_validate_lint_accepts_the_template(synth: Synth, stage: str) -> None:
    assert sam_executable().exists(), f"no SAM CLI at {sam_executable()}: run `make sam` (make test does)"
    code, output, errors = synth.finish(f"sam:{stage}")
    assert code == 0, (output + errors)[-4000:]
    assert "is a valid SAM Template" in output
