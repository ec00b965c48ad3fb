"""The one configuration object. Nothing else in Cradle reads the environment.

Every field comes from an environment variable `CRADLE_<FIELD>` (the CDK app sets them on
each function; the local stack sets them for its own process). Powertools reads its own
`POWERTOOLS_*` variables itself.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024
# The largest chunk: its manifest, its results file and the IngestChunk Lambda that loads them in
# one transaction bound it (docs/workflow.md, "Chunk size").
MAX_CHUNK_SIZE = 100_000


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRADLE_", extra="ignore", frozen=True)

    stage: Literal["local", "test", "dev", "prod"] = "local"

    # --- database: either a full URL (local, tests) or the pieces Aurora needs
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+pg8000://user:pw@host:5432/cradle",
    )
    db_host: str | None = Field(default=None, description="RDS Proxy or cluster endpoint")
    db_port: int = 5432
    db_name: str = "cradle"
    db_user: str | None = None
    db_secret_arn: str | None = Field(
        default=None, description="Secrets Manager secret with username/password"
    )
    db_iam_auth: bool = Field(default=False, description="connect with an IAM token instead of a password")
    # --- the two roles (cradlepose.db.roles): the migration owns the schema, the app only uses it
    migration_database_url: SecretStr | None = Field(
        default=None,
        description="the migration role's URL where it differs from database_url (the local stack)",
    )
    db_app_user: str | None = Field(
        default=None, description="the app's login role, which a migration run creates or refreshes"
    )
    db_app_secret_arn: str | None = Field(
        default=None, description="the app login's secret: the migration run sets its password from it"
    )
    db_pool_size: int = 1
    db_statement_timeout_ms: int = 30_000

    # --- AWS
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = Field(default=None, description="moto's server in the local stack")
    uploads_bucket: str = "cradle-uploads"
    derived_bucket: str = Field(default="cradle-derived", description="thumbnails, overlays, quarantine")
    results_bucket: str = Field(default="cradle-results", description="inference manifests and results")
    exports_bucket: str = "cradle-exports"
    models_bucket: str = Field(
        default="cradle-models", description="model weights (s3://<models_bucket>/...), read by the GPU task"
    )
    state_machine_arn: str | None = None
    analysis_state_machine_arn: str | None = Field(
        default=None,
        description="the analysis reports' state machine (infra/statemachines/analysis_report.asl.json)",
    )
    learning_loop_state_machine_arn: str | None = Field(
        default=None,
        description="the learning loop's state machine (infra/statemachines/learning_loop.asl.json)",
    )
    learning_loop_poll_seconds: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="how long the loop's Wait states pause between looks at its training and evaluation jobs",
    )
    learning_loop_timeout_seconds: int = Field(
        default=172_800,
        ge=60,
        description="the loop's state machine's TimeoutSeconds: a run RUNNING for longer lost its execution "
        "(timed out, or stopped), and the trigger ends it FAILED",
    )

    # --- the batch pipeline
    # The cloud sets its stage's chunk size (infra/config.py, docs/workflow.md "Chunk size"); 64 keeps
    # the CPU's chunks short locally.
    pipeline_chunk_size: int = Field(
        default=64, ge=1, le=MAX_CHUNK_SIZE, description="images per inference task"
    )
    inference_max_tasks: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="chunks inferred at once: one per GPU instance the stage may have",
    )
    inference_heartbeat_seconds: int = Field(
        default=900, ge=1, le=86_400, description="RunInference fails a chunk whose task is silent this long"
    )
    pipeline_wait_timeout_s: int = Field(
        default=86400,
        ge=1,
        le=31536000,
        description="how long WaitForPeople waits before MarkOverdue looks for late assignments",
    )
    claim_idle_timeout_s: int = Field(
        default=1800,
        ge=60,
        le=7 * 24 * 3600,
        description="a verification claim not renewed this long expires and returns to its queue",
    )
    # Where inference runs: "ecs" (a GPU task in the cloud) or "local" (the CPU engine in-process).
    inference_runner: Literal["ecs", "local"] = "local"
    inference_cluster_arn: str | None = None
    inference_task_definition_arn: str | None = None
    inference_container_name: str = "inference"
    inference_capacity_provider: str | None = None
    inference_subnet_ids: list[str] = Field(default_factory=list)
    inference_security_group_ids: list[str] = Field(default_factory=list)

    # --- datasets, collections and model jobs
    collection_retention_days: int = Field(
        default=7, ge=1, le=365, description="how long a packed collection ZIP stays downloadable"
    )
    max_import_bytes: int = Field(default=4 * 1024 * MiB, gt=0, description="largest COCO archive accepted")
    job_stale_after_s: int = Field(
        default=3600, ge=60, description="a running job silent this long (no progress report) has failed"
    )

    # --- uploads
    max_upload_bytes: int = Field(default=50 * MiB, gt=0)
    upload_url_ttl_seconds: int = Field(default=900, gt=0, le=7 * 24 * 3600)
    download_url_ttl_seconds: int = Field(default=300, gt=0, le=24 * 3600)
    thumbnail_max_side: int = Field(default=320, ge=32, le=2048)

    # --- identity: the issuer whose tokens the API trusts
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    cognito_user_pool_id: str | None = None
    cognito_client_id: str | None = None
    cognito_endpoint_url: str | None = Field(
        default=None, description="the local identity provider (the local stack sets it); None: Cognito's own"
    )

    # --- Bedrock: the one foundation model a function with the `bedrock:invoke` grant may call
    bedrock_model_id: str | None = None

    # --- the web UI's origin, allowed by CORS on the API and the upload bucket
    web_origin: str | None = None

    # --- the local stack
    local_state_dir: Path = Path(".cradle")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
