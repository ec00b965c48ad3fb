"""The inference image repository of one stage, in a stack of its own.

The stage's main stack deploys an immutable image digest, and a digest exists only once an image is
pushed; the image can only be pushed to a repository that exists. So the repository comes first, in
this small stack (`Cradle-<stage>-images`), and `make deploy` runs: deploy this stack, build and push
the image, read its digest, deploy the main stack with it (docs/deploy.md).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, RemovalPolicy, Stack, Tags
from aws_cdk import aws_ecr as ecr
from constructs import Construct

from infra.config import StageConfig


class ImagesStack(Stack):
    def __init__(self, scope: Construct, *, config: StageConfig) -> None:
        super().__init__(
            scope,
            config.images_stack_name,
            env=Environment(account=config.account, region=config.region),
            description=f"Cradle {config.name}: the inference image repository",
            termination_protection=config.deletion_protection,
        )
        for tag, value in {"project": "cradle", "stage": config.name}.items():
            Tags.of(self).add(tag, value)
        self.repository = ecr.Repository(
            self,
            "InferenceRepository",
            repository_name=f"{config.prefix}-inference",
            image_scan_on_push=True,
            encryption=ecr.RepositoryEncryption.KMS,
            lifecycle_rules=[ecr.LifecycleRule(max_image_count=20, description="keep the last 20 images")],
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
            empty_on_delete=False,
        )
        CfnOutput(self, "RepositoryUri", value=self.repository.repository_uri)
        CfnOutput(self, "RepositoryName", value=self.repository.repository_name)
