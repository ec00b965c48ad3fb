"""What a request costs beyond its query: GET /me through the API Lambda's real entry point
against a bare Powertools resolver route that runs one `SELECT 1` on the same connection pool.

GET /me goes through everything a request does (token claims, the resolver, validation, the unit
of work with its pool pre-ping, the user lookup, the audit of access where it applies, metrics);
the bare route is an `APIGatewayRestResolver` with one route and one `SELECT 1`. Calls alternate,
one of each in turn, in one run on one embedded PostgreSQL, so a shared machine's load falls on
both alike. It prints both p50s and their ratio (goal ≤ 3×); `--profile` adds the functions GET /me
spends its time in (cProfile, cumulative).

    .venv/bin/python bench/request_overhead.py
    .venv/bin/python bench/request_overhead.py --calls 2000 --profile
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


def main() -> None:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000, help="timed calls of each")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--profile", action="store_true", help="print where GET /me spends its time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cradle-bench-") as tmp, mock_aws():
        import boto3  # noqa: PLC0415

        boto3.client("s3").create_bucket(Bucket="cradle-uploads")
        server = EmbeddedPostgres(Path(tmp) / "pgdata").start()
        try:
            database = api_latency.prepare(server, BASELINE_IMAGES)
            from api import dependencies, handler  # noqa: PLC0415

            handler.app.dependency_overrides[dependencies.uow_factory] = lambda: database.factory
            bare = bare_app(database.engine)
            me_event = proxy_event("GET", "/me", claims=database.world["admin"])
            ping_event = proxy_event("GET", "/ping")
            sink = io.StringIO()
            timings: dict[str, list[float]] = {"GET /me": [], "bare SELECT 1": []}
            calls = {
                "GET /me": lambda: handler.lambda_handler(me_event, LambdaContext()),
                "bare SELECT 1": lambda: bare.resolve(ping_event, LambdaContext()),  # type: ignore[arg-type]
            }
            try:
                for i in range(args.warmup + args.calls):
                    for name, call in calls.items():
                        with contextlib.redirect_stdout(sink):  # the EMF metrics lines
                            started = time.perf_counter()
                            response: dict[str, Any] = call()
                            elapsed = (time.perf_counter() - started) * 1000
                        if response["statusCode"] != 200:
                            raise SystemExit(f"{name}: {response['statusCode']} {response['body'][:300]}")
                        if i >= args.warmup:
                            timings[name].append(elapsed)
                        sink.seek(0)
                        sink.truncate()
                if args.profile:
                    profiler = cProfile.Profile()
                    with contextlib.redirect_stdout(sink):
                        profiler.enable()
                        for _ in range(args.calls):
                            calls["GET /me"]()
                        profiler.disable()
                    report = io.StringIO()
                    pstats.Stats(profiler, stream=report).sort_stats("cumulative").print_stats(40)
                    print(report.getvalue())
            finally:
                handler.app.dependency_overrides.clear()
                database.engine.dispose()
        finally:
            server.stop()

    me, bare_p50 = (statistics.median(timings[name]) for name in ("GET /me", "bare SELECT 1"))
    for name, values in timings.items():
        ordered = sorted(values)
        print(
            f"{name:<14} p50 {statistics.median(ordered):6.2f} ms   p95 {ordered[int(0.95 * (len(ordered) - 1))]:6.2f} ms"
        )
    print(f"GET /me p50 / bare p50 = {me / bare_p50:.2f}x (goal <= 3x)")
    print(
        f"\n{args.calls} calls of each, alternating, after {args.warmup} warm-up calls, in-process; GET /me through "
        f"api.handler.lambda_handler on a {BASELINE_IMAGES:,}-image database, the bare route a Powertools "
        "APIGatewayRestResolver running SELECT 1 on the same engine's pool"
    )


if __name__ == "__main__":
    main()
