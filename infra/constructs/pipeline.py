"""The state machines and the events around them.

- Each state machine from `infra/statemachines/*.asl.json` (the batch pipeline, the analysis
  report, the learning loop), unchanged: its `${...}`
  placeholders get the ARNs of the functions whose `state_machine` event names them. Logging (ALL
  events, no execution data: the payloads name patients' images) and X-Ray tracing on.
- The batch pipeline's Distributed Map (PreAnnotate): its role reads the chunk lists
  (`manifests/*/chunks.json`, ItemReader) and writes under `map-results/` (ResultWriter) in the
  results bucket, with that bucket's key through S3 only, and starts, describes and stops its own
  child executions (`execution:<machine>/PreAnnotate:*`), as AWS documents for a Distributed Map.
- An EventBridge rule: S3 Object Created under `incoming/` in the uploads bucket → the upload trigger.
- An EventBridge rule: ECS Task State Change to STOPPED of the inference cluster's pipeline tasks →
  the task-stopped trigger (it fails the token of a task that died without answering it).
- EventBridge Scheduler schedules for the functions with a `schedule` event (overdue sweep, metrics
  roll-up), in UTC, with retries and the function's DLQ.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cradlepose.domain.pipeline import CHUNK_LIST_NAME, MAP_RESULTS_PREFIX
from cradlepose.function_table import EcsTaskStopped, S3ObjectCreated, Schedule, StateMachineTask
from infra.config import ROOT, StageConfig
from infra.constructs.functions import Functions, construct_name
from infra.constructs.nag import acknowledge, logical_id
from infra.constructs.storage import INCOMING_PREFIX, Bucket

STATE_MACHINES = ROOT / "infra" / "statemachines"
BATCH_PIPELINE = "batch_pipeline"
ANALYSIS_REPORT = "analysis_report"
LEARNING_LOOP = "learning_loop"
DISTRIBUTED_MAP_LABEL = "PreAnnotate"  # the Map's Label: its child executions' ARNs carry it


def state_machine_name(config: StageConfig, machine: str) -> str:
    return f"{config.prefix}-{machine.replace('_', '-')}"


def state_machine_arn(scope: Construct, config: StageConfig, machine: str) -> str:
    """The ARN, built from the fixed name, so functions can hold it without a dependency cycle."""
    stack = Stack.of(scope)
    return stack.format_arn(
        service="states",
        resource="stateMachine",
        resource_name=state_machine_name(config, machine),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


class Pipeline(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: Functions,
        buckets: dict[str, Bucket],
        logs_key: kms.IKey,
        inference_cluster_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        self.state_machines: dict[str, sfn.StateMachine] = {}
        for path in sorted(STATE_MACHINES.glob("*.asl.json")):
            machine = path.name.removesuffix(".asl.json")
            tasks = {
                name: event
                for name, spec in functions.specs.items()
                for event in spec.events
                if isinstance(event, StateMachineTask) and event.machine == machine
            }
            role = iam.Role(
                self,
                f"{construct_name(machine)}Role",
                assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
                description=f"State machine {machine}: invokes its task functions",
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"],
                    resources=[functions.by_name[name].function_arn for name in sorted(tasks)],
                )
            )
            if machine == BATCH_PIPELINE:
                for statement in distributed_map_statements(self, config, machine, buckets["results"]):
                    role.add_to_principal_policy(statement)
                self._acknowledge_distributed_map(role, config, machine, buckets["results"])
            log_group = logs.LogGroup(
                self,
                f"{construct_name(machine)}Logs",
                log_group_name=f"/aws/vendedlogs/states/{state_machine_name(config, machine)}",
                encryption_key=logs_key,
                retention=config.log_retention,
                removal_policy=removal,
            )
            state_machine = sfn.StateMachine(
                self,
                construct_name(machine),
                state_machine_name=state_machine_name(config, machine),
                definition_body=sfn.DefinitionBody.from_file(str(path)),
                definition_substitutions={
                    event.substitution: functions.by_name[name].function_arn for name, event in tasks.items()
                },
                role=role,
                logs=sfn.LogOptions(
                    destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False
                ),
                tracing_enabled=True,
            )
            acknowledge(
                role,
                "CloudWatch Logs delivery (logs:CreateLogDelivery, PutResourcePolicy, DescribeLogGroups, …) "
                "and "
                "X-Ray (PutTraceSegments, GetSamplingRules, …) support no resource-level permissions; CDK "
                "adds "
                "exactly those for logging and tracing. Lambda invocation is on the task functions' ARNs "
                "only.",
                "AwsSolutions-IAM5[Resource::*]",
            )
            self.state_machines[machine] = state_machine

        self._upload_rule(config, functions, buckets)
        self._task_stopped_rules(config, functions, inference_cluster_arn)
        self._schedules(config, functions)

    def _acknowledge_distributed_map(
        self, role: iam.Role, config: StageConfig, machine: str, results: Bucket
    ) -> None:
        bucket = logical_id(results.bucket)
        executions_text = _as_nag_text(Stack.of(self).resolve(child_executions_arn(self, config, machine)))
        acknowledge(
            role,
            "The Distributed Map reads the chunk lists and writes its results under per-batch, per-run "
            "keys known only at run time: reads only of keys ending in /chunks.json under manifests/ "
            "and writes only under map-results/ of the one results bucket; its child executions are "
            "named by Step Functions at run time, so describe/stop are on this machine's "
            f"{DISTRIBUTED_MAP_LABEL} children only.",
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/manifests/*/{CHUNK_LIST_NAME}]",
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/{MAP_RESULTS_PREFIX}*]",
            f"AwsSolutions-IAM5[Resource::{executions_text}]",
        )

    def _upload_rule(self, config: StageConfig, functions: Functions, buckets: dict[str, Bucket]) -> None:
        for name, spec in functions.specs.items():
            for event in spec.events:
                if not isinstance(event, S3ObjectCreated):
                    continue
                bucket = buckets[event.bucket].bucket
                events.Rule(
                    self,
                    f"{construct_name(name)}On{event.bucket.capitalize()}",
                    rule_name=f"{config.prefix}-{name.replace('_', '-')}-on-{event.bucket}",
                    description=f"{event.bucket}: Object Created under {INCOMING_PREFIX} → {name}",
                    event_pattern=events.EventPattern(
                        source=["aws.s3"],
                        detail_type=["Object Created"],
                        detail={
                            "bucket": {"name": [bucket.bucket_name]},
                            "object": {"key": [{"prefix": INCOMING_PREFIX}]},
                        },
                    ),
                    targets=[
                        events_targets.LambdaFunction(
                            functions.by_name[name],
                            dead_letter_queue=functions.dead_letter_queues.get(name),
                            retry_attempts=8,
                            max_event_age=Duration.hours(6),
                        )
                    ],
                )

    def _task_stopped_rules(self, config: StageConfig, functions: Functions, cluster_arn: str) -> None:
        """ECS Task State Change to STOPPED in the inference cluster → the function (a task that died
        without answering its token gets it failed at once, not at the heartbeat timeout)."""
        for name, spec in functions.specs.items():
            for event in spec.events:
                if not isinstance(event, EcsTaskStopped):
                    continue
                events.Rule(
                    self,
                    f"{construct_name(name)}OnTaskStopped",
                    rule_name=f"{config.prefix}-{name.replace('_', '-')}-on-task-stopped",
                    description=f"Inference tasks started by {event.started_by} that stopped → {name}",
                    event_pattern=events.EventPattern(
                        source=["aws.ecs"],
                        detail_type=["ECS Task State Change"],
                        detail={
                            "clusterArn": [cluster_arn],
                            "lastStatus": ["STOPPED"],
                            "startedBy": [event.started_by],
                        },
                    ),
                    targets=[
                        events_targets.LambdaFunction(
                            functions.by_name[name],
                            dead_letter_queue=functions.dead_letter_queues.get(name),
                            retry_attempts=8,
                            max_event_age=Duration.hours(2),
                        )
                    ],
                )

    def _schedules(self, config: StageConfig, functions: Functions) -> None:
        for name, spec in functions.specs.items():
            for index, event in enumerate(spec.events):
                if not isinstance(event, Schedule):
                    continue
                function = functions.by_name[name]
                role = iam.Role(
                    self,
                    f"{construct_name(name)}ScheduleRole{index}",
                    assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
                    description=f"EventBridge Scheduler: invoke {function.function_name}",
                )
                scheduler.Schedule(
                    self,
                    f"{construct_name(name)}Schedule{index}",
                    schedule_name=f"{config.prefix}-{name.replace('_', '-')}-{index}",
                    description=spec.description[:512],
                    schedule=scheduler.ScheduleExpression.expression(event.expression),
                    target=scheduler_targets.LambdaInvoke(
                        function,
                        dead_letter_queue=functions.dead_letter_queues.get(name),
                        retry_attempts=2,
                        max_event_age=Duration.hours(1),
                        role=role,
                    ),
                )
                acknowledge(
                    role,
                    "The scheduler's role may invoke this one function; CDK's grantInvoke also lists its "
                    "versions and aliases (<function ARN>:*), which is still this one function.",
                    f"AwsSolutions-IAM5[Resource::<{logical_id(function)}.Arn>:*]",
                )


def child_executions_arn(scope: Construct, config: StageConfig, machine: str) -> str:
    """The ARNs of the Distributed Map's child executions: `execution:<machine>/<label>:<id>`."""
    return Stack.of(scope).format_arn(
        service="states",
        resource="execution",
        resource_name=f"{state_machine_name(config, machine)}/{DISTRIBUTED_MAP_LABEL}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def distributed_map_statements(
    scope: Construct, config: StageConfig, machine: str, results: Bucket
) -> list[iam.PolicyStatement]:
    """What a Distributed Map needs of its role (AWS: "IAM policies for using Distributed Map states").

    ItemReader (s3:getObject, InputType JSON): s3:GetObject on the chunk lists. ResultWriter
    (s3:putObject): s3:PutObject, GetObject, ListMultipartUploadParts, AbortMultipartUpload under
    its prefix. Both through the bucket's KMS key: Decrypt to read, GenerateDataKey to write.
    The Map runs each item as a child execution of this machine: StartExecution on the machine,
    DescribeExecution and StopExecution on its children.
    """
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{Stack.of(scope).region}.amazonaws.com"}}
    return [
        iam.PolicyStatement(
            actions=["s3:GetObject"],
            resources=[results.bucket.arn_for_objects(f"manifests/*/{CHUNK_LIST_NAME}")],
        ),
        iam.PolicyStatement(
            actions=[
                "s3:PutObject",
                "s3:GetObject",
                "s3:ListMultipartUploadParts",
                "s3:AbortMultipartUpload",
            ],
            resources=[results.bucket.arn_for_objects(f"{MAP_RESULTS_PREFIX}*")],
        ),
        iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[results.key.key_arn],
            conditions=via_s3,
        ),
        iam.PolicyStatement(
            actions=["states:StartExecution"], resources=[state_machine_arn(scope, config, machine)]
        ),
        iam.PolicyStatement(
            actions=["states:DescribeExecution", "states:StopExecution"],
            resources=[child_executions_arn(scope, config, machine)],
        ),
    ]


def _as_nag_text(resolved: object) -> str:
    """A resolved ARN as cdk-nag names it in a finding: `Fn::Join` parts joined, `Ref`s as `<Name>`."""
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        return "".join(_as_nag_text(part) for part in resolved["Fn::Join"][1])
    if isinstance(resolved, dict) and "Ref" in resolved:
        return f"<{resolved['Ref']}>"
    return str(resolved)
