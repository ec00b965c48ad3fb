"""The pre-annotation pipeline's database work at 100k and at 1M images: does it stay linear?

A batch of N uploaded images is made in the embedded PostgreSQL (INSERT … SELECT
generate_series), then taken through the pipeline's real steps, in-process, as Step Functions
would call them: mark_processing, plan_chunks (manifests written), one ingest_chunk per chunk
(results loaded) and summarize. There is no model: each chunk's results are simulated, one
ImageResult line per image of its manifest (17 keypoints, one person), written to an in-memory
object store, so what is timed is Cradle's planning and ingest code and the database. The same
run does 100k and 1M images, each in a fresh database, and prints seconds per 100k images at
each size and the ratio (goal ≤ 1.2).

    .venv/bin/python bench/pipeline_scale.py                      # 100k and 1M
    .venv/bin/python bench/pipeline_scale.py --small 20000 --large 100000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]
# The cloud's chunk size (infra/config.py, pipeline_chunk_size): 60,000 images per inference task.
CLOUD_CHUNK_SIZE = 60_000
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import sqlalchemy as sa

from bench.scale_support import embedded_server, fresh_database, made, short
from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradlepose.adapters.storage import ObjectMissing
from cradlepose.common.system import SYSTEM, step_context
from cradlepose.db.engine import make_session_factory
from cradlepose.db.unit_of_work import unit_of_work_factory
from cradlepose.domain.enums import Visibility
from cradlepose.domain.inference import ChunkManifest, DetectedPerson, ImageResult, PredictedKeypoint
from cradlepose.preannotation import chunk_ingest, pipeline, steps
from cradlepose.settings import get_settings

CTX = step_context("states:bench")
T = TypeVar("T")


@dataclass
class MemoryStorage:
    """The object store as far as planning and ingest use it (put, get), in memory: S3 is not
    what this bench measures."""

    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def put(self, bucket: str, key: str, data: bytes, *, content_type: str | None = None, **_: Any) -> None:
        self.objects[(bucket, key)] = data

    def get(self, bucket: str, key: str) -> bytes:
        try:
            return self.objects[(bucket, key)]
        except KeyError:
            raise ObjectMissing(f"s3://{bucket}/{key}") from None


def _result_template() -> str:
    """One simulated result line, with a placeholder for the image's id and key."""
    keypoints = [
        PredictedKeypoint(id=i, x=100.0 + 10 * i, y=50.0 + 5 * i, confidence=0.9, visible=Visibility.VISIBLE)
        for i in range(17)
    ]
    person = DetectedPerson(box=[80.0, 40.0, 300.0, 400.0], score=0.87, keypoints=keypoints)
    line = ImageResult(
        image_id=123456789, key="KEY-PLACEHOLDER", ok=True, width=1920, height=1080, persons=[person],
        best_person=0, yolo_confidence=0.87, processing_time_ms=40, model_version="8.4",
    ).model_dump_json()  # fmt: skip
    return (
        line.replace("{", "{{")
        .replace("}", "}}")
        .replace("123456789", "{id}")
        .replace("KEY-PLACEHOLDER", "{key}")
    )


def simulate_results(storage: MemoryStorage, manifest: ChunkManifest, template: str) -> None:
    """What the inference container writes for a manifest, without running a model."""
    body = "".join(template.format(id=image.image_id, key=image.key) + "\n" for image in manifest.images)
    assert manifest.output_bucket is not None
    storage.put(manifest.output_bucket, manifest.output_key, body.encode())


def make_uploaded_batch(engine: sa.Engine, images: int) -> int:
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL statement_timeout = 0"))
        owner = conn.scalar(
            sa.text(
                "INSERT INTO users (username, email, role, is_approved, identity_subject) "
                "VALUES ('bench-admin', 'bench@example.org', 'ADMIN', true, 'bench-admin-sub') RETURNING id"
            )
        )
        schema = conn.scalar(sa.text("SELECT id FROM keypoint_schemas WHERE name = 'infant-pose-17'"))
        batch_id = int(
            conn.scalar(
                sa.text(
                    "INSERT INTO image_batches (batch_name, keypoint_schema_id, total_images, uploaded_by, status) "
                    "VALUES ('scale', :schema, :n, :owner, 'UPLOADED') RETURNING id"
                ),
                {"schema": schema, "n": images, "owner": owner},
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO images (batch_id, filename, original_filename, storage_path, thumbnail_path, width, "
                "height, file_size, mime_type, format, image_quality_score) "
                "SELECT :b, g || '.jpg', 'frame-' || g || '.jpg', 'images/' || :b || '/' || g, "
                "'thumbnails/' || :b || '/' || g || '.jpg', 1920, 1080, 350000, 'image/jpeg', 'JPEG', 8 "
                "FROM generate_series(1, :n) g"
            ),
            {"b": batch_id, "n": images},
        )
    return batch_id


@dataclass
class Stages:
    images: int
    seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, stage: str, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = work()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started
        return result

    def per_100k(self, stage: str) -> float:
        return self.seconds[stage] * 100_000 / self.images


def run_pipeline(server: EmbeddedPostgres, images: int) -> Stages:
    with fresh_database(server, f"scale_{images}") as engine:
        batch_id = made(f"{images:,} images", lambda: make_uploaded_batch(engine, images), engine)
        uow_factory = unit_of_work_factory(make_session_factory(engine))
        storage = MemoryStorage()
        template = _result_template()
        stages = Stages(images)
        with uow_factory(SYSTEM, CTX) as uow:
            run = pipeline.request_run(uow, uow.batches.require(batch_id, for_update=True), "bench")
            uow.commit()
            execution = (
                f"arn:aws:states:us-east-1:000000000000:execution:cradle-batch-pipeline:{run.execution_name}"
            )
        stages.timed("mark", lambda: steps.mark_processing(uow_factory, batch_id, execution, CTX))
        plan = stages.timed("plan", lambda: steps.plan_chunks(uow_factory, storage, batch_id, execution, CTX))  # type: ignore[arg-type]
        assert plan.image_count == images, plan.image_count
        for item in plan.chunks:
            manifest = ChunkManifest.model_validate_json(storage.get(item.manifest_bucket, item.manifest_key))
            simulate_results(storage, manifest, template)  # the model's part: not timed
            request = chunk_ingest.ChunkRequest(
                batch_id=batch_id, chunk_index=item.chunk_index,
                results_bucket=item.results_bucket, results_key=item.results_key,
            )  # fmt: skip
            loaded = stages.timed(
                "ingest",
                lambda r=request: chunk_ingest.ingest_chunk(uow_factory, storage, r, CTX),  # type: ignore[arg-type,misc]
            )
            assert loaded.loaded == item.image_count, loaded
            storage.objects.pop((item.results_bucket, item.results_key))
        summary = stages.timed("summarize", lambda: steps.summarize(uow_factory, batch_id, CTX))
        print(f"  {len(plan.chunks)} chunks, batch now {summary.status.value}", flush=True)
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=100_000, help="images in the baseline batch")
    parser.add_argument("--large", type=int, default=1_000_000, help="images in the large batch")
    parser.add_argument("--chunk-size", type=int, default=CLOUD_CHUNK_SIZE, help="images per inference task")
    args = parser.parse_args()
    os.environ["CRADLE_PIPELINE_CHUNK_SIZE"] = str(args.chunk_size)
    get_settings.cache_clear()

    with embedded_server() as server:
        results = []
        for images in (args.small, args.large):
            print(f"batch of {images:,} images, chunks of {args.chunk_size:,}", flush=True)
            results.append(run_pipeline(server, images))

    small, large = results
    a, b = short(args.small), short(args.large)
    print()
    print(
        f"{'stage':<10} {'s total ' + a:>12} {'s total ' + b:>12} {'s/100k ' + a:>12} {'s/100k ' + b:>12} {'ratio':>7}"
    )
    for stage in ("mark", "plan", "ingest", "summarize", "all"):
        if stage == "all":
            small.seconds["all"] = sum(small.seconds.values())
            large.seconds["all"] = sum(large.seconds.values())
        s, lg = small.per_100k(stage), large.per_100k(stage)
        ratio = f"{lg / s:6.2f}x" if s > 0 else "-"
        print(
            f"{stage:<10} {small.seconds[stage]:11.2f}s {large.seconds[stage]:11.2f}s "
            f"{s:11.3f}s {lg:11.3f}s {ratio:>7}"
        )
    print(
        f"\nratio = seconds per 100k images at {args.large:,} / at {args.small:,}, same run, fresh database "
        f"each, chunks of {args.chunk_size:,}; results simulated (no model), objects in memory, "
        "embedded PostgreSQL; goal for 'all' <= 1.2"
    )


if __name__ == "__main__":
    main()
