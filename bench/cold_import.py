"""Cold import of the Lambdas: how long a fresh process takes to import each handler module.

A Lambda's cold start pays for importing its handler module before the first event. Each target
is imported in a fresh Python process (this interpreter, nothing preloaded) with the environment a
deployed function has (POWERTOOLS_* and CRADLE_* variables, PYTHONPATH = functions + the layer),
N times, the targets in turn (A B C … A B C …) so drift in the machine's speed hits all alike:

(a) a bare Powertools `APIGatewayRestResolver(enable_validation=True)` with one route: the
    baseline, what any Powertools REST API pays;
(b) `api.handler`, the API Lambda (its routers load on the first request under their paths);
(c) `api.handler` and the routers a first request under /batches loads (batches, images,
    assignments, metrics: the most of any path), what a cold start pays before routing it;
(d) each trigger module of the function table.

It prints min/median/max of the whole process's wall time and of the import alone (timed inside
the child), the median CPU time of the process (user + system: on a shared machine it moves less
with the others' load than wall time does), the ratios of medians against the baseline, and the ten heaviest modules (cumulative,
from `-X importtime`) of the API's import, so a reader sees what to cut. The database host is an
unroutable address: a connection attempted at import would show as a hang here.

    .venv/bin/python bench/cold_import.py [--runs 15] [--top 10] [--no-triggers]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_MS = 300.0

BASELINE = """
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
app = APIGatewayRestResolver(enable_validation=True)
@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
"""

# The API's import plus what its first request under /batches loads before it is routed.
FIRST_REQUEST = """
import api.handler
from api.resolver import app
app.include_routers_for("/batches")
"""

# The child times its own import too: the process's wall time minus this is interpreter start-up.
CHILD = """
import time
_started = time.perf_counter()
{code}
print(f"IMPORT_MS {{(time.perf_counter() - _started) * 1000:.3f}}")
"""


@dataclass
class Target:
    name: str
    code: str
    wall_ms: list[float] = field(default_factory=list)
    import_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)


def lambda_environment(service: str) -> dict[str, str]:
    """What infra/constructs/functions.py gives a function, with placeholder values; no secrets."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    return keep | {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), str(ROOT / "layers/core/python")]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_LAMBDA_FUNCTION_NAME": f"cradle-bench-{service}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "CRADLE_STAGE": "dev",
        "CRADLE_AWS_REGION": "eu-west-1",
        "CRADLE_COGNITO_USER_POOL_ID": "eu-west-1_bench",
        "CRADLE_COGNITO_CLIENT_ID": "bench-client",
        "CRADLE_JWT_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_bench",
        "CRADLE_JWT_AUDIENCE": "bench-client",
        "CRADLE_WEB_ORIGIN": "https://bench.example.org",
        "CRADLE_DB_HOST": "192.0.2.1",  # TEST-NET-1: never answers
        "CRADLE_DB_PORT": "5432",
        "CRADLE_DB_NAME": "cradle",
        "CRADLE_DB_USER": "cradle_app",
        "CRADLE_DB_IAM_AUTH": "true",
        "CRADLE_UPLOADS_BUCKET": "cradle-bench-uploads",
        "CRADLE_STATE_MACHINE_ARN": "arn:aws:states:eu-west-1:000000000000:stateMachine:bench",
        "POWERTOOLS_SERVICE_NAME": f"cradle-{service}",
        "POWERTOOLS_METRICS_NAMESPACE": "Cradle",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_LOGGER_LOG_EVENT": "false",
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
        "POWERTOOLS_TRACER_CAPTURE_ERROR": "true",
    }


def _service(target: str) -> str:
    return "api" if target.startswith(("api.", "baseline")) else target.rsplit(".", 1)[-1]


def trigger_modules() -> list[str]:
    """The function table's handler modules other than the API's, in table order."""
    sys.path.insert(0, str(ROOT / "layers/core/python"))
    from cradlepose import function_table  # noqa: PLC0415 - needs the layer on the path

    modules = [spec.module for spec in function_table.load().functions if spec.module != "api.handler"]
    return list(dict.fromkeys(modules))


def run_once(code: str, env: dict[str, str], importtime: bool = False) -> tuple[float, float, float, str]:
    """One fresh process: (wall ms, import ms, CPU ms, stderr)."""
    argv = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", CHILD.format(code=code)]
    # The children run one at a time and are reaped by run(): the growth of RUSAGE_CHILDREN is this one's.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    if done.returncode != 0:
        raise SystemExit(f"the import failed:\n{code}\n{done.stderr[-3000:]}")
    marker = [line for line in done.stdout.splitlines() if line.startswith("IMPORT_MS ")]
    return wall, float(marker[-1].split()[1]), cpu, done.stderr


def heaviest(stderr: str, top: int, skip: str) -> list[tuple[str, float, float]]:
    """(module, cumulative ms, self ms) from `-X importtime` output, heaviest first."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|", 2)
        if name.strip() != skip:
            rows.append((name.rstrip(), int(cumulative) / 1000, int(own) / 1000))
    return sorted(rows, key=lambda row: row[1], reverse=True)[:top]


def _spread(values: list[float]) -> str:
    return f"{min(values):7.0f} {statistics.median(values):7.0f} {max(values):7.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per target")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted rounds first (file cache)")
    parser.add_argument("--top", type=int, default=10, help="heaviest modules of the API's import to list")
    parser.add_argument("--no-triggers", action="store_true", help="only the baseline and the API")
    args = parser.parse_args()

    targets = [
        Target("baseline: bare Powertools resolver", BASELINE),
        Target("api.handler", "import api.handler"),
        Target("api.handler + the /batches routers", FIRST_REQUEST),
    ]
    if not args.no_triggers:
        targets += [Target(module, f"import {module}") for module in trigger_modules()]
    envs = {t.name: lambda_environment(_service(t.name)) for t in targets}

    for round_ in range(args.warmup + args.runs):
        for target in targets:
            wall, imported, cpu, _ = run_once(target.code, envs[target.name])
            if round_ >= args.warmup:
                target.wall_ms.append(wall)
                target.import_ms.append(imported)
                target.cpu_ms.append(cpu)

    baseline = targets[0]
    base_wall, base_import = statistics.median(baseline.wall_ms), statistics.median(baseline.import_ms)
    base_cpu = statistics.median(baseline.cpu_ms)
    width = max(len(t.name) for t in targets)
    print(
        f"\n{'target':<{width}}  {'process wall ms':^23}  {'import ms':^23}  {'cpu ms':>7}  "
        f"{'ratio of medians':^25}"
    )
    print(
        f"{'':<{width}}  {'min':>7} {'median':>7} {'max':>7}  {'min':>7} {'median':>7} {'max':>7}  "
        f"{'median':>7}  {'wall':>7} {'import':>8} {'cpu':>7}"
    )
    for target in targets:
        wall_ratio = statistics.median(target.wall_ms) / base_wall
        import_ratio = statistics.median(target.import_ms) / base_import
        cpu_ratio = statistics.median(target.cpu_ms) / base_cpu
        print(
            f"{target.name:<{width}}  {_spread(target.wall_ms)}  {_spread(target.import_ms)}  "
            f"{statistics.median(target.cpu_ms):7.0f}  {wall_ratio:6.2f}x {import_ratio:7.2f}x {cpu_ratio:6.2f}x"
        )
    api = targets[1]
    api_wall = statistics.median(api.wall_ms)
    verdict = "within" if api_wall <= GOAL_MS else "over"
    print(
        f"\nratio = median / the baseline's median, same run; {args.runs} fresh processes per target "
        f"after {args.warmup} warm-up round(s), targets in turn; {sys.executable}, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end"
    )
    print(f"api.handler: {api_wall:.0f} ms median for the whole process, {verdict} the {GOAL_MS:.0f} ms goal")

    _, _, _, stderr = run_once(api.code, envs[api.name], importtime=True)
    print(
        "\nheaviest modules of `import api.handler` (-X importtime, one run; cumulative includes children):"
    )
    print(f"{'cumulative ms':>13} {'self ms':>8}  module")
    for name, cumulative, own in heaviest(stderr, args.top, skip="api.handler"):
        print(f"{cumulative:13.1f} {own:8.1f}  {name}")


if __name__ == "__main__":
    main()
