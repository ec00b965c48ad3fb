"""The one typed place for what differs between stages (dev, prod) and for the app-wide choices.

A stage is chosen with CDK context (`-c stage=prod`, or `stage=dev,prod` for both); nothing else in
`infra/` branches on the stage name: constructs read the fields of `StageConfig`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

ROOT = Path(__file__).resolve().parents[1]

IMAGE_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# What an offline synth (checks, never a deploy) uses when no digest is given.
PLACEHOLDER_IMAGE_DIGEST = "sha256:" + "0" * 64

StageName = Literal["dev", "prod"]
# Who writes the analysis reports' prose: the deterministic composer (no AWS service, the default)
# or a Bedrock model (opt-in: `-c analysis_writer=bedrock [-c bedrock_model_id=…]`).
AnalysisWriter = Literal["composer", "bedrock"]
ANALYSIS_WRITERS: tuple[AnalysisWriter, ...] = ("composer", "bedrock")
DEFAULT_BEDROCK_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"

# Lambda platform. x86_64 because the dependency layer is built on an x86_64 machine and can be
# import-checked there as built, and `sam local invoke` runs it without emulation; arm64 would be
# about 20 % cheaper per GB-second, which at Cradle's invocation volume is cents (docs/architecture-aws.md).
LAMBDA_ARCHITECTURE = lambda_.Architecture.X86_64
PIP_PLATFORM = "manylinux_2_28_x86_64"
# Python 3.12, not 3.11: the Lambda python3.11 runtime runs on Amazon Linux 2 (glibc 2.26), and the
# pinned numpy 2.4 / pillow 13 / greenlet 3.5 publish only manylinux_2_28 wheels; python3.12 runs on
# Amazon Linux 2023 (glibc 2.34), so the layer ships exactly the versions the tests ran.
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_12
LAMBDA_PYTHON_VERSION = "3.12"


@dataclass(frozen=True)
class StageConfig:
    """Everything that differs between dev and prod."""

    name: StageName
    account: str
    region: str

    # --- network
    max_azs: int
    endpoint_azs: int  # interface endpoints are billed per AZ: dev keeps them in one
    flow_log_retention: logs.RetentionDays

    # --- database (Aurora PostgreSQL Serverless v2)
    db_min_acu: float
    db_max_acu: float
    db_readers: int
    db_backup_days: int
    deletion_protection: bool
    retain_data: bool  # RETAIN buckets, keys, database and log groups when the stack is deleted

    # --- logs and storage lifetimes
    log_retention: logs.RetentionDays
    access_log_days: int  # S3 access logs and CloudTrail files
    noncurrent_days: int  # older versions of every object; expiry by age is infra/retention.toml

    # --- API and identity
    api_rate_limit: int  # steady requests per second, per stage
    api_burst_limit: int
    api_quota_per_day: int
    waf_rate_limit_per_5min: int  # per client IP
    mfa_required: bool

    # --- GPU inference
    gpu_instance_type: str
    gpu_max_instances: int  # also the batch Map's concurrency: one chunk per GPU instance
    inference_image_tag: str  # used only when no digest is given (dev)
    image_digest_required: bool  # deploy an immutable `sha256:` digest, never a movable tag

    # --- monitoring
    alarm_email_required: bool  # the alarm topic's e-mail subscription (`alarm_email`)

    # Images per GPU task: start-up (~60 s) under 10 % of a chunk's time at an estimated 100 images/s
    # on the L4 of a g6.xlarge, not yet measured (docs/workflow.md, "Chunk size").
    pipeline_chunk_size: int = 60_000

    # --- given at deploy time (context)
    alarm_email: str | None = None
    inference_image_digest: str | None = None  # `sha256:…` of the pushed image (`make deploy` reads it)

    # --- the analysis reports' writer: no Bedrock grant, endpoint or call unless chosen
    analysis_writer: AnalysisWriter = "composer"
    bedrock_model_id: str = DEFAULT_BEDROCK_MODEL_ID  # used only when analysis_writer is "bedrock"

    # --- other
    web_dir: Path | None = None  # the built single-page app, deployed when it has an index.html

    def __post_init__(self) -> None:
        if self.analysis_writer not in ANALYSIS_WRITERS:
            raise ValueError(f"analysis_writer {self.analysis_writer!r}: expected one of {ANALYSIS_WRITERS}")

    @property
    def bedrock_model(self) -> str | None:
        """The one foundation model the analysis functions may invoke; None: they invoke none."""
        return self.bedrock_model_id if self.analysis_writer == "bedrock" else None

    @property
    def prefix(self) -> str:
        """Physical names start with this: `cradle-dev-api`, `cradle-prod-uploads-…`."""
        return f"cradle-{self.name}"

    @property
    def stack_name(self) -> str:
        return f"Cradle-{self.name}"

    @property
    def images_stack_name(self) -> str:
        """The stack that holds only the inference image repository, deployed before the image is pushed."""
        return f"Cradle-{self.name}-images"

    @property
    def inference_image_reference(self) -> str:
        """What the task definition pulls from the repository: the digest when given, else the tag."""
        return self.inference_image_digest or self.inference_image_tag

    def missing_deploy_inputs(self, *, for_deploy: bool = True) -> list[str]:
        """What this stage needs before it can be deployed, each said plainly (empty when ready).

        `for_deploy=False` (offline checks) only checks the form of what was given.
        """
        missing = []
        digest = self.inference_image_digest
        if digest is not None and not IMAGE_DIGEST.fullmatch(digest):
            missing.append(f"inference_image_digest {digest!r} is not a sha256:<64 hex> image digest")
        if not for_deploy:
            return missing
        if digest is None and self.image_digest_required:
            missing.append(
                f"{self.name} deploys an immutable image digest: pass -c inference_image_digest=sha256:… "
                "(make deploy builds, pushes and passes it; docs/deploy.md)"
            )
        if self.alarm_email_required and not self.alarm_email:
            missing.append(
                f"{self.name}'s alarms must reach someone: pass -c alarm_email=ops@example.org "
                "(make deploy ALARM_EMAIL=…)"
            )
        return missing


def _dev(account: str, region: str) -> StageConfig:
    return StageConfig(
        name="dev",
        account=account,
        region=region,
        max_azs=2,
        endpoint_azs=1,
        flow_log_retention=logs.RetentionDays.ONE_MONTH,
        # Not 0 (auto-pause): an instance behind RDS Proxy does not pause, so 0 would buy nothing.
        db_min_acu=0.5,
        db_max_acu=2.0,
        db_readers=0,
        db_backup_days=1,
        deletion_protection=False,
        retain_data=False,
        log_retention=logs.RetentionDays.ONE_MONTH,
        access_log_days=90,
        noncurrent_days=7,
        api_rate_limit=50,
        api_burst_limit=100,
        api_quota_per_day=200_000,
        waf_rate_limit_per_5min=2_000,
        mfa_required=False,
        gpu_instance_type="g6.xlarge",
        gpu_max_instances=1,
        inference_image_tag="latest",
        image_digest_required=False,
        alarm_email_required=False,
    )


def _prod(account: str, region: str) -> StageConfig:
    """Production: what differs from dev, and only that."""
    return replace(
        _dev(account, region),
        name="prod",
        endpoint_azs=2,
        flow_log_retention=logs.RetentionDays.ONE_YEAR,
        db_max_acu=16.0,
        db_readers=1,
        db_backup_days=35,
        deletion_protection=True,
        retain_data=True,
        # HIPAA asks for six years of audit documentation: logs are kept that long (S3 ones move to
        # Glacier after 90 days).
        log_retention=logs.RetentionDays.SIX_YEARS,
        access_log_days=6 * 365 + 2,
        noncurrent_days=30,
        api_rate_limit=200,
        api_burst_limit=400,
        api_quota_per_day=2_000_000,
        waf_rate_limit_per_5min=3_000,
        mfa_required=True,
        gpu_max_instances=4,
        image_digest_required=True,
        alarm_email_required=True,
    )


_STAGES: dict[str, Callable[[str, str], StageConfig]] = {"dev": _dev, "prod": _prod}


def stage_config(name: str, *, account: str, region: str, **overrides: Any) -> StageConfig:
    """The config of stage `name` in `account`/`region`, with overrides (from context) applied."""
    if name not in _STAGES:
        raise ValueError(f"unknown stage {name!r}: expected one of {sorted(_STAGES)}")
    return replace(_STAGES[name](account, region), **overrides)
