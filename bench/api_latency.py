"""API latency at 10k and at 1M images: do the indexes keep reads and writes flat as data grows?

Each route is called through the API Lambda's real entry point (`lambda_handler`, Powertools and
all) with API Gateway proxy events, in-process, against the embedded PostgreSQL. The database is
filled with generated rows (batches of 1,000 images in every status, one audit row per image),
once with 10k images — the baseline — and once with 1M, both kept open; each route's calls
alternate between the two, so a shared machine's changing load falls on both alike. It prints
p50/p95 per route and the ratio of the 1M figures to the baseline's.

Every list of every role is called: the admin's, the annotator's (one open assignment per batch,
covering the batch's ASSIGNED and IN_PROGRESS images) and the verifier's (the batch's
UNDER_REVIEW images are theirs), and the research lists a verifier reads (one dataset of each
batch's APPROVED images and one collection of it; one analysis job per 100 images).

Then, on the baseline database, the GET /me overhead ratio: GET /me against a bare Powertools
route running `SELECT 1` on the same pool, alternating (bench/request_overhead.py's measurement).

    .venv/bin/python bench/api_latency.py               # 10k vs 1M images
    .venv/bin/python bench/api_latency.py --large 200000 --calls 100
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import sqlalchemy as sa
from moto import mock_aws
from pydantic import SecretStr

from cradle_workstation.devstack.apigw import LambdaContext, claims_for, proxy_event
from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradlepose.db import migrate
from cradlepose.db.engine import create_engine, make_session_factory
from cradlepose.db.unit_of_work import unit_of_work_factory
from cradlepose.settings import Settings

IMAGES_PER_BATCH = 1000
Timings = dict[str, tuple[float, float]]  # route -> (p50 ms, p95 ms)
STATUSES = ("YOLO_PROCESSED", "ASSIGNED", "IN_PROGRESS", "SUBMITTED", "UNDER_REVIEW", "APPROVED")


@dataclass
class Route:
    name: str
    call: Callable[[dict[str, Any]], dict[str, Any]]  # world -> event kwargs


def fill(engine: sa.Engine, images: int) -> dict[str, Any]:
    """Users, batches of 1,000 images across statuses, one audit row per image; then ANALYZE."""
    batches = max(1, images // IMAGES_PER_BATCH)
    with engine.begin() as conn:
        # Filling a million rows takes longer than a request may (the engine's statement timeout).
        conn.execute(sa.text("SET LOCAL statement_timeout = 0"))
        admin_id = conn.scalar(
            sa.text(
                "INSERT INTO users (username, email, role, is_approved, identity_subject) "
                "VALUES ('bench-admin', 'bench@example.org', 'ADMIN', true, 'bench-admin-sub') RETURNING id"
            )
        )
        verifier_id = conn.scalar(
            sa.text(
                "INSERT INTO users (username, email, role, is_approved, identity_subject) "
                "VALUES ('bench-verifier', 'ver@example.org', 'VERIFIER', true, 'bench-ver-sub') RETURNING id"
            )
        )
        annotator_id = conn.scalar(
            sa.text(
                "INSERT INTO users (username, email, role, is_approved, identity_subject) "
                "VALUES ('bench-annotator', 'ann@example.org', 'ANNOTATOR', true, 'bench-ann-sub') RETURNING id"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO image_batches (batch_name, keypoint_schema_id, total_images, uploaded_by, status) "
                "SELECT 'batch ' || g, 1, :per, :admin, 'IN_PROGRESS' FROM generate_series(1, :n) g"
            ),
            {"n": batches, "per": IMAGES_PER_BATCH, "admin": admin_id},
        )
        conn.execute(
            sa.text(
                "INSERT INTO batch_assignments (batch_id, annotator_id, assigned_by, images_total, status) "
                "SELECT id, :ann, :admin, :per, 'IN_PROGRESS' FROM image_batches"
            ),
            {"ann": annotator_id, "admin": admin_id, "per": IMAGES_PER_BATCH},
        )
        conn.execute(
            sa.text(
                "INSERT INTO images (batch_id, filename, original_filename, storage_path, thumbnail_path, width, "
                "height, file_size, mime_type, format, status, image_quality_score, anonymization_status, "
                "current_assignment_id, current_verifier) "
                "SELECT a.batch_id, g || '.jpg', 'frame-' || g || '.jpg', 'images/' || a.batch_id || '/' || g, "
                "'thumbnails/' || a.batch_id || '/' || g || '.jpg', 1920, 1080, 350000, 'image/jpeg', 'JPEG', "
                "(ARRAY['YOLO_PROCESSED','ASSIGNED','IN_PROGRESS','SUBMITTED','UNDER_REVIEW','APPROVED'])"
                "[1 + mod(g, 6)]::image_status, 5 + mod(g, 50) / 10.0, true, "
                "CASE WHEN mod(g, 6) IN (1, 2) THEN a.id END, CASE WHEN mod(g, 6) = 4 THEN CAST(:ver AS bigint) END "
                "FROM batch_assignments a CROSS JOIN generate_series(1, :per) g"
            ),
            {"per": IMAGES_PER_BATCH, "ver": verifier_id},
        )
        # The research lists: a dataset of each batch's APPROVED images, a collection of each
        # dataset (the verifier's), and analysis jobs, one per 100 images, every other the verifier's.
        conn.execute(
            sa.text(
                "INSERT INTO datasets (name, origin, keypoint_schema_id, filters, split_seed, split_fractions, "
                "group_by, train_count, validation_count, test_count, batch_id, created_by) "
                "SELECT 'dataset ' || b.id, 'CURATED', 1, '{}', b.id, "
                '\'{"train": 0.8, "validation": 0.1, "test": 0.1}\', \'batch\', :per / 6, 0, 0, b.id, :admin '
                "FROM image_batches b"
            ),
            {"per": IMAGES_PER_BATCH, "admin": admin_id},
        )
        conn.execute(
            sa.text(
                "INSERT INTO dataset_images (dataset_id, image_id, split) "
                "SELECT d.id, i.id, (ARRAY['train','train','train','validation','test'])[1 + mod(i.id, 5)]"
                "::dataset_split FROM datasets d JOIN images i ON i.batch_id = d.batch_id "
                "WHERE i.status = 'APPROVED'"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO collections (user_id, name, filter_snapshot, format, keypoint_schema_id, dataset_id, "
                "num_images) SELECT :ver, 'collection ' || d.id, '{}', 'COCO_KEYPOINTS', 1, d.id, d.train_count "
                "FROM datasets d"
            ),
            {"ver": verifier_id},
        )
        conn.execute(
            sa.text(
                "INSERT INTO analysis_jobs (user_id, image_id, original_image_key, status, created_at) "
                "SELECT CASE WHEN mod(id / 100, 2) = 0 THEN CAST(:ver AS bigint) ELSE CAST(:admin AS bigint) END, id, storage_path, 'completed', "
                "now() - (id || ' seconds')::interval FROM images WHERE mod(id, 100) = 0"
            ),
            {"ver": verifier_id, "admin": admin_id},
        )
        conn.execute(
            sa.text(
                "INSERT INTO audit_logs (user_id, action, action_category, resource_type, resource_id, "
                "ip_address, status) SELECT :admin, 'IMAGE_REGISTERED', 'IMAGE_PROCESSING', 'Image', id, "
                "'10.0.0.1', 'SUCCESS' FROM images"
            ),
            {"admin": admin_id},
        )
        last_batch = conn.scalar(sa.text("SELECT max(id) FROM image_batches"))
        middle_batch = conn.scalar(sa.text("SELECT min(id) + (max(id) - min(id)) / 2 FROM image_batches"))
        image_id = conn.scalar(
            sa.text("SELECT min(id) FROM images WHERE batch_id = :b AND current_assignment_id IS NOT NULL"),
            {"b": middle_batch},
        )
        middle_assignment = conn.scalar(
            sa.text("SELECT id FROM batch_assignments WHERE batch_id = :b"), {"b": middle_batch}
        )
        middle_dataset = conn.scalar(
            sa.text("SELECT id FROM datasets WHERE batch_id = :b"), {"b": middle_batch}
        )
    # Settle the tables so autovacuum does not run during the measurement. (Its own unpooled
    # connection: the pool's pre-ping leaves pg8000 inside a transaction, where VACUUM cannot run.)
    maintenance = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with maintenance.connect() as conn:
        conn.execute(sa.text("VACUUM (ANALYZE)"))
        conn.execute(sa.text("CHECKPOINT"))
    maintenance.dispose()
    return {
        "admin": claims_for("bench-admin-sub", "bench-admin", "bench@example.org", ("ADMIN",)),
        "annotator": claims_for("bench-ann-sub", "bench-annotator", "ann@example.org", ("ANNOTATOR",)),
        "verifier": claims_for("bench-ver-sub", "bench-verifier", "ver@example.org", ("VERIFIER",)),
        "middle_assignment": middle_assignment,
        "middle_dataset": middle_dataset,
        "admin_id": admin_id,
        "annotator_id": annotator_id,
        "last_batch": last_batch,
        "middle_batch": middle_batch,
        "image_id": image_id,
    }


ROUTES = [
    Route("GET /me", lambda w: {"method": "GET", "path": "/me", "claims": w["admin"]}),
    # Pages of 10: the 10k baseline has 10 batches, so both sizes answer full pages.
    Route("GET /batches (admin, page 1)",
          lambda w: {"method": "GET", "path": "/batches", "query": {"limit": 10}, "claims": w["admin"]}),
    Route("GET /batches (annotator)",
          lambda w: {"method": "GET", "path": "/batches", "query": {"limit": 10}, "claims": w["annotator"]}),
    Route("GET /batches/{id} (progress)",
          lambda w: {"method": "GET", "path": f"/batches/{w['middle_batch']}", "claims": w["admin"]}),
    Route("GET /batches/{id}/images?status",
          lambda w: {"method": "GET", "path": f"/batches/{w['middle_batch']}/images",
                     "query": {"status": "SUBMITTED"}, "claims": w["admin"]}),
    # The annotator's views
    Route("GET /assignments (annotator)",
          lambda w: {"method": "GET", "path": "/assignments", "query": {"limit": 10}, "claims": w["annotator"]}),
    Route("GET /batches/{id}/images (annotator)",
          lambda w: {"method": "GET", "path": f"/batches/{w['middle_batch']}/images", "query": {"limit": 10},
                     "claims": w["annotator"]}),
    Route("GET /assignments/{id}/next-image",
          lambda w: {"method": "GET", "path": f"/assignments/{w['middle_assignment']}/next-image",
                     "claims": w["annotator"]}),
    # The verifier's views
    Route("GET /batches (verifier)",
          lambda w: {"method": "GET", "path": "/batches", "query": {"limit": 10}, "claims": w["verifier"]}),
    Route("GET /batches/{id}/images (verifier)",
          lambda w: {"method": "GET", "path": f"/batches/{w['middle_batch']}/images", "query": {"limit": 10},
                     "claims": w["verifier"]}),
    Route("GET /analyses (verifier)",
          lambda w: {"method": "GET", "path": "/analyses", "query": {"limit": 10}, "claims": w["verifier"]}),
    # The research lists (a verifier is a researcher)
    Route("GET /datasets",
          lambda w: {"method": "GET", "path": "/datasets", "query": {"limit": 10}, "claims": w["verifier"]}),
    Route("GET /datasets/{id}/images",
          lambda w: {"method": "GET", "path": f"/datasets/{w['middle_dataset']}/images", "query": {"limit": 50},
                     "claims": w["verifier"]}),
    Route("GET /collections",
          lambda w: {"method": "GET", "path": "/collections", "query": {"limit": 10}, "claims": w["verifier"]}),
    Route("GET /images/{id} (+ presigned URLs)",
          lambda w: {"method": "GET", "path": f"/images/{w['image_id']}", "claims": w["annotator"]}),
    Route("GET /audit-logs (filtered)",
          lambda w: {"method": "GET", "path": "/audit-logs", "query": {"resource_type": "Image", "limit": 50},
                     "claims": w["admin"]}),
    Route("POST /batches (10 upload forms)",
          lambda w: {"method": "POST", "path": "/batches", "claims": w["admin"],
                     "body": {"batch_name": "new", "uploads": {"files": [{"filename": f"{i}.jpg"} for i in range(10)]}}}),
    Route("PATCH /users/{id}",
          lambda w: {"method": "PATCH", "path": f"/users/{w['annotator_id']}", "claims": w["admin"],
                     "body": {"max_concurrent_batches": 3}}),
]  # fmt: skip


@dataclass
class Database:
    """One filled database and what the routes need to call against it."""

    engine: sa.Engine
    factory: Any
    world: dict[str, Any]


def measure(
    handler: Any, small: Database, large: Database, calls: int, warmup: int, routes: list[Route]
) -> list[Timings]:
    """Each route's calls alternate between the two databases, call by call, so a change of load
    on a shared machine weighs on both figures alike instead of on whichever ran later."""
    from api import dependencies  # noqa: PLC0415

    results: list[Timings] = [{}, {}]
    sink = io.StringIO()
    for route in routes:
        timings: list[list[float]] = [[], []]
        for i in range(warmup + calls):
            for side, database in enumerate((small, large)):
                spec = route.call(database.world)
                handler.app.dependency_overrides[dependencies.uow_factory] = lambda db=database: db.factory
                event = proxy_event(spec["method"], spec["path"], body=spec.get("body"), query=spec.get("query"),
                                    claims=spec["claims"])  # fmt: skip
                with contextlib.redirect_stdout(sink):  # the EMF metrics lines, as Lambda would print them
                    started = time.perf_counter()
                    response = handler.lambda_handler(event, LambdaContext())
                    elapsed = (time.perf_counter() - started) * 1000
                if response["statusCode"] >= 400:
                    raise SystemExit(f"{route.name}: {response['statusCode']} {response['body'][:300]}")
                if i >= warmup:
                    timings[side].append(elapsed)
                sink.seek(0)
                sink.truncate()
        for side in (0, 1):
            ordered = sorted(timings[side])
            results[side][route.name] = (statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))])
    return results


def prepare(server: EmbeddedPostgres, images: int) -> Database:
    name = f"bench_{images}"
    server.drop_database(name)
    url = server.create_database(name)
    engine = create_engine(Settings(database_url=SecretStr(url), db_pool_size=2))
    migrate.upgrade(engine)
    started = time.perf_counter()
    world = fill(engine, images)
    print(f"  filled {images:,} images in {time.perf_counter() - started:.0f} s", flush=True)
    return Database(engine, unit_of_work_factory(make_session_factory(engine)), world)


def _short(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def main() -> None:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=10_000, help="images in the baseline database")
    parser.add_argument("--large", type=int, default=1_000_000, help="images in the large database")
    parser.add_argument("--calls", type=int, default=200, help="timed calls per route")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--overhead-rounds", type=int, default=3, help="rounds of GET /me against a bare route"
    )
    parser.add_argument(
        "--route", action="append", default=[], help='only this route, by name ("GET /me"); repeatable'
    )
    args = parser.parse_args()
    routes = [r for r in ROUTES if not args.route or r.name in args.route]
    if not routes:
        parser.error(f"no route named {args.route}; the names are {[r.name for r in ROUTES]}")

    with tempfile.TemporaryDirectory(prefix="cradle-bench-") as tmp, mock_aws():
        import boto3  # noqa: PLC0415

        boto3.client("s3").create_bucket(Bucket="cradle-uploads")
        server = EmbeddedPostgres(Path(tmp) / "pgdata").start()
        try:
            print(f"baseline: {args.small:,} images", flush=True)
            small_db = prepare(server, args.small)
            print(f"large: {args.large:,} images", flush=True)
            large_db = prepare(server, args.large)
            from api import handler  # noqa: PLC0415

            print("measuring, the two databases' calls alternating", flush=True)
            try:
                small, large = measure(handler, small_db, large_db, args.calls, args.warmup, routes)
                print("measuring GET /me against a bare route on the baseline database", flush=True)
                import request_overhead  # type: ignore[import-not-found]  # noqa: PLC0415 - it imports this module

                overhead = request_overhead.summary(
                    request_overhead.overhead(small_db, args.calls, args.warmup, args.overhead_rounds)
                )
            finally:
                handler.app.dependency_overrides.clear()
                small_db.engine.dispose()
                large_db.engine.dispose()
        finally:
            server.stop()

    width = max(len(r.name) for r in routes)
    a, b = _short(args.small), _short(args.large)
    print()
    print(
        f"{'route':<{width}}  {'p50 ' + a:>9} {'p95 ' + a:>9}  {'p50 ' + b:>9} {'p95 ' + b:>9}  {'p50 ratio':>9} {'p95 ratio':>9}"
    )
    for route in routes:
        (s50, s95), (l50, l95) = small[route.name], large[route.name]
        print(
            f"{route.name:<{width}}  {s50:7.1f}ms {s95:7.1f}ms  {l50:7.1f}ms {l95:7.1f}ms  {l50 / s50:8.2f}x {l95 / s95:8.2f}x"
        )
    print("\nper-request overhead (bench/request_overhead.py, on the baseline database):")
    print("\n".join(overhead))
    print(f"\nratio = figure at {args.large:,} images / figure at the {args.small:,}-image baseline, same run, "
          f"{args.calls} calls per route on each, alternating, after {args.warmup} warm-up calls, in-process "
          "through lambda_handler")  # fmt: skip


if __name__ == "__main__":
    main()
