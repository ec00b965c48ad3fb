"""`cradle demo --verbose` in a process of its own, for tests/e2e/test_demo_logs.py.

The same stack configuration and story as `cradle demo --verbose` (cli.demo.stack_config,
demo.story.run), with one difference: what the demo tells its operator (the story's narration,
which names the operator's own files, as an uploader's progress does) goes to a report file, so
that this process's stdout and stderr carry nothing but logs. Every Python logger writes at INFO
to stderr, as Lambda's runtime hands every record to its log; Powertools writes its JSON lines to
stdout, as in Lambda.

    python -m tests.e2e.demo_process STATE_DIR OUTPUT_DIR REPORT_FILE
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def main(state_dir: Path, output: Path, report_file: Path) -> None:
    import cradle_inference  # noqa: F401, PLC0415 - makes Ultralytics offline before anything imports it
    from cradle_workstation.cli.demo import stack_config  # noqa: PLC0415
    from cradle_workstation.demo import story  # noqa: PLC0415
    from cradle_workstation.devstack.stack import LocalStack  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True)
    output.mkdir(parents=True, exist_ok=True)
    with report_file.open("w") as report, LocalStack(stack_config(state_dir / "demo", verbose=True)) as stack:
        summary = story.run(stack, output, lambda line: print(line, file=report, flush=True))
        print(f"batch {summary.batch_id}: {summary.batch_status}; uploads: {summary.uploads}", file=report)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
