"""The CDK app: `python -m infra.app` (cdk.json runs it), one stack per stage named in context.

    cdk synth                          # the dev stage (cdk.json's default context)
    cdk deploy -c stage=prod -c inference_image_digest=sha256:… -c alarm_email=…   # prod (make deploy)
    cdk deploy Cradle-prod-images -c stage=prod -c images_only=true   # only the image repository
    cdk synth -c stage=dev,prod        # both
    cdk synth -c offline=true          # no asset bundling (no pip download): for checks, not deploys
    python -m infra.app --offline --stage dev,prod   # the same without the CLI (make synth)

Account and region come from context (`account`, `region`) or from the CLI's environment
(CDK_DEFAULT_ACCOUNT/REGION); with neither, the offline placeholders in cdk.json are used, with
their availability zones in context, so `cdk synth` needs no AWS account. cdk-nag's AWS Solutions
and HIPAA Security packs run on every synth; an unacknowledged finding fails it.

Each stage is two stacks: `Cradle-<stage>-images` (the inference image repository) and `Cradle-<stage>`
(everything else, pulling the image by digest). A stage that requires a digest and an alarm e-mail
(prod) refuses to synthesize without them, except offline or with `destroy=true` (`make destroy`),
where a placeholder digest stands in: those templates are never deployed. `images_only=true`
synthesizes only the repository stacks: the first step of `make deploy`, before there is an image
to take a digest of.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from aws_cdk import App, Stack, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks

from cradlepose import function_table
from infra.config import PLACEHOLDER_IMAGE_DIGEST, ROOT, StageConfig, stage_config
from infra.stacks.cradle import CradleStack
from infra.stacks.images import ImagesStack

# Context keys that override StageConfig fields, and how to read them.
OVERRIDES: dict[str, Any] = {
    "inference_image_tag": str,
    "inference_image_digest": str,
    "alarm_email": str,
    "gpu_instance_type": str,
    "gpu_max_instances": int,
    "analysis_writer": str,  # composer (default) | bedrock
    "pipeline_chunk_size": int,
    "bedrock_model_id": str,
    "web_dir": Path,
}


def _context(app: App, key: str) -> Any:
    return app.node.try_get_context(key)


def _flag(app: App, key: str) -> bool:
    return str(_context(app, key) or "").lower() in ("1", "true", "yes")


def build_app(app: App) -> list[Stack]:
    """Add Cradle's stacks (and cdk-nag) to `app`."""
    offline = _flag(app, "offline")
    if offline:
        # `cdk synth -c offline=true`: no asset bundling (no pip download), as the tests do, and the
        # placeholder account/region of cdk.json, whose AZs are in context (no lookup).
        app.node.set_context("aws:cdk:bundling-stacks", [])
    environment: Mapping[str, str] = {} if offline else os.environ
    stages = [name.strip() for name in str(_context(app, "stage") or "dev").split(",") if name.strip()]
    account = (
        _context(app, "account") or environment.get("CDK_DEFAULT_ACCOUNT") or _context(app, "offline_account")
    )
    region = (
        _context(app, "region") or environment.get("CDK_DEFAULT_REGION") or _context(app, "offline_region")
    )
    if not account or not region:
        raise SystemExit("no account/region: pass -c account=… -c region=… or run through the cdk CLI")
    overrides = {
        field: convert(_context(app, field))
        for field, convert in OVERRIDES.items()
        if _context(app, field) is not None
    }
    configs = [stage_config(stage, account=str(account), region=str(region), **overrides) for stage in stages]
    images_only = _flag(app, "images_only")
    if not images_only:
        # Offline templates are checks and `destroy=true` only names the stacks: neither deploys.
        checks_only = offline or _flag(app, "destroy")
        configs = [_ready_to_deploy(config, checks_only=checks_only) for config in configs]
    table = function_table.load()
    stacks: list[Stack] = []
    for config in configs:
        images = ImagesStack(app, config=config)
        stacks.append(images)
        if not images_only:
            stacks.append(CradleStack(app, config=config, table=table, repository=images.repository))
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True),
        HIPAASecurityChecks(app, write_suppressions_to_cloud_formation=True),
    )
    return stacks


def _ready_to_deploy(config: StageConfig, *, checks_only: bool) -> StageConfig:
    """The config itself, or a clear stop naming what the stage still needs."""
    missing = config.missing_deploy_inputs(for_deploy=not checks_only)
    if checks_only and config.inference_image_digest is None:
        config = replace(config, inference_image_digest=PLACEHOLDER_IMAGE_DIGEST)
    if missing:
        raise SystemExit(f"cannot synthesize {config.stack_name}:\n  " + "\n  ".join(missing))
    return config


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context, for runs without the cdk CLI (which passes it itself)."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Synthesize Cradle's stacks (the cdk CLI runs this too).")
    parser.add_argument("--stage", help="dev, prod or dev,prod (default: context `stage`)")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="skip asset bundling (no pip download): for checks, not deploys",
    )
    args = parser.parse_args(argv)
    # The cdk CLI passes cdk.json's context itself (CDK_CONTEXT_JSON); a plain run reads it here.
    context = {} if "CDK_CONTEXT_JSON" in os.environ else cdk_json_context()
    if args.stage:
        context["stage"] = args.stage
    if args.offline:
        context["offline"] = "true"
    app = App(context=context, outdir=os.environ.get("CDK_OUTDIR", str(ROOT / "cdk.out")))
    build_app(app)
    app.synth()


if __name__ == "__main__":
    main()
