"""Training and inference jobs: `python -m cradle_inference job --spec s3://…/spec.json`.

The spec (cradlepose.domain.jobs) says what to do. A training spec fine-tunes a pose model
(cradle_inference.training); an inference spec runs one over images with the same engine as the
batch pipeline, in chunks so that progress can be reported and a cancel request honoured
between them, writes the predictions (one ImageResult per line) and, for an evaluation, scores
them (cradle_inference.evaluation). The last report says COMPLETED (with the outcome), FAILED
(with the error) or CANCELLED. Exit status: 0 completed or cancelled, 1 failed, 2 unreadable spec.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cradle_inference.job_io import JobCancelled, Reporter, UriStore
from cradle_inference.logs import JsonLog
from cradlepose.domain.enums import JobStatus
from cradlepose.domain.inference import ChunkManifest, ImageResult
from cradlepose.domain.jobs import JOB_SPEC, InferenceJobSpec, InferenceOutcome, TrainingSpec
from cradlepose.domain.model_statistics import RunTally

EXIT_OK, EXIT_FAILED, EXIT_BAD_SPEC = 0, 1, 2
CHUNK = 32  # images between two progress reports (and cancel checks)


def run_spec(spec_uri: str, store: UriStore | None = None) -> int:
    """Run the job the spec at `spec_uri` describes; its reports say how it went."""
    store = store or UriStore()
    log = JsonLog(spec=spec_uri)
    try:
        spec = JOB_SPEC.validate_json(store.get(spec_uri))
    except Exception as error:  # missing, unreadable or invalid: there is no status object to write to
        log.error("spec_unreadable", error=f"{type(error).__name__}: {error}")
        return EXIT_BAD_SPEC
    reporter = Reporter(
        store,
        job_id=spec.job_id,
        kind=spec.kind,
        status_uri=spec.status_uri,
        cancel_uri=spec.cancel_uri,
        log=log.bind(job_id=spec.job_id, kind=spec.kind),
    )
    try:
        if isinstance(spec, TrainingSpec):
            from cradle_inference.training import train  # noqa: PLC0415 - Ultralytics' trainer, only here

            reporter.finish(JobStatus.COMPLETED, training=train(spec, store, reporter))
        else:
            reporter.finish(JobStatus.COMPLETED, inference=infer(spec, store, reporter))
    except JobCancelled as stop:
        reporter.line(str(stop))
        reporter.finish(JobStatus.CANCELLED)
    except Exception as error:
        message = f"{type(error).__name__}: {error}"
        reporter.line(message)
        reporter.finish(JobStatus.FAILED, error=message)
        return EXIT_FAILED
    return EXIT_OK


def infer(spec: InferenceJobSpec, store: UriStore, reporter: Reporter) -> InferenceOutcome:
    from cradle_inference.chunk import infer_chunk  # noqa: PLC0415 - torch, only in jobs
    from cradle_inference.engine import PoseEngine  # noqa: PLC0415
    from cradle_inference.store import LocalObjectStore, ObjectStore, S3ObjectStore  # noqa: PLC0415

    engine = PoseEngine(spec.model)
    images: ObjectStore = S3ObjectStore() if spec.bucket else LocalObjectStore()
    reporter.progress(1, f"{spec.model.name} {spec.model.version} on {engine.device}", force=True)
    results: list[ImageResult] = []
    for start in range(0, len(spec.images), CHUNK):
        if reporter.cancelled():
            raise JobCancelled(f"stopped on request after {len(results)} images")
        manifest = ChunkManifest(
            batch_id=spec.job_id,  # a label only: the chunk belongs to this job
            chunk_index=start // CHUNK,
            bucket=spec.bucket,
            images=spec.images[start : start + CHUNK],
            model=spec.model,
            output_key=spec.predictions_uri,
        )
        results += infer_chunk(manifest, images, engine)
        reporter.progress(
            1 + 90 * len(results) / len(spec.images), f"{len(results)}/{len(spec.images)} images"
        )
    lines = "".join(r.model_dump_json() + "\n" for r in results)
    store.put(spec.predictions_uri, lines.encode(), "application/x-ndjson")
    evaluation = None
    if spec.evaluation is not None:
        from cradle_inference.evaluation import evaluate  # noqa: PLC0415 - pycocotools, only here

        reporter.progress(95, f"scoring against {len(spec.evaluation.truth)} verified images", force=True)
        evaluation = evaluate(spec.evaluation, results)
        reporter.line(f"AP {evaluation.ap:.4f}, AP50 {evaluation.ap50:.4f}, PCK {evaluation.pck}")
    ok = sum(r.ok for r in results)
    return InferenceOutcome(
        images=len(results),
        ok=ok,
        failed=len(results) - ok,
        persons=sum(len(r.persons) for r in results),
        predictions_uri=spec.predictions_uri,
        evaluation=evaluation,
        tally=RunTally.of(results),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cradle_inference job", description="Run one job.")
    parser.add_argument(
        "--spec",
        default=os.environ.get("CRADLE_JOB_SPEC"),
        help="s3://bucket/key or a local path of the job spec (default: $CRADLE_JOB_SPEC)",
    )
    args = parser.parse_args(argv)
    if not args.spec:
        parser.error("--spec (or CRADLE_JOB_SPEC) is required")
    return run_spec(args.spec)


if __name__ == "__main__":
    sys.exit(main())
