"""One stage of Cradle: the constructs of `infra/constructs/`, wired together.

Read top to bottom it is the deployment: keys and network, the web origin, storage, the database,
identity, GPU inference, the functions of the table, the pipeline around them, the API, migrations,
backups, audit and monitoring. Stage differences come only from `StageConfig`.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, DefaultStackSynthesizer, Environment, Stack, Tags
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cradlepose.function_table import FunctionTable
from infra.config import ROOT, StageConfig
from infra.constructs.api import Api
from infra.constructs.audit import Audit
from infra.constructs.backup import DatabaseBackup
from infra.constructs.database import Database
from infra.constructs.functions import Functions, IdentitySettings, InferenceSettings
from infra.constructs.identity import Identity
from infra.constructs.inference import CONTAINER_NAME, Inference
from infra.constructs.keys import logs_key
from infra.constructs.migrations import Migrations
from infra.constructs.monitoring import Monitoring
from infra.constructs.nag import acknowledge, logical_id
from infra.constructs.network import Network
from infra.constructs.permissions import COGNITO_GRANTS, GrantTargets, InferenceTarget
from infra.constructs.pipeline import (
    ANALYSIS_REPORT,
    BATCH_PIPELINE,
    LEARNING_LOOP,
    Pipeline,
    state_machine_arn,
)
from infra.constructs.storage import Storage, access_log_bucket
from infra.constructs.web import RuntimeConfig, WebHosting, web_build_dir

ASSET_QUALIFIER = DefaultStackSynthesizer.DEFAULT_QUALIFIER


class CradleStack(Stack):
    def __init__(
        self, scope: Construct, *, config: StageConfig, table: FunctionTable, repository: ecr.IRepository
    ) -> None:
        super().__init__(
            scope,
            config.stack_name,
            env=Environment(account=config.account, region=config.region),
            description=f"Cradle {config.name}: infant pose keypoint datasets (health data)",
            termination_protection=config.deletion_protection,
        )
        for tag, value in {"project": "cradle", "stage": config.name, "data-classification": "phi"}.items():
            # DBProxyTargetGroup takes no tags (CloudFormation rejects them).
            Tags.of(self).add(tag, value, exclude_resource_types=["AWS::RDS::DBProxyTargetGroup"])
        grants = {grant for spec in table.functions for grant in spec.grants}
        optional_endpoints = {
            name
            for name, needed in (("cognito", set(COGNITO_GRANTS)), ("bedrock", {"bedrock:invoke"}))
            if needed & grants
        }
        if config.bedrock_model is None:
            optional_endpoints.discard("bedrock")  # the composer writes the reports: nothing calls Bedrock

        key = logs_key(self, config)
        network = Network(self, "Network", config=config, logs_key=key, optional_endpoints=optional_endpoints)
        access_logs = access_log_bucket(self, "AccessLogs", config)
        cloudfront_logs = access_log_bucket(
            self, "CloudFrontLogs", config, for_cloudfront=True, access_logs=access_logs
        )
        web = WebHosting(
            self,
            "Web",
            config=config,
            access_logs=access_logs,
            cloudfront_logs=cloudfront_logs,
            logs_key=key,
            build_dir=web_build_dir(config, ROOT),
        )
        storage = Storage(self, "Storage", config=config, access_logs=access_logs, web_origins=[web.origin])
        database = Database(self, "Database", config=config, network=network, logs_key=key)
        identity = Identity(self, "Identity", config=config, web_origin=web.origin)
        pipeline_arn = state_machine_arn(self, config, BATCH_PIPELINE)
        inference = Inference(
            self,
            "Inference",
            config=config,
            network=network,
            logs_key=key,
            buckets=storage.buckets,
            state_machine_arn=pipeline_arn,
            repository=repository,
        )
        functions = Functions(
            self,
            "Functions",
            config=config,
            table=table,
            network=network,
            logs_key=key,
            targets=GrantTargets(
                buckets=storage.buckets,
                database=database,
                state_machine_arn=pipeline_arn,
                analysis_state_machine_arn=state_machine_arn(self, config, ANALYSIS_REPORT),
                learning_loop_state_machine_arn=state_machine_arn(self, config, LEARNING_LOOP),
                inference=InferenceTarget(
                    cluster=inference.cluster, task_definition=inference.task_definition
                ),
                user_pool=identity.user_pool,
                bedrock_model_id=config.bedrock_model,
            ),
            inference=InferenceSettings(
                cluster_arn=inference.cluster.cluster_arn,
                task_definition_arn=inference.task_definition.task_definition_arn,
                container_name=CONTAINER_NAME,
                capacity_provider=inference.capacity_provider.capacity_provider_name,
                subnet_ids=inference.subnet_ids,
                security_group_ids=[inference.security_group.security_group_id],
            ),
            identity=IdentitySettings(
                user_pool_id=identity.user_pool.user_pool_id,
                client_id=identity.client.user_pool_client_id,
                issuer=identity.issuer,
            ),
            web_origin=web.origin,
        )
        pipeline = Pipeline(
            self,
            "Pipeline",
            config=config,
            functions=functions,
            buckets=storage.buckets,
            logs_key=key,
            inference_cluster_arn=inference.cluster.cluster_arn,
        )
        api = Api(
            self,
            "Api",
            config=config,
            handler=functions.by_name["api"],
            user_pool=identity.user_pool,
            logs_key=key,
            web_origin=web.origin,
        )
        web.deploy(
            RuntimeConfig(
                api_base=api.rest_api.url,
                cognito_endpoint=f"https://cognito-idp.{self.region}.amazonaws.com/",
                client_id=identity.client.user_pool_client_id,
                hosted_ui=identity.domain.base_url(),
                redirect_uri=identity.redirect_uri,
                stage=config.name,
            )
        )
        Migrations(self, "Migrations", config=config, functions=functions, database=database, logs_key=key)
        DatabaseBackup(self, "Backup", config=config, cluster=database.cluster)
        Audit(
            self,
            "Audit",
            config=config,
            access_logs=access_logs,
            logs_key=key,
            data_buckets={name: bucket.bucket for name, bucket in storage.buckets.items()},
        )
        Monitoring(
            self,
            "Monitoring",
            config=config,
            functions=functions.by_name,
            dead_letter_queues=functions.dead_letter_queues,
            state_machines=pipeline.state_machines,
            rest_api=api.rest_api,
            cluster=database.cluster,
            proxy=database.proxy,
        )
        self._acknowledge_cdk_singletons(web.bucket)
        # cfn-lint (and `sam validate --lint`, which runs it) reads these from the template itself.
        self.template_options.metadata = {
            "cfn-lint": {
                "config": {
                    "ignore_checks": [
                        # CDK writes DependsOn on a function's role and policy although a GetAtt already
                        # orders them: redundant, harmless, and not ours to remove.
                        "W3005",
                        # Subnets name their AZs: the stack has an explicit account and region, and the AZs
                        # come from context (so synth works offline) instead of Fn::GetAZs.
                        "W3010",
                    ]
                }
            }
        }
        acknowledge(
            self,
            "Every role's policy here is attached to exactly one role and generated from that role's grants "
            "(AWS::IAM::Policy, CDK's DefaultPolicy). Customer-managed policies would grant exactly the "
            "same; "
            "one-role policies keep least privilege readable next to the role they belong to.",
            "HIPAA.Security-IAMNoInlinePolicy",
        )

        outputs = {
            "ApiUrl": api.rest_api.url,
            "WebUrl": web.origin,
            "HostedUiUrl": identity.domain.base_url(),
            "UserPoolId": identity.user_pool.user_pool_id,
            "UserPoolClientId": identity.client.user_pool_client_id,
            "StateMachineArn": pipeline_arn,
            "ModelsBucket": storage.buckets["models"].bucket.bucket_name,
            "WebBucket": web.bucket.bucket_name,
        }
        for name, function in functions.by_name.items():
            outputs[f"Function{''.join(p.capitalize() for p in name.split('_'))}"] = function.function_name
        for output_id, value in outputs.items():
            CfnOutput(self, output_id, value=value)

    def _acknowledge_cdk_singletons(self, web_bucket: s3.Bucket) -> None:
        """CDK adds a few stack-level helper functions of its own; each gets its reasons here."""
        for child in self.node.children:
            child_id = child.node.id
            if child_id.startswith("Custom::VpcRestrictDefaultSG"):
                acknowledge(
                    child,
                    "CDK's helper that strips every rule from the VPC's default security group (so nothing "
                    "can "
                    "use it) at deploy time. It runs once per deploy, synchronously for CloudFormation, and "
                    "touches no data.",
                    "AwsSolutions-L1",
                    "HIPAA.Security-LambdaConcurrency",
                    "HIPAA.Security-LambdaDLQ",
                    "HIPAA.Security-LambdaInsideVPC",
                )
            if child_id.startswith("Custom::CDKBucketDeployment"):
                acknowledge(
                    child,
                    "CDK's BucketDeployment function copies the built web app (static HTML/JS, no patient "
                    "data) "
                    "from the CDK asset bucket into the web bucket and invalidates the distribution, once "
                    "per "
                    "deploy, synchronously for CloudFormation. CloudFront's API has no VPC endpoint, so it "
                    "runs "
                    "outside the VPC; its wildcards are CDK's read grant on the staged asset, its "
                    "read/write grant "
                    "on the web bucket and key, and cloudfront:CreateInvalidation (no resource-level "
                    "permission).",
                    "AwsSolutions-L1",
                    "HIPAA.Security-LambdaConcurrency",
                    "HIPAA.Security-LambdaDLQ",
                    "HIPAA.Security-LambdaInsideVPC",
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]",
                    "AwsSolutions-IAM5[Action::s3:GetObject*]",
                    "AwsSolutions-IAM5[Action::s3:GetBucket*]",
                    "AwsSolutions-IAM5[Action::s3:List*]",
                    "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
                    "AwsSolutions-IAM5[Action::s3:Abort*]",
                    "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
                    "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                    "AwsSolutions-IAM5[Resource::*]",
                    f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-{ASSET_QUALIFIER}"
                    f"-assets-{self.account}-{self.region}/*]",
                    f"AwsSolutions-IAM5[Resource::<{logical_id(web_bucket)}.Arn>/*]",
                )
