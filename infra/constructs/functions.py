"""Every Lambda function of `infra/functions.toml`, and only those.

Each function gets: the shared code asset (`functions/`), the core and dependency layers, its own
IAM role holding exactly its grants (`permissions.py`), its own KMS-encrypted log group, X-Ray
tracing, a place in the isolated subnets (a security group that reaches the proxy only when it has
the `db` grant), the CRADLE_* settings for what it may touch, the Powertools variables, reserved
concurrency when the table sets it, and a DLQ with retries when the table marks it asynchronous.
Events are wired by the constructs that own them (API, pipeline, migrations).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cradlepose import metric_names
from cradlepose.function_table import FunctionSpec, FunctionTable, StateMachineTask
from infra.config import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, StageConfig
from infra.constructs.database import PROXY_PORT
from infra.constructs.layers import Layers, function_code
from infra.constructs.nag import acknowledge, logical_id
from infra.constructs.network import Network
from infra.constructs.permissions import DB_GRANTS, GrantTargets, db_user, grant_statements, uses_db

LOG_LEVEL = "INFO"


@dataclass(frozen=True)
class InferenceSettings:
    """The CRADLE_INFERENCE_* values the dispatcher needs to call ecs:RunTask."""

    cluster_arn: str
    task_definition_arn: str
    container_name: str
    capacity_provider: str
    subnet_ids: list[str]
    security_group_ids: list[str]


@dataclass(frozen=True)
class IdentitySettings:
    user_pool_id: str
    client_id: str
    issuer: str


# The batch pipeline's state that plans the chunks (infra/statemachines/batch_pipeline.asl.json).
PLAN_CHUNKS_SUBSTITUTION = "PlanChunksFunction"


def plans_chunks(spec: FunctionSpec) -> bool:
    """The function behind PlanChunks: it gets the stage's chunk size and the Map's concurrency."""
    return any(
        isinstance(event, StateMachineTask) and event.substitution == PLAN_CHUNKS_SUBSTITUTION
        for event in spec.events
    )


def construct_name(function_name: str) -> str:
    return "".join(part.capitalize() for part in function_name.split("_"))


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        table: FunctionTable,
        network: Network,
        logs_key: kms.IKey,
        targets: GrantTargets,
        inference: InferenceSettings,
        identity: IdentitySettings,
        web_origin: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._targets = targets
        self._inference = inference
        self._identity = identity
        self._web_origin = web_origin
        self.layers = Layers(self, "Layers")
        self._code = function_code()
        self._logs_key = logs_key
        database = targets.database
        self.security_group = network.egress_security_group(
            "FunctionSecurityGroup", "Cradle functions: AWS endpoints and S3 only"
        )
        self.db_security_group = network.egress_security_group(
            "DbFunctionSecurityGroup", "Cradle functions with the db grant: endpoints, S3 and RDS Proxy"
        )
        database.allow_from(self.db_security_group, "Cradle functions to RDS Proxy")
        self._network = network

        self.by_name: dict[str, lambda_.Function] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        self.specs: dict[str, FunctionSpec] = {}
        for spec in table.functions:
            self.specs[spec.name] = spec
            self.by_name[spec.name] = self._function(spec)

    # ------------------------------------------------------------------ one function

    def _function(self, spec: FunctionSpec) -> lambda_.Function:
        config = self._config
        name = f"{config.prefix}-{spec.name.replace('_', '-')}"
        cid = construct_name(spec.name)
        role = iam.Role(
            self,
            f"{cid}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{name}: {', '.join(spec.grants) or 'no data access'}",
        )
        log_group = logs.LogGroup(
            self,
            f"{cid}Logs",
            log_group_name=f"/aws/lambda/{name}",
            encryption_key=self._logs_key,
            retention=config.log_retention,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
            )
        )
        # X-Ray and the VPC network-interface actions have no resource-level permissions.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            )
        )
        acknowledge(
            role,
            "Only X-Ray (PutTraceSegments, PutTelemetryRecords) and the Lambda VPC network-interface actions "
            "(ec2:Create/Describe/DeleteNetworkInterface, Assign/UnassignPrivateIpAddresses) use Resource "
            "'*': "
            "AWS supports no resource-level permissions for them. No data action is on '*'.",
            "AwsSolutions-IAM5[Resource::*]",
        )
        for grant in spec.grants:
            if grant in DB_GRANTS:
                database = self._targets.database
                database.grant_connect(role, db_user(spec.grants, database))
                if grant == "db:owner":
                    database.grant_set_app_password(role)
                continue
            for statement in grant_statements(grant, self._targets):
                role.add_to_principal_policy(statement)
        self._acknowledge_object_wildcards(role, spec)

        dlq: sqs.Queue | None = None
        if spec.is_async:
            dlq = sqs.Queue(
                self,
                f"{cid}Dlq",
                queue_name=f"{name}-dlq",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(14),
            )
            acknowledge(
                dlq,
                f"This queue is itself the dead-letter queue of {name} (its Lambda DeadLetterConfig and its "
                "EventBridge/Scheduler target); a DLQ of a DLQ would only move the same messages again.",
                "AwsSolutions-SQS3",
            )
            self.dead_letter_queues[spec.name] = dlq

        function = lambda_.Function(
            self,
            cid,
            function_name=name,
            description=spec.description[:256],
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            handler=spec.handler,
            code=self._code,
            layers=[self.layers.core, self.layers.dependencies],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            reserved_concurrent_executions=spec.reserved_concurrency,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            vpc=self._network.vpc,
            vpc_subnets=self._network.private_subnets,
            security_groups=[self.db_security_group if uses_db(spec.grants) else self.security_group],
            environment=self._environment(spec),
            dead_letter_queue=dlq,
            retry_attempts=2 if spec.is_async else None,
            max_event_age=Duration.hours(6) if spec.is_async else None,
        )
        self._acknowledge_table_choices(function, spec)
        return function

    def _acknowledge_object_wildcards(self, role: iam.Role, spec: FunctionSpec) -> None:
        buckets = sorted({g.split(":")[1] for g in spec.grants if g.startswith("s3:")})
        for bucket in buckets:
            logical = logical_id(self._targets.buckets[bucket].bucket)
            acknowledge(
                role,
                f"Object actions on the keys of the one {bucket} bucket that the function table grants "
                f"({', '.join(g for g in spec.grants if g.startswith(f's3:{bucket}:'))}); object keys are "
                "per batch and image, so they are only known at run time.",
                f"AwsSolutions-IAM5[Resource::<{logical}.Arn>/*]",
            )

    def _acknowledge_table_choices(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        acknowledge(
            function,
            "Python 3.12 on purpose: the pinned dependency set (requirements/lambda.txt, the versions the "
            "tests run) is verified on it; newer runtimes are adopted by changing infra/config.py after "
            "the suite passes on them.",
            "AwsSolutions-L1",
        )
        if spec.reserved_concurrency is None:
            acknowledge(
                function,
                "Reserved concurrency is set in infra/functions.toml where a runaway would hurt (the API and "
                "the upload trigger). This function's concurrency is bounded by its caller: a state machine "
                "task (the Map runs one chunk per GPU instance), one schedule, one deploy or one operator.",
                "HIPAA.Security-LambdaConcurrency",
            )
        if not spec.is_async:
            acknowledge(
                function,
                "Invoked synchronously (API Gateway, Step Functions, the deploy custom resource or an "
                "operator): the caller receives the error and retries or records it. A DLQ only applies to "
                "asynchronous invocations, which this function never gets.",
                "HIPAA.Security-LambdaDLQ",
            )

    # ------------------------------------------------------------------ configuration

    def _environment(self, spec: FunctionSpec) -> dict[str, str]:
        """CRADLE_* for what the function may touch, plus Powertools; nothing secret."""
        config = self._config
        stack = Stack.of(self)
        env = {
            "CRADLE_STAGE": config.name,
            "CRADLE_AWS_REGION": stack.region,
            "CRADLE_COGNITO_USER_POOL_ID": self._identity.user_pool_id,
            "CRADLE_COGNITO_CLIENT_ID": self._identity.client_id,
            "CRADLE_JWT_ISSUER": self._identity.issuer,
            "CRADLE_JWT_AUDIENCE": self._identity.client_id,
            "CRADLE_WEB_ORIGIN": self._web_origin,
            # The same service names and namespace the code's Powertools singletons use
            # (cradlepose.metric_names): the dashboard reads them.
            "POWERTOOLS_SERVICE_NAME": f"cradle-{spec.module.split('.')[0]}",
            "POWERTOOLS_METRICS_NAMESPACE": metric_names.NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": LOG_LEVEL,
            # Events and responses carry health data: never logged, never put in traces.
            "POWERTOOLS_LOGGER_LOG_EVENT": "false",
            "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
            "POWERTOOLS_TRACER_CAPTURE_ERROR": "true",
        }
        if uses_db(spec.grants):
            database = self._targets.database
            env |= {
                "CRADLE_DB_HOST": database.proxy.endpoint,
                "CRADLE_DB_PORT": str(PROXY_PORT),
                "CRADLE_DB_NAME": database.db_name,
                "CRADLE_DB_USER": db_user(spec.grants, database),
                "CRADLE_DB_IAM_AUTH": "true",
            }
            if "db:owner" in spec.grants:  # the migration keeps the app login up to date
                env |= {
                    "CRADLE_DB_APP_USER": database.app_user,
                    "CRADLE_DB_APP_SECRET_ARN": database.app_secret.secret_arn,
                }
        for bucket in sorted({g.split(":")[1] for g in spec.grants if g.startswith("s3:")}):
            env[f"CRADLE_{bucket.upper()}_BUCKET"] = self._targets.buckets[bucket].bucket.bucket_name
        if {"states:start", "states:release", "states:fail_task"} & set(spec.grants):
            env["CRADLE_STATE_MACHINE_ARN"] = self._targets.state_machine_arn
        if "states:start_analysis" in spec.grants:
            env["CRADLE_ANALYSIS_STATE_MACHINE_ARN"] = self._targets.analysis_state_machine_arn
        if "states:start_loop" in spec.grants:
            env["CRADLE_LEARNING_LOOP_STATE_MACHINE_ARN"] = self._targets.learning_loop_state_machine_arn
        if "ecs:run_inference" in spec.grants:
            inference = self._inference
            env |= {
                "CRADLE_INFERENCE_RUNNER": "ecs",
                "CRADLE_INFERENCE_CLUSTER_ARN": inference.cluster_arn,
                "CRADLE_INFERENCE_TASK_DEFINITION_ARN": inference.task_definition_arn,
                "CRADLE_INFERENCE_CONTAINER_NAME": inference.container_name,
                "CRADLE_INFERENCE_CAPACITY_PROVIDER": inference.capacity_provider,
                "CRADLE_INFERENCE_SUBNET_IDS": stack.to_json_string(inference.subnet_ids),
                "CRADLE_INFERENCE_SECURITY_GROUP_IDS": stack.to_json_string(inference.security_group_ids),
            }
        if "bedrock:invoke" in spec.grants and self._targets.bedrock_model_id is not None:
            env["CRADLE_BEDROCK_MODEL_ID"] = self._targets.bedrock_model_id
        if plans_chunks(spec):
            env |= {
                "CRADLE_PIPELINE_CHUNK_SIZE": str(config.pipeline_chunk_size),
                # The Map's MaxConcurrencyPath: one chunk per GPU instance the stage may have, so no
                # chunk's task waits for capacity while its heartbeat runs.
                "CRADLE_INFERENCE_MAX_TASKS": str(config.gpu_max_instances),
            }
        return env
