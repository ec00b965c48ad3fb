"""GET /metrics/corrections' statements at two sizes: does their cost per keypoint stay flat?

The correction figures aggregate every first submission of every pre-annotated batch in Postgres
(cradlepose.models.correction_metrics: one statement per grouping). They read every keypoint row
once, so their cost can only be linear; what must not happen is worse than linear (a sort or a
join that grows n log n or n², a plan that flips at size). This bench makes two projects in the
embedded PostgreSQL (INSERT … SELECT generate_series: a batch per 500 images, each image 17 model keypoints, a
first submission that moves them, a revision on every fourth image, a final verification on each),
times both groupings (the best of three runs each, after one warm-up) and prints the seconds per
100k keypoint rows at each size and their ratio (goal ≤ 1.2), with the large run's plan.

    .venv/bin/python bench/corrections_scale.py                         # 10k and 1M keypoint rows
    .venv/bin/python bench/corrections_scale.py --small 100000 --large 17000000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import sqlalchemy as sa

from bench.scale_support import embedded_server, fresh_database, made, short
from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradlepose.models.correction_metrics import STATEMENTS, CorrectionGrouping, parameters

KEYPOINTS = 17
IMAGES_PER_BATCH = 500  # the number of batches grows with the data, as it does over a project's life
RUNS = 3


def _keypoints(dx: float) -> str:
    return json.dumps(
        {
            "keypoints": [
                {"id": i, "x": 100.0 + 10 * i + (dx if i % 3 else 0), "y": 50.0 + 5 * i, "visible": 2}
                for i in range(KEYPOINTS)
            ]
        }
    )


def make_project(engine: sa.Engine, images: int, batches: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL statement_timeout = 0"))
        people = {
            role: user_id
            for user_id, role in conn.execute(
                sa.text(
                    "INSERT INTO users (username, email, role, is_approved, identity_subject) VALUES "
                    "('bench-admin', 'admin@example.org', 'ADMIN', true, 'bench-admin-sub'), "
                    "('bench-annotator', 'annotator@example.org', 'ANNOTATOR', true, 'bench-annotator-sub'), "
                    "('bench-verifier', 'verifier@example.org', 'VERIFIER', true, 'bench-verifier-sub') "
                    "RETURNING id, CAST(role AS text)"
                )
            )
        }
        schema = conn.scalar(sa.text("SELECT id FROM keypoint_schemas WHERE name = 'infant-pose-17'"))
        conn.execute(
            sa.text(
                "INSERT INTO image_batches (batch_name, keypoint_schema_id, total_images, uploaded_by, status, "
                "yolo_processing_completed, yolo_model_version) "
                "SELECT 'week ' || g, :schema, :per_batch, :owner, 'IN_PROGRESS', "
                "now() - (CAST(:batches AS integer) - g) * interval '7 days', 'yolo11n-pose@8.4' "
                "FROM generate_series(1, CAST(:batches AS integer)) g"
            ),
            {"schema": schema, "per_batch": images // batches, "batches": batches, "owner": people["ADMIN"]},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pipeline_runs (batch_id, attempt, execution_name, status, model_spec) "
                "SELECT id, 1, 'bench-' || id, 'SUCCEEDED', jsonb_build_object('model_config_id', NULL, "
                "'name', 'yolo11n-pose', 'version', CASE WHEN mod(id, 2) = 0 THEN '8.4' ELSE '8.5' END) "
                "FROM image_batches"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO batch_assignments (batch_id, annotator_id, assigned_by, images_total) "
                "SELECT id, :annotator, :admin, total_images FROM image_batches"
            ),
            {"annotator": people["ANNOTATOR"], "admin": people["ADMIN"]},
        )
        conn.execute(
            sa.text(
                "INSERT INTO images (batch_id, filename, original_filename, storage_path, width, height, "
                "file_size, mime_type, format, status, yolo_keypoints) "
                "SELECT b.id, g || '.jpg', g || '.jpg', 'images/' || g, 1920, 1080, 350000, 'image/jpeg', "
                "'JPEG', 'UNDER_REVIEW', CAST(:model AS jsonb) "
                "FROM generate_series(1, CAST(:n AS integer)) g "
                "JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM image_batches) b "
                "  ON b.k = mod(g, CAST(:batches AS integer))"
            ),
            {"n": images, "batches": batches, "model": _keypoints(0)},
        )
        conn.execute(
            sa.text(
                "INSERT INTO annotations (image_id, batch_assignment_id, refined_keypoints, time_spent_seconds, "
                "version, status, submitted_at) "
                "SELECT i.id, a.id, CAST(:first AS jsonb), 60 + mod(i.id, 120), 1, 'SUBMITTED', now() "
                "FROM images i JOIN batch_assignments a ON a.batch_id = i.batch_id"
            ),
            {"first": _keypoints(3.0)},
        )
        conn.execute(
            sa.text(
                "INSERT INTO annotations (image_id, batch_assignment_id, refined_keypoints, time_spent_seconds, "
                "version, is_revision, original_annotation_id, status, submitted_at) "
                "SELECT image_id, batch_assignment_id, CAST(:second AS jsonb), 30, 2, true, id, 'SUBMITTED', now() "
                "FROM annotations WHERE mod(image_id, 4) = 0"
            ),
            {"second": _keypoints(0.0)},
        )
        conn.execute(
            sa.text(
                "INSERT INTO verifications (annotation_id, verifier_id, decision, overall_quality_score, "
                "verification_time_seconds, certainty_level, verified_at, rejection_reason) "
                "SELECT id, :verifier, CAST(CASE WHEN mod(image_id, 4) = 0 THEN 'MINOR_REVISION_NEEDED' ELSE 'APPROVED' "
                "END AS verification_decision), 8, 20, 9, now(), NULL FROM annotations WHERE version = 1"
            ),
            {"verifier": people["VERIFIER"]},
        )


def measure(server: EmbeddedPostgres, keypoint_rows: int) -> tuple[dict[str, float], dict[str, list[str]]]:
    images = keypoint_rows // KEYPOINTS
    batches = max(2, images // IMAGES_PER_BATCH)
    with fresh_database(server, f"corrections_{keypoint_rows}") as engine:
        what = f"{batches:,} batches, {images:,} images, {images * KEYPOINTS:,} keypoint rows"
        made(what, lambda: make_project(engine, images, batches), engine)
        seconds: dict[str, float] = {}
        plans: dict[str, list[str]] = {}
        with engine.connect() as conn:
            conn.execute(sa.text("SET statement_timeout = 0"))
            for grouping, statement in STATEMENTS.items():
                values = parameters(None)
                rows = conn.execute(statement, values).all()  # warm-up
                assert len(rows) == (batches if grouping is CorrectionGrouping.BATCH else 2), rows
                best = float("inf")
                for _ in range(RUNS):
                    started = time.perf_counter()
                    conn.execute(statement, values).all()
                    best = min(best, time.perf_counter() - started)
                seconds[grouping.value] = best
                plan = conn.execute(sa.text(f"EXPLAIN {statement.text}"), values).scalars().all()
                plans[grouping.value] = [plan[0], *(line for line in plan if "->" in line)][:40]
    return seconds, plans


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=10_000, help="keypoint rows in the baseline project")
    parser.add_argument("--large", type=int, default=1_000_000, help="keypoint rows in the large project")
    args = parser.parse_args()
    with embedded_server() as server:
        results = []
        for rows in (args.small, args.large):
            print(f"project with {rows:,} keypoint rows", flush=True)
            results.append((rows, *measure(server, rows)))
    (small, s_small, _), (large, s_large, plans) = results
    a, b = short(small), short(large)
    print()
    print(
        f"{'group_by':<10} {'s ' + a:>10} {'s ' + b:>10} {'s/100k ' + a:>12} {'s/100k ' + b:>12} {'ratio':>7}"
    )
    for grouping in s_small:
        per_small = s_small[grouping] * 100_000 / small
        per_large = s_large[grouping] * 100_000 / large
        print(f"{grouping:<10} {s_small[grouping]:>9.3f}s {s_large[grouping]:>9.3f}s {per_small:>11.4f}s "
              f"{per_large:>11.4f}s {per_large / per_small:>6.2f}x")  # fmt: skip
    print()
    print(
        f"ratio = seconds per 100k keypoint rows at {b} / at {a}, best of {RUNS}, same server, fresh database each;"
    )
    print("goal <= 1.2 (flat: linear in the rows, nothing worse)")
    for grouping, lines in plans.items():
        print(f"\nplan at {b}, group_by={grouping} (its nodes):")
        for line in lines:
            print(f"  {line.rstrip()}")


if __name__ == "__main__":
    main()
