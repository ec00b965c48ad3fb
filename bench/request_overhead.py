"""What a request costs beyond its query: GET /me through the API Lambda's real entry point
against a bare Powertools resolver route that runs one `SELECT 1` on the same connection pool.

GET /me goes through everything a request does (token claims, the resolver, validation, the unit
of work with its pool pre-ping, the user lookup, the audit of access where it applies, metrics);
the bare route is an `APIGatewayRestResolver` with one route and one `SELECT 1`. Calls alternate,
one of each in turn, in one run on one embedded PostgreSQL, so a shared machine's load falls on
both alike. It prints both p50s and their ratio (goal ≤ 3×); `--profile` adds the functions GET /me
spends its time in (cProfile, by own and by cumulative time). Several rounds: the ratio of the
pooled p50s and the median of the rounds' ratios; bench/api_latency.py prints the same measurement.
Then each route's CPU time per call (this process's, median, alternating as above: the server's
work and the waits are not in it, so it moves less with a shared machine's load than wall time)
and its Python function calls per call (cProfile), which do not move with load at all.

    .venv/bin/python bench/request_overhead.py
    .venv/bin/python bench/request_overhead.py --rounds 9 --calls 500 --profile
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api_latency  # type: ignore[import-not-found]  # sets the environment and import paths the API Lambda needs
import sqlalchemy as sa
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from moto import mock_aws

from cradle_workstation.devstack.apigw import LambdaContext, proxy_event
from cradle_workstation.devstack.postgres import EmbeddedPostgres

BASELINE_IMAGES = 10_000


def bare_app(engine: sa.Engine) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()

    @app.get("/ping")
    def ping() -> dict[str, int]:
        with engine.connect() as conn:
            return {"one": int(conn.scalar(sa.text("SELECT 1")) or 0)}

    return app


ME, BARE = "GET /me", "bare SELECT 1"


def overhead(database: Any, calls: int, warmup: int, rounds: int) -> list[dict[str, list[float]]]:
    """Milliseconds per call of GET /me and of the bare route, per round: calls alternate, one of
    each in turn (in ABBA order, so neither always runs first), on `database`'s engine."""
    from api import dependencies, handler  # noqa: PLC0415

    handler.app.dependency_overrides[dependencies.uow_factory] = lambda: database.factory
    bare = bare_app(database.engine)
    me_event = proxy_event("GET", "/me", claims=database.world["admin"])
    ping_event = proxy_event("GET", "/ping")
    sink = io.StringIO()
    call = {
        ME: lambda: handler.lambda_handler(me_event, LambdaContext()),
        BARE: lambda: bare.resolve(ping_event, LambdaContext()),  # type: ignore[arg-type]
    }
    results: list[dict[str, list[float]]] = []
    try:
        for _ in range(rounds):
            timings: dict[str, list[float]] = {ME: [], BARE: []}
            for i in range(warmup + calls):
                for name in (ME, BARE) if i % 2 == 0 else (BARE, ME):
                    with contextlib.redirect_stdout(sink):  # the EMF metrics lines
                        started = time.perf_counter()
                        response: dict[str, Any] = call[name]()
                        elapsed = (time.perf_counter() - started) * 1000
                    if response["statusCode"] != 200:
                        raise SystemExit(f"{name}: {response['statusCode']} {response['body'][:300]}")
                    if i >= warmup:
                        timings[name].append(elapsed)
                    sink.seek(0)
                    sink.truncate()
            results.append(timings)
    finally:
        handler.app.dependency_overrides.clear()
    return results


def cpu_and_calls(database: Any, calls: int, warmup: int) -> list[str]:
    """CPU milliseconds per call (this process's, median) and Python function calls per call of
    GET /me and of the bare route, with the ratios."""
    from api import dependencies, handler  # noqa: PLC0415

    handler.app.dependency_overrides[dependencies.uow_factory] = lambda: database.factory
    bare = bare_app(database.engine)
    me_event = proxy_event("GET", "/me", claims=database.world["admin"])
    ping_event = proxy_event("GET", "/ping")
    call = {
        ME: lambda: handler.lambda_handler(me_event, LambdaContext()),
        BARE: lambda: bare.resolve(ping_event, LambdaContext()),  # type: ignore[arg-type]
    }
    cpu: dict[str, list[float]] = {ME: [], BARE: []}
    python_calls: dict[str, float] = {}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for i in range(warmup + calls):
                for name in (ME, BARE) if i % 2 == 0 else (BARE, ME):
                    started = time.process_time()
                    call[name]()
                    if i >= warmup:
                        cpu[name].append((time.process_time() - started) * 1000)
            for name in (ME, BARE):
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(calls):
                    call[name]()
                profiler.disable()
                python_calls[name] = pstats.Stats(profiler).total_calls / calls  # type: ignore[attr-defined]
    finally:
        handler.app.dependency_overrides.clear()
    median = {name: statistics.median(values) for name, values in cpu.items()}
    return [
        *(f"{name:<14} CPU {median[name]:5.3f} ms a call (median)   {python_calls[name]:6.0f} Python calls a call"
          for name in (ME, BARE)),
        f"GET /me / bare: CPU {median[ME] / median[BARE]:.2f}x, Python calls {python_calls[ME] / python_calls[BARE]:.2f}x",
    ]  # fmt: skip


def summary(results: list[dict[str, list[float]]]) -> list[str]:
    """p50 and p95 of each (all rounds' calls together), the ratio of the p50s, and the median of
    the rounds' own ratios (a round's load falls on both of its routes alike)."""
    lines = []
    pooled = {name: sorted(v for timings in results for v in timings[name]) for name in (ME, BARE)}
    for name, ordered in pooled.items():
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        lines.append(f"{name:<14} p50 {statistics.median(ordered):6.2f} ms   p95 {p95:6.2f} ms")
    ratio = statistics.median(pooled[ME]) / statistics.median(pooled[BARE])
    per_round = [statistics.median(t[ME]) / statistics.median(t[BARE]) for t in results]
    lines.append(f"GET /me p50 / bare p50 = {ratio:.2f}x (goal <= 3x)")
    lines.append(
        f"per round: {' '.join(f'{r:.2f}x' for r in per_round)}; median of rounds {statistics.median(per_round):.2f}x"
    )
    return lines


def main() -> None:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=400, help="timed calls of each, per round")
    parser.add_argument("--warmup", type=int, default=30, help="untimed calls of each, per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print where GET /me spends its time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cradle-bench-") as tmp, mock_aws():
        import boto3  # noqa: PLC0415

        boto3.client("s3").create_bucket(Bucket="cradle-uploads")
        server = EmbeddedPostgres(Path(tmp) / "pgdata").start()
        try:
            database = api_latency.prepare(server, BASELINE_IMAGES)
            try:
                results = overhead(database, args.calls, args.warmup, args.rounds)
                cpu = cpu_and_calls(database, args.calls, args.warmup)
                if args.profile:
                    print(profile(database, args.calls))
            finally:
                database.engine.dispose()
        finally:
            server.stop()

    print("\n".join(summary(results)))
    print("\n".join(cpu))
    print(
        f"\n{args.rounds} rounds of {args.calls} calls of each, alternating, after {args.warmup} warm-up calls, "
        f"in-process; GET /me through api.handler.lambda_handler on a {BASELINE_IMAGES:,}-image database, the "
        "bare route a Powertools APIGatewayRestResolver running SELECT 1 on the same engine's pool"
    )


def profile(database: Any, calls: int) -> str:
    """Where GET /me spends its time: cProfile, by own time and by cumulative time."""
    from api import dependencies, handler  # noqa: PLC0415

    handler.app.dependency_overrides[dependencies.uow_factory] = lambda: database.factory
    me_event = proxy_event("GET", "/me", claims=database.world["admin"])
    profiler = cProfile.Profile()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            profiler.enable()
            for _ in range(calls):
                handler.lambda_handler(me_event, LambdaContext())
            profiler.disable()
    finally:
        handler.app.dependency_overrides.clear()
    report = io.StringIO()
    stats = pstats.Stats(profiler, stream=report)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(30)
    return report.getvalue()


if __name__ == "__main__":
    main()
