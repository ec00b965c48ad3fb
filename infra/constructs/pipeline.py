"""The state machines and the events around them.

- Each state machine from `infra/statemachines/*.asl.json` (the batch pipeline, the analysis
  report), unchanged: its `${...}`
  placeholders get the ARNs of the functions whose `state_machine` event names them. Logging (ALL
  events, no execution data: the payloads name patients' images) and X-Ray tracing on.
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

from cradlepose.function_table import EcsTaskStopped, S3ObjectCreated, Schedule, StateMachineTask
from infra.config import ROOT, StageConfig
from infra.constructs.functions import Functions, construct_name
from infra.constructs.nag import acknowledge, logical_id
from infra.constructs.storage import INCOMING_PREFIX, Bucket

STATE_MACHINES = ROOT / "infra" / "statemachines"
BATCH_PIPELINE = "batch_pipeline"
ANALYSIS_REPORT = "analysis_report"


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
