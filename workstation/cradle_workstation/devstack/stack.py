"""The local stack: all of Cradle on one machine, as a context manager.

    with LocalStack(LocalStackConfig(state_dir=Path(".cradle"))) as stack:
        print(stack.api_url)

What runs, and what stands in for AWS (docs/local.md has the whole picture):

- PostgreSQL: the embedded server under `<state-dir>/pgdata` (or a given URL), migrated to head.
- moto's server (LocalAws): S3, Step Functions with its ASL interpreter, Lambda, SQS,
  EventBridge, IAM. S3 objects are mirrored under `<state-dir>/s3` (S3Mirror).
- Every function of `infra/functions.toml`, registered in moto's Lambda and run in this process
  (InProcessLambdas); the batch pipeline state machine from its ASL file with their ARNs, its
  Distributed Map run by moto's interpreter with two fixes (DistributedMapFixes).
- S3 Object Created under `incoming/` → EventBridge rule → SQS → the upload trigger (QueuePoller).
- ECS for the inference task (LocalEcsRunner): each chunk runs the container's own entry point,
  `python -m cradle_inference`, as a process on the CPU with the task definition's environment;
  the process answers its task token itself, and its stop is reported to the task-stopped
  trigger as EventBridge would. Training and inference jobs run in threads (LocalJobRunner).
- The scheduled jobs on timers (Scheduler).
- The gateway over HTTP on 127.0.0.1: `/api` (the API Lambda behind the authorizer's checks),
  `/idp` (the local identity provider), `/` (the web UI's files).

Handlers read their settings from the environment, as in Lambda: the stack sets CRADLE_* (and
MOTO_PORT, AWS_*) for its own process and puts everything back when it stops. On start it
creates a local administrator if there is none, and starts again every pipeline run whose
execution is gone (moto forgets executions when the stack stops; the database remembers runs).
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from collections.abc import Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa
from botocore.exceptions import ClientError

from cradle_workstation.devstack import local_identity, object_expiry, resources
from cradle_workstation.devstack.admin_signature import AdminCredentials
from cradle_workstation.devstack.admins import any_admin, create_local_admin
from cradle_workstation.devstack.authorizer import TokenVerifier
from cradle_workstation.devstack.aws import LocalAws
from cradle_workstation.devstack.database import LocalDatabase, app_url, upgrade_as_owner
from cradle_workstation.devstack.event_queues import QueuePoller
from cradle_workstation.devstack.functions import InProcessFunctions, function_name, one_at_a_time
from cradle_workstation.devstack.gateway import LocalGateway
from cradle_workstation.devstack.http_server import HttpServer
from cradle_workstation.devstack.identity_provider import (
    CLIENT_ID,
    POOL_ID,
    LocalIdentityAdapter,
    LocalIdentityProvider,
)
from cradle_workstation.devstack.local_ecs import LocalEcsRunner
from cradle_workstation.devstack.local_jobs import LocalJobRunner
from cradle_workstation.devstack.moto_distributed_map import DistributedMapFixes
from cradle_workstation.devstack.moto_lambda import InProcessLambdas
from cradle_workstation.devstack.s3_mirror import S3Mirror
from cradle_workstation.devstack.scheduler import Job, Scheduler
from cradlepose import function_table
from cradlepose.accounts import users
from cradlepose.adapters import aws as aws_clients
from cradlepose.adapters import inference
from cradlepose.adapters.job_runner import JobRunner
from cradlepose.adapters.job_runner import install_local_runner as install_job_runner
from cradlepose.adapters.workflow import StepFunctionsWorkflow
from cradlepose.bootstrap import default_uow_factory
from cradlepose.db.engine import default_session_factory, reset_default_engine
from cradlepose.db.models import PipelineWait
from cradlepose.domain.actor import RequestContext
from cradlepose.preannotation import pipeline_resume
from cradlepose.settings import get_settings

log = logging.getLogger(__name__)

REPO = function_table.DEFAULT_PATH.parents[1]
STACK_CONTEXT = RequestContext(user_agent="cradle-dev", endpoint="cli:dev", method="CLI")
STOPPED_ERROR = "CradleLocalStackStopped"
OBJECT_EXPIRY_EVERY_S = 3600.0  # S3 applies lifecycle rules about daily; hourly is plenty here
REGION = "us-east-1"


def default_web_root() -> Path | None:
    for candidate in (REPO / "web" / "dist", REPO / "web"):
        if (candidate / "index.html").is_file():
            return candidate
    return None


@dataclass
class LocalStackConfig:
    state_dir: Path
    port: int = 0  # the gateway: API, identity provider, web UI (0: any free port)
    aws_port: int = 0  # moto's server
    fresh: bool = False  # wipe the state directory's data first
    # The owner's URL (the app connects as cradle_api on the same server, trusted, no password);
    # None: the embedded PostgreSQL under <state-dir>/pgdata.
    database_url: str | None = None
    web_root: Path | None = field(default_factory=default_web_root)
    job_runner: JobRunner | None = None  # None: training and inference jobs in threads here
    schedules: bool = True
    create_admin: bool = True
    # Cognito's pool setting: off, a self sign-up waits for AdminConfirmSignUp (docs/security.md).
    auto_confirm_sign_up: bool = False
    admin_username: str = "admin"
    admin_email: str = "admin@example.org"
    pipeline_chunk_size: int | None = None
    pipeline_wait_timeout_s: int | None = None  # WaitForPeople's timeout (None: the settings' day)
    inference_heartbeat_seconds: int | None = None  # RunInference's heartbeat (None: the setting's 900 s)
    heartbeat_every_s: float = 60.0  # the inference container's CRADLE_HEARTBEAT_EVERY_S
    chunk_stop_timeout_s: float = 5.0  # SIGTERM to SIGKILL, when a task is stopped
    log_level: str = "WARNING"  # the handlers' Powertools loggers


class _Environment:
    """Set variables for this process and put the previous values back afterwards."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, values: Mapping[str, str]) -> None:
        for name, value in values.items():
            self._saved.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        _forget_settings()

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()
        _forget_settings()


def _forget_settings() -> None:
    get_settings.cache_clear()
    aws_clients.reset_clients()
    reset_default_engine()


class LocalStack:
    def __init__(self, config: LocalStackConfig) -> None:
        self.config = config
        self._exit = ExitStack()
        self._env = _Environment()
        self.aws = LocalAws(config.aws_port, REGION)
        self.functions = InProcessFunctions(region=REGION)
        self.database_url = ""  # the app login's (cradlepose.db.roles)
        self.migration_database_url = ""  # the owner's: migrations and tests that need the owner
        self.base_url = ""
        self.resources: resources.CradleResources | None = None
        self.runner: LocalEcsRunner | None = None
        self.job_runner: JobRunner | None = None
        self.pollers: list[QueuePoller] = []
        self.scheduler: Scheduler | None = None
        self.identity: LocalIdentityProvider | None = None
        # The key the identity provider's Admin* actions must be signed with (admin_signature).
        self.identity_admin = AdminCredentials("")
        self.admin_username: str | None = None
        self.admin_credentials: Path | None = None  # set when this start created the administrator
        self.restored_objects = 0
        self.resumed_runs: list[int] = []

    # ------------------------------------------------------------------ URLs
    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api"

    @property
    def swagger_url(self) -> str:
        return f"{self.api_url}/swagger"

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/idp/{POOL_ID}"

    @property
    def identity_url(self) -> str:
        return f"{self.base_url}/idp"

    @property
    def state_machine_arn(self) -> str:
        assert self.resources is not None
        return self.resources.batch_pipeline_arn

    @property
    def credentials_dir(self) -> Path:
        return local_identity.credentials_dir(self.config.state_dir)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._exit.close()

    def stop(self) -> None:
        self._exit.close()

    def _start(self) -> None:
        config = self.config
        state = config.state_dir.resolve()
        state.mkdir(parents=True, exist_ok=True)
        if config.fresh:
            for part in ("s3", "identity", "credentials"):
                shutil.rmtree(state / part, ignore_errors=True)
        self.database_url = self._database(state)
        server = HttpServer(config.port)
        self._exit.callback(server.stop)
        self.base_url = server.base_url
        self.aws.start()
        self._exit.callback(self.aws.stop)
        self._exit.callback(self._env.restore)
        # Before the environment: the provider's admin key is this process's AWS credentials.
        self.identity = LocalIdentityProvider(
            local_identity.identity_dir(state),
            self.issuer,
            auto_confirm_sign_up=config.auto_confirm_sign_up,
        )
        self.identity_admin = AdminCredentials.load_or_create(self.identity.state_dir)
        self._env.set(self._environment(state))
        # Metrics are off locally; Powertools still warns at every flush that it has none to send.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        settings = get_settings()

        names = [spec.name for spec in self.functions.table.functions]
        self._exit.enter_context(
            InProcessLambdas({function_name(n): partial(self.functions.invoke, n) for n in names})
        )
        self._exit.enter_context(DistributedMapFixes())
        mirror = self._exit.enter_context(
            S3Mirror(state / "s3", set(resources.bucket_names(settings).values()))
        )
        self.resources = resources.create(self.aws, self.functions, settings, web_origin=self.base_url)
        self._env.set(
            {
                "CRADLE_STATE_MACHINE_ARN": self.resources.batch_pipeline_arn,
                "CRADLE_ANALYSIS_STATE_MACHINE_ARN": self.resources.analysis_report_arn,
                "CRADLE_LEARNING_LOOP_STATE_MACHINE_ARN": self.resources.learning_loop_arn,
                # The CPU trains small runs in seconds: the loop looks at its jobs every 2 s, not 60.
                "CRADLE_LEARNING_LOOP_POLL_SECONDS": "2",
            }
        )

        self._serve(server)
        self._start_inference(config, state)
        # Registered after the runner: on the way out the executions stop first, then the runner
        # stops its tasks and reports their stops, which answers their tokens.
        self._exit.callback(self._end_executions)
        # After the rule and queue exist: restored uploads under incoming/ are announced again.
        self.restored_objects = mirror.restore(self.aws.client("s3"))
        self._start_pollers()
        if config.schedules:
            self._start_schedules()
        if config.create_admin:
            self._ensure_admin(state)
        self.resumed_runs = self._resume()
        self._exit.callback(server.stop)  # registered last: on the way out, requests stop first

    def _database(self, state: Path) -> str:
        """Migrate as the owner; answer the app login's URL, the one the functions get."""
        if self.config.database_url is not None:
            self.migration_database_url = self.config.database_url
            upgrade_as_owner(self.config.database_url)
            return app_url(self.config.database_url)
        database = LocalDatabase.open(state, fresh=self.config.fresh, pool_size=1)
        self._exit.callback(database.close)
        self.migration_database_url = database.migration_url
        return database.url

    def _environment(self, state: Path) -> dict[str, str]:
        values = {
            "CRADLE_STAGE": "local",
            "CRADLE_DATABASE_URL": self.database_url,
            "CRADLE_DB_POOL_SIZE": "8",
            "CRADLE_AWS_ENDPOINT_URL": self.aws.endpoint,
            # The container's code (jobs, weights from s3://) makes its own boto3 clients.
            "AWS_ENDPOINT_URL_S3": self.aws.endpoint,
            "CRADLE_AWS_REGION": REGION,
            "CRADLE_INFERENCE_RUNNER": "local",
            "CRADLE_LOCAL_STATE_DIR": str(state),
            "CRADLE_JWT_ISSUER": self.issuer,
            "CRADLE_JWT_AUDIENCE": CLIENT_ID,
            # Admin routes (invitations, approvals, roles) call the local identity provider with
            # boto3's cognito-idp client, as the API calls Cognito in the cloud; its Admin* actions
            # need a signature with the provider's admin key, as Cognito's need IAM credentials.
            # (moto takes any key; the inference container gets none of this one.)
            "CRADLE_COGNITO_USER_POOL_ID": POOL_ID,
            "CRADLE_COGNITO_ENDPOINT_URL": self.identity_url,
            "AWS_ACCESS_KEY_ID": self.identity_admin.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.identity_admin.secret_access_key,
            "AWS_DEFAULT_REGION": REGION,
            # moto's ASL interpreter calls task Lambdas at localhost:$MOTO_PORT.
            "MOTO_PORT": str(self.aws.port),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": self.config.log_level,
        }
        if self.config.pipeline_chunk_size is not None:
            values["CRADLE_PIPELINE_CHUNK_SIZE"] = str(self.config.pipeline_chunk_size)
        if self.config.pipeline_wait_timeout_s is not None:
            values["CRADLE_PIPELINE_WAIT_TIMEOUT_S"] = str(self.config.pipeline_wait_timeout_s)
        if self.config.inference_heartbeat_seconds is not None:
            values["CRADLE_INFERENCE_HEARTBEAT_SECONDS"] = str(self.config.inference_heartbeat_seconds)
        return values

    def _serve(self, server: HttpServer) -> None:
        assert self.identity is not None
        verifier = TokenVerifier(self.issuer, CLIENT_ID, self.identity.jwks)
        api = one_at_a_time(self.functions.handler("api"))
        gateway = LocalGateway(api, verifier, self.identity, self.config.web_root)
        server.serve(gateway)

    def _start_inference(self, config: LocalStackConfig, state: Path) -> None:
        settings = get_settings()
        environment = inference.task_environment(
            stage=settings.stage,
            region=settings.aws_region,
            buckets={
                "uploads": settings.uploads_bucket,
                "results": settings.results_bucket,
                "models": settings.models_bucket,
            },
            heartbeat_every_s=config.heartbeat_every_s,
        ) | {
            # What points the container at this machine instead of AWS.
            "AWS_ENDPOINT_URL": self.aws.endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "CRADLE_DEVICE": "cpu",
        }
        self.runner = LocalEcsRunner(
            environment,
            self._report_task_stopped,
            region=REGION,
            container_name=settings.inference_container_name,
            log_file=state / "logs" / "inference.log",
            stop_timeout_s=config.chunk_stop_timeout_s,
        ).start_worker()
        inference.install_local_runner(self.runner)
        self._exit.callback(self.runner.close)
        self._exit.callback(inference.install_local_runner, None)
        self.job_runner = config.job_runner or LocalJobRunner()
        install_job_runner(self.job_runner)
        self._exit.callback(install_job_runner, None)

    def _report_task_stopped(self, event: dict[str, object]) -> list[object]:
        """EventBridge's part: the stop of a task goes to each function whose rule matches it.
        Returns what they answered (the local ECS keeps it on the task, for the curious)."""
        detail = event["detail"]
        assert isinstance(detail, dict)
        answers: list[object] = []
        for spec in self.functions.table.with_event(function_table.EcsTaskStopped):
            for rule in spec.events_of(function_table.EcsTaskStopped):
                if isinstance(rule, function_table.EcsTaskStopped) and rule.started_by == detail.get(
                    "startedBy"
                ):
                    result = self.functions.invoke(spec.name, event)
                    log.info("%s: %s", spec.name, result)
                    answers.append(result)
        return answers

    def _start_pollers(self) -> None:
        assert self.resources is not None
        sqs = self.aws.client("sqs")
        for queue in self.resources.event_queues:
            poller = QueuePoller(
                sqs, queue.queue_url, partial(self.functions.invoke, queue.function), name=queue.function
            )
            self.pollers.append(poller.start())
            self._exit.callback(poller.stop)

    def _start_schedules(self) -> None:
        jobs = [
            Job(spec.name, event.local_every_s, partial(self.functions.invoke, spec.name, {}))
            for spec in self.functions.table.with_event(function_table.Schedule)
            for event in spec.events_of(function_table.Schedule)
            if isinstance(event, function_table.Schedule)
        ]
        jobs.append(Job("s3-lifecycle-expiry", OBJECT_EXPIRY_EVERY_S, self._expire_objects))
        self.scheduler = Scheduler(jobs).start()
        self._exit.callback(self.scheduler.stop)

    def _expire_objects(self) -> None:
        assert self.resources is not None
        object_expiry.sweep(self.aws.client("s3"), list(self.resources.buckets.values()))

    def _ensure_admin(self, state: Path) -> None:
        session_factory = default_session_factory()
        self.admin_username = any_admin(session_factory)
        if self.admin_username is not None:
            return
        assert self.identity is not None
        command = users.NewAdmin(username=self.config.admin_username, email=self.config.admin_email)
        admin, self.admin_credentials = create_local_admin(
            session_factory, LocalIdentityAdapter(self.identity), state, command, STACK_CONTEXT
        )
        self.admin_username = admin.username

    def _resume(self) -> list[int]:
        sfn = self.aws.client("stepfunctions")

        def exists(arn: str) -> bool:
            try:
                sfn.describe_execution(executionArn=arn)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                    return False
                raise
            return True

        return pipeline_resume.resume_interrupted(
            default_uow_factory(),
            StepFunctionsWorkflow(sfn),
            self.state_machine_arn,
            exists,
            STACK_CONTEXT,
        )

    def _end_executions(self) -> None:
        """Stop moto's running executions and answer their parked WaitForPeople tokens, so their threads end.

        A stopped execution does not run its Catch: the database keeps the run open, and the next
        start of the stack resumes it.
        """
        if self.resources is None:
            return
        sfn = self.aws.client("stepfunctions")
        try:
            for machine in self.resources.state_machines.values():
                running = sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]
                for execution in running:
                    sfn.stop_execution(
                        executionArn=execution["executionArn"], cause="the local stack stopped"
                    )
            # (the inference tasks' tokens are the tasks' own: the runner reports their stops)
            with default_session_factory()() as session:
                tokens = list(
                    session.scalars(
                        sa.select(PipelineWait.task_token).where(PipelineWait.released_at.is_(None))
                    )
                )
        except Exception:
            log.warning("could not stop the running executions", exc_info=True)
            return
        for token in tokens:
            with suppress(ClientError):  # the execution had already let go of it
                sfn.send_task_failure(taskToken=token, error=STOPPED_ERROR, cause="the local stack stopped")
