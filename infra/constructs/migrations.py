"""Database migrations on deploy: a custom resource that invokes the `migrate` function.

The functions whose event is `deploy` (`migrate`) are invoked through CDK's custom-resource provider
framework on Create and on every Update, and an Update happens whenever the core layer (which holds
the Alembic migrations) or the function changes. The handler receives the CloudFormation request
(`RequestType` Create/Update/Delete); it upgrades to head on Create/Update, does nothing on Delete,
and returns (the framework answers CloudFormation). `alembic upgrade head` is idempotent, so a
repeated run is harmless.
"""

from __future__ import annotations

from aws_cdk import CustomResource, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from cradlepose.function_table import Deploy
from infra.config import StageConfig
from infra.constructs.database import Database
from infra.constructs.functions import Functions, construct_name
from infra.constructs.nag import acknowledge, logical_id


class Migrations(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: Functions,
        database: Database,
        logs_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        for name, spec in functions.specs.items():
            if not any(isinstance(event, Deploy) for event in spec.events):
                continue
            function = functions.by_name[name]
            provider = cr.Provider(
                self,
                f"{construct_name(name)}Provider",
                on_event_handler=function,
                log_group=logs.LogGroup(
                    self,
                    f"{construct_name(name)}ProviderLogs",
                    encryption_key=logs_key,
                    retention=config.log_retention,
                    removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
                ),
            )
            acknowledge(
                provider,
                "CDK's custom-resource provider framework (a CDK-maintained Node.js function): it only "
                "relays "
                "CloudFormation's request to the migrate function and posts the answer to CloudFormation's "
                "response URL. It touches no data, has no VPC access on purpose (the response URL is public "
                "S3), runs once per deploy, and is synchronous.",
                "AwsSolutions-L1",
                "HIPAA.Security-LambdaConcurrency",
                "HIPAA.Security-LambdaDLQ",
                "HIPAA.Security-LambdaInsideVPC",
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            )
            acknowledge(
                provider,
                "The provider framework may invoke exactly the migrate function; CDK's grantInvoke also "
                "lists its "
                "versions (<function ARN>:*), which is still only this function.",
                f"AwsSolutions-IAM5[Resource::<{logical_id(function)}.Arn>:*]",
            )
            resource = CustomResource(
                self,
                construct_name(name),
                service_token=provider.service_token,
                resource_type="Custom::CradleMigrations",
                properties={
                    # A new layer version (new migrations) or new function code means a new run.
                    "CoreLayer": functions.layers.core.layer_version_arn,
                    "FunctionVersion": function.current_version.version,
                },
            )
            resource.node.add_dependency(database.proxy, database.cluster)
