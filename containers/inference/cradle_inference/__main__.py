"""The container's entry point: infer one chunk, or run one training or inference job.

    python -m cradle_inference --manifest s3://bucket/manifests/batch-12/chunk-0003.json
    python -m cradle_inference --manifest ./chunk.json       # a local manifest and local images
    python -m cradle_inference job --spec s3://bucket/jobs/training/7/spec.json   # cradle_inference.jobs

Exit status: 0 when the chunk was processed, including when single images failed (their lines
say why); 2 when the manifest cannot be read or is invalid; 3 when the results cannot be
written; 1 for anything else that stops the chunk. Logs are JSON lines on stdout.

With CRADLE_TASK_TOKEN set (the ECS task the pipeline's dispatcher starts), the process answers
Step Functions itself (cradle_inference.task_protocol): heartbeats while it works, SendTaskSuccess
with the chunk's summary, SendTaskFailure with the error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# Before Ultralytics is imported anywhere: its console logging would break the JSON log lines.
os.environ.setdefault("YOLO_VERBOSE", "False")

from cradle_inference.chunk import ChunkSummary, OutputUnwritable, run_chunk
from cradle_inference.engine import RUNTIME_ENV, RUNTIMES, PoseEngine
from cradle_inference.logs import JsonLog
from cradle_inference.store import LocalObjectStore, ObjectStore, S3ObjectStore, split_s3_url
from cradle_inference.task_protocol import TaskReporter
from cradlepose.adapters import aws_call_log
from cradlepose.domain.inference import ChunkManifest

EXIT_OK, EXIT_FAILED, EXIT_BAD_MANIFEST, EXIT_OUTPUT_UNWRITABLE = 0, 1, 2, 3


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m cradle_inference", description="Infer one chunk.")
    parser.add_argument(
        "--manifest",
        default=os.environ.get("CRADLE_MANIFEST"),
        help="s3://bucket/key or a local path of the ChunkManifest JSON (default: $CRADLE_MANIFEST)",
    )
    parser.add_argument(
        "--device", default=os.environ.get("CRADLE_DEVICE"), help="cuda or cpu (default: cuda if any)"
    )
    parser.add_argument("--batch-size", type=int, default=_int_env("CRADLE_BATCH_SIZE"))
    parser.add_argument(
        "--compile",
        dest="compile_mode",
        default=os.environ.get("CRADLE_TORCH_COMPILE") or None,
        help="torch.compile mode on CUDA, e.g. max-autotune or reduce-overhead (default: off)",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default=None,
        help=f"what runs the CPU forward (default: ${RUNTIME_ENV}, else onnx; CUDA always runs torch)",
    )
    parser.add_argument("--force", action="store_true", help="re-infer even if this chunk's output exists")
    args = parser.parse_args(argv)
    if not args.manifest:
        parser.error("--manifest (or CRADLE_MANIFEST) is required")
    return args


def _int_env(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def load_manifest(reference: str) -> tuple[ChunkManifest, ObjectStore]:
    """The manifest, and the store its images and output live in (S3 for an s3:// manifest)."""
    if reference.startswith("s3://"):
        bucket, key = split_s3_url(reference)
        store: ObjectStore = S3ObjectStore()
        data = store.get(bucket, key)
    else:
        path = Path(reference)
        # Relative image keys and output keys of a local manifest are relative to its folder.
        store = LocalObjectStore(path.parent.resolve())
        data = path.read_bytes()
    return ChunkManifest.model_validate_json(data), store


def main(argv: Sequence[str] | None = None) -> int:
    aws_call_log.activate_from_env()  # only when the local stack's IAM test records the calls
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["job"]:  # ECS overrides only the arguments of the image's entry point
        from cradle_inference.jobs import main as job_main  # noqa: PLC0415

        return job_main(arguments[1:])
    args = parse_args(arguments)
    log = JsonLog(manifest=args.manifest)
    # The task token (CRADLE_TASK_TOKEN) is answered from here: heartbeats while the chunk runs,
    # then success with the summary or failure with the error. A manual run has no token.
    reporter = TaskReporter.from_environment(log)
    with reporter.heartbeats():
        status, summary = _run(args, log, reporter)
        if summary is not None:
            try:
                reporter.succeed(summary.task_output())
            except Exception as error:  # the task-stopped trigger answers for a failed exit
                log.error("task_success_not_sent", error=f"{type(error).__name__}: {error}")
                return EXIT_FAILED
    return status


def _run(args: argparse.Namespace, log: JsonLog, reporter: TaskReporter) -> tuple[int, ChunkSummary | None]:
    try:
        manifest, store = load_manifest(args.manifest)
    except Exception as error:  # missing file or object, access denied, bad JSON, invalid fields
        log.error("manifest_unreadable", error=f"{type(error).__name__}: {error}")
        reporter.fail(error)
        return EXIT_BAD_MANIFEST, None
    log = log.bind(batch_id=manifest.batch_id, chunk_index=manifest.chunk_index)
    reporter.log = log
    log.info(
        "chunk_started",
        images=len(manifest.images),
        model=manifest.model.name,
        weights=manifest.model.weights,
    )
    try:
        engine = PoseEngine(
            manifest.model,
            device=args.device,
            batch_size=args.batch_size,
            compile_mode=args.compile_mode,
            runtime=args.runtime,
        )
        log.info(
            "engine_ready",
            device=str(engine.device),
            runtime=engine.runtime,
            batch_size=engine.batch_size,
            input_size=engine.input_size,
        )
        summary = run_chunk(manifest, store, engine, force=args.force)
    except OutputUnwritable as error:
        log.error("output_unwritable", error=str(error))
        reporter.fail(error)
        return EXIT_OUTPUT_UNWRITABLE, None
    except Exception as error:
        log.error("chunk_failed", error=f"{type(error).__name__}: {error}")
        reporter.fail(error)
        return EXIT_FAILED, None
    _log_summary(log, summary)
    return EXIT_OK, summary


def _log_summary(log: JsonLog, summary: ChunkSummary) -> None:
    for failure in summary.failures:
        log.warning("image_failed", **failure.model_dump())
    log.info("chunk_done", **summary.model_dump(exclude={"failures"}))


if __name__ == "__main__":
    sys.exit(main())
