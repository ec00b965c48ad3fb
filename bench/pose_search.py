"""Nearest-pose search at 1M embeddings: HNSW against exact search (the named baseline).

What it measures: the query Cradle runs for "poses most like this one"
(`PoseEmbeddingRepository.nearest_statement`, top 10 by L2 distance) against the real
`pose_embeddings` table and its HNSW index from migration 0007, in the embedded PostgreSQL with
pgvector. The table is filled with 1M synthetic pose embeddings (domain.synthetic_poses: four age
bands, 10 % atypical, 5 % with face keypoints missing; recipe pose-geometry v1, 67 dimensions) by
binary COPY; the bench disables the table's foreign-key triggers for the load, since the annotations
the rows would point to are not generated. The HNSW index is dropped before the load and rebuilt
after it from its own definition (pgvector's advice for bulk loads).

Queries are 200 new synthetic poses (not in the table). Exact search is the same statement with
index scans disabled (a parallel sequential scan and a top-10 sort); recall@10 compares each
result with the true 10 nearest computed in numpy over all 1M vectors. It prints p50/p95 latency
per method and ef_search, recall@10, and the ratio of exact to HNSW latency, then checks that a
stored pose finds itself first.

    .venv/bin/python bench/pose_search.py                        # 1M embeddings (several minutes)
    .venv/bin/python bench/pose_search.py --rows 100000 --queries 100
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import struct
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "core" / "python"), str(ROOT)]
warnings.simplefilter("ignore")

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradlepose.db import migrate
from cradlepose.db.anomaly_repositories import PoseEmbeddingRepository
from cradlepose.db.models.anomaly import hnsw_index_name
from cradlepose.domain import pose_embedding, synthetic_poses

RECIPE, VERSION, DIM = pose_embedding.RECIPE_NAME, pose_embedding.RECIPE_VERSION, pose_embedding.DIMENSION
INDEX = hnsw_index_name(RECIPE, VERSION)
CHUNK = 100_000
K = 10


def embeddings(rng: np.random.Generator, n: int, start: int = 0) -> np.ndarray:
    """n synthetic pose embeddings (float32), the age bands taking turns chunk by chunk."""
    parts = []
    for offset in range(0, n, CHUNK):
        size = min(CHUNK, n - offset)
        profile = synthetic_poses.AGE_PROFILES[
            ((start + offset) // CHUNK) % len(synthetic_poses.AGE_PROFILES)
        ]
        poses = synthetic_poses.generate(rng, size, profile, atypical_share=0.1)
        vectors, ok = pose_embedding.embed_many(poses.points, poses.present)
        assert ok.all()
        parts.append(vectors.astype(np.float32))
    return np.concatenate(parts)


def copy_binary(vectors: np.ndarray, first_id: int) -> bytes:
    """One binary COPY payload for (annotation_id, image_id, embedding_model, embedding_version, dimension, vector)."""
    n = vectors.shape[0]
    model, version = RECIPE.encode(), VERSION.encode()
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("l_annotation", ">i4"), ("annotation", ">i8"),
            ("l_image", ">i4"), ("image", ">i8"),
            ("l_model", ">i4"), ("model", f"S{len(model)}"),
            ("l_version", ">i4"), ("version", f"S{len(version)}"),
            ("l_dimension", ">i4"), ("dimension", ">i4"),
            ("l_vector", ">i4"), ("vector_dim", ">i2"), ("vector_unused", ">i2"), ("vector", ">f4", (DIM,)),
        ]
    )  # fmt: skip
    rows = np.zeros(n, dtype=row)
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    rows["fields"] = 6
    rows["l_annotation"], rows["annotation"] = 8, ids
    rows["l_image"], rows["image"] = 8, ids
    rows["l_model"], rows["model"] = len(model), model
    rows["l_version"], rows["version"] = len(version), version
    rows["l_dimension"], rows["dimension"] = 4, DIM
    rows["l_vector"], rows["vector_dim"], rows["vector"] = 4 + 4 * DIM, DIM, vectors
    header = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    return header + rows.tobytes() + struct.pack(">h", -1)


def load(engine: sa.Engine, vectors: np.ndarray) -> float:
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()  # pg8000's: execute(..., stream=) feeds COPY
        cursor.execute("ALTER TABLE pose_embeddings DISABLE TRIGGER ALL")
        for offset in range(0, vectors.shape[0], CHUNK):
            payload = copy_binary(vectors[offset : offset + CHUNK], offset + 1)
            cursor.execute(
                "COPY pose_embeddings (annotation_id, image_id, embedding_model, embedding_version, dimension, vector) "
                "FROM STDIN WITH (FORMAT binary)",
                stream=io.BytesIO(payload),
            )
        cursor.execute("ALTER TABLE pose_embeddings ENABLE TRIGGER ALL")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def timed(engine: sa.Engine, statement: sa.Select[Any], settings: list[str]) -> tuple[float, list[int]]:
    with engine.begin() as conn:
        for setting in settings:
            conn.execute(sa.text(setting))
        started = time.perf_counter()
        rows = conn.execute(statement).all()
        elapsed = time.perf_counter() - started
    return elapsed * 1000, [row.annotation_id for row in rows]


def search(
    engine: sa.Engine, queries: np.ndarray, settings: list[str]
) -> tuple[list[float], list[list[int]]]:
    latencies, results = [], []
    for q in queries:
        statement = PoseEmbeddingRepository.nearest_statement([float(v) for v in q], RECIPE, VERSION, DIM, K)
        ms, ids = timed(engine, statement, settings)
        latencies.append(ms)
        results.append(ids)
    return latencies, results


def exact_truth(vectors: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    norms = (vectors.astype(np.float64) ** 2).sum(axis=1)
    truth = []
    for q in queries.astype(np.float64):
        d = norms - 2 * vectors @ q.astype(np.float32)
        top = np.argpartition(d, K)[:K]
        truth.append({int(i) + 1 for i in top})  # annotation ids are row numbers from 1
    return truth


def recall(results: list[list[int]], truth: list[set[int]]) -> float:
    return float(np.mean([len(set(r) & t) / K for r, t in zip(results, truth, strict=True)]))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=20, help="exact search is slow: fewer of them")
    parser.add_argument("--ef", type=int, nargs="+", default=[40, 100, 200], help="hnsw.ef_search values")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="cradle-bench-pg-") as root:
        os.chmod(root, 0o755)  # the server may run as its own user
        server = EmbeddedPostgres(Path(root) / "pgdata").start()
        try:
            url = server.create_database("bench")
            engine = sa.create_engine(url, pool_size=1)  # one connection, reused by every query
            migrate.upgrade(engine)

            t0 = time.perf_counter()
            vectors = embeddings(rng, args.rows)
            queries = embeddings(np.random.default_rng(args.seed + 1), args.queries, start=args.rows)
            generated = time.perf_counter() - t0
            with engine.begin() as conn:
                definition = conn.scalar(
                    sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": INDEX}
                )
                conn.execute(sa.text(f"DROP INDEX {INDEX}"))
            copied = load(engine, vectors)
            t0 = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(sa.text("SET maintenance_work_mem = '2GB'"))
                conn.execute(sa.text("SET max_parallel_maintenance_workers = 1"))
                conn.execute(sa.text(definition))
                conn.execute(sa.text("ANALYZE pose_embeddings"))
            built = time.perf_counter() - t0
            with engine.connect() as conn:
                table_mb = conn.scalar(sa.text("SELECT pg_table_size('pose_embeddings')")) / 2**20
                index_mb = conn.scalar(sa.text(f"SELECT pg_relation_size('{INDEX}')")) / 2**20
                version = conn.scalar(sa.text("SELECT extversion FROM pg_extension WHERE extname = 'vector'"))
                pg = conn.scalar(sa.text("SHOW server_version"))

            truth = exact_truth(vectors, queries)
            exact_ms, exact_results = search(
                engine, queries[: args.exact_queries], ["SET LOCAL enable_indexscan = off"]
            )
            rows = [("exact (seq scan)", "-", exact_ms, recall(exact_results, truth[: args.exact_queries]))]
            for ef in args.ef:
                search(engine, queries[:10], [f"SET LOCAL hnsw.ef_search = {ef}"])  # warm the cache
                ms, results = search(engine, queries, [f"SET LOCAL hnsw.ef_search = {ef}"])
                rows.append(("HNSW", str(ef), ms, recall(results, truth)))

            # A stored pose finds itself first.
            picks = rng.choice(args.rows, 50, replace=False)
            _, own = search(engine, vectors[picks], ["SET LOCAL hnsw.ef_search = 40"])
            itself = float(np.mean([r[0] == int(p) + 1 for r, p in zip(own, picks, strict=True)]))

            with engine.connect() as conn:
                statement = PoseEmbeddingRepository.nearest_statement(
                    [float(v) for v in queries[0]], RECIPE, VERSION, DIM, K
                )
                sql = str(
                    statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
                )
                plan = conn.scalars(sa.text("EXPLAIN " + sql)).all()
            engine.dispose()
        finally:
            server.stop()

    print(
        f"pose_search: {args.rows:,} embeddings of {DIM} dimensions ({RECIPE} v{VERSION}), PostgreSQL {pg}, pgvector {version}"
    )
    print(
        f"  generated in {generated:.1f} s, binary COPY in {copied:.1f} s ({args.rows / copied:,.0f} rows/s), "
        f"HNSW build (m=16, ef_construction=64) in {built:.1f} s"
    )
    print(
        f"  table {table_mb:,.0f} MiB, HNSW index {index_mb:,.0f} MiB; plan: {plan[1].strip() if len(plan) > 1 else plan[0]}"
    )
    print(f"  {'method':<18}{'ef_search':>10}{'p50 ms':>10}{'p95 ms':>10}{'recall@10':>11}{'queries':>9}")
    baseline = statistics.median(exact_ms)
    for name, ef, ms, rec in rows:
        print(f"  {name:<18}{ef:>10}{pct(ms, 50):>10.2f}{pct(ms, 95):>10.2f}{rec:>11.3f}{len(ms):>9}")
    for _name, ef, ms, rec in rows[1:]:
        print(
            f"  exact / HNSW (ef_search {ef}) p50 latency: {baseline / statistics.median(ms):.0f}×, recall@10 {rec:.3f}"
        )
    print(f"  a stored pose is its own nearest neighbour (ef_search 40): {itself:.0%} of 50")


if __name__ == "__main__":
    main()
