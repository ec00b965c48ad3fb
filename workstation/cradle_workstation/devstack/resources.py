"""What Cradle needs inside the local AWS, made from the same sources as the CDK app.

- Buckets (names from settings); the uploads bucket sends EventBridge notifications and allows
  browser uploads from the web origin (CORS), as in the cloud.
- Every function of `infra/functions.toml` registered in moto's Lambda (the code that runs is
  the in-process handler: see moto_lambda).
- Each state machine of `infra/statemachines/` with its `${...}` placeholders filled with those
  functions' ARNs, as the CDK app's `definition_substitutions` does.
- For each `s3_object_created` event: the CDK app's EventBridge rule (Object Created under
  `incoming/`) with an SQS queue as its target, which the local stack polls to call the function
  (moto's EventBridge cannot target Lambda). The queue redrives to a dead-letter queue after as
  many deliveries as the cloud's rule retries.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from cradle_workstation.devstack import object_expiry
from cradle_workstation.devstack.aws import LocalAws
from cradle_workstation.devstack.functions import ACCOUNT, InProcessFunctions, function_name
from cradlepose import function_table, retention_table
from cradlepose.domain.uploads import INCOMING_PREFIX
from cradlepose.settings import Settings

STATE_MACHINES = function_table.DEFAULT_PATH.parent / "statemachines"
UPLOAD_DELIVERIES = 9  # the cloud rule's first try and its 8 retries
UPLOAD_RETRY_AFTER_S = 10  # SQS visibility timeout: how soon a failed delivery is tried again
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


@dataclass
class EventQueue:
    function: str  # the table's name of the function the events go to
    queue_url: str


@dataclass
class CradleResources:
    buckets: dict[str, str]
    state_machines: dict[str, str] = field(default_factory=dict)  # machine -> ARN
    event_queues: list[EventQueue] = field(default_factory=list)

    @property
    def batch_pipeline_arn(self) -> str:
        return self.state_machines["batch_pipeline"]

    @property
    def analysis_report_arn(self) -> str:
        return self.state_machines["analysis_report"]

    @property
    def learning_loop_arn(self) -> str:
        return self.state_machines["learning_loop"]


def bucket_names(settings: Settings) -> dict[str, str]:
    return {
        "uploads": settings.uploads_bucket,
        "derived": settings.derived_bucket,
        "results": settings.results_bucket,
        "exports": settings.exports_bucket,
        "models": settings.models_bucket,
    }


def create(
    aws: LocalAws, functions: InProcessFunctions, settings: Settings, web_origin: str
) -> CradleResources:
    resources = CradleResources(buckets=bucket_names(settings))
    _buckets(aws, resources.buckets, web_origin)
    object_expiry.put_rules(aws.client("s3"), resources.buckets, retention_table.load())
    _functions(aws, functions)
    for path in sorted(STATE_MACHINES.glob("*.asl.json")):
        machine = path.name.removesuffix(".asl.json")
        resources.state_machines[machine] = _state_machine(aws, functions, machine, path)
    resources.event_queues = _upload_rules(aws, functions, resources.buckets)
    return resources


def _buckets(aws: LocalAws, buckets: dict[str, str], web_origin: str) -> None:
    s3 = aws.client("s3")
    for bucket in buckets.values():
        s3.create_bucket(Bucket=bucket)
    uploads = buckets["uploads"]
    s3.put_bucket_notification_configuration(
        Bucket=uploads, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    s3.put_bucket_cors(
        Bucket=uploads,
        CORSConfiguration={
            "CORSRules": [
                {"AllowedOrigins": [web_origin], "AllowedMethods": ["POST", "GET", "HEAD"],
                 "AllowedHeaders": ["*"], "MaxAgeSeconds": 600}
            ]
        },
    )  # fmt: skip


def _functions(aws: LocalAws, functions: InProcessFunctions) -> None:
    iam, lam = aws.client("iam"), aws.client("lambda")
    role = iam.create_role(
        RoleName="cradle-local-function",
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "lambda.amazonaws.com"}}]}
        ),
    )["Role"]["Arn"]  # fmt: skip
    code = _placeholder_zip()
    for spec in functions.table.functions:
        lam.create_function(
            FunctionName=function_name(spec.name),
            Runtime="python3.12",
            Role=role,
            Handler=spec.handler,
            Code={"ZipFile": code},
            Description=spec.description[:256],
            Timeout=spec.timeout_s,
            MemorySize=spec.memory_mb,
        )


def _placeholder_zip() -> bytes:
    """moto wants code to register a function; what runs is the in-process handler."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "README.txt", "Runs in-process in the local stack: see cradle_workstation.devstack.moto_lambda.\n"
        )
    return buffer.getvalue()


def _state_machine(aws: LocalAws, functions: InProcessFunctions, machine: str, path: Path) -> str:
    arns = {
        event.substitution: functions.arn(spec.name)
        for spec in functions.table.functions
        for event in spec.events
        if isinstance(event, function_table.StateMachineTask) and event.machine == machine
    }
    definition = _PLACEHOLDER.sub(lambda m: arns[m.group(1)], path.read_text())
    arn: str = aws.client("stepfunctions").create_state_machine(
        name=f"cradle-local-{machine.replace('_', '-')}",
        definition=definition,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/cradle-local-states",
    )["stateMachineArn"]
    return arn


def _upload_rules(aws: LocalAws, functions: InProcessFunctions, buckets: dict[str, str]) -> list[EventQueue]:
    sqs, events = aws.client("sqs"), aws.client("events")
    queues = []
    for spec in functions.table.with_event(function_table.S3ObjectCreated):
        for event in spec.events_of(function_table.S3ObjectCreated):
            assert isinstance(event, function_table.S3ObjectCreated)
            name = f"cradle-local-{spec.name.replace('_', '-')}-on-{event.bucket}"
            dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            queue = sqs.create_queue(
                QueueName=name,
                Attributes={
                    "VisibilityTimeout": str(UPLOAD_RETRY_AFTER_S),
                    "RedrivePolicy": json.dumps(
                        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": UPLOAD_DELIVERIES}
                    ),
                },
            )["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            events.put_rule(
                Name=name,
                EventPattern=json.dumps(
                    {"source": ["aws.s3"], "detail-type": ["Object Created"],
                     "detail": {"bucket": {"name": [buckets[event.bucket]]},
                                "object": {"key": [{"prefix": INCOMING_PREFIX}]}}}
                ),
            )  # fmt: skip
            events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
            queues.append(EventQueue(function=spec.name, queue_url=queue))
    return queues
