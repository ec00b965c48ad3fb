"""GPU inference: ECS on an EC2 GPU capacity provider that scales to zero.

The dispatcher Lambda calls ecs:RunTask with this cluster's capacity provider; when no instance is
running, ECS managed scaling starts one (g6.xlarge by default: one NVIDIA L4), the task runs the
pose model over one chunk and reports to Step Functions itself (SendTaskSuccess/Failure/Heartbeat
with the task token), and the group scales back to zero when no task is left. Why ECS on EC2 and
not AWS Batch or Fargate: docs/architecture-aws.md.

The image comes from the stage's ECR repository (its own stack, `infra/stacks/images.py`): `make
deploy` pushes `containers/inference` to it and passes the pushed image's digest
(`-c inference_image_digest=sha256:…`; prod refuses to deploy without one), so each image is a new
task definition revision and nothing can move under a running stage. Synth needs no Docker.

The instances run the ECS-optimized Amazon Linux 2023 GPU AMI (NVIDIA driver 580, CUDA 13), which
the image's torch build (CUDA 13.0) needs: docs/deploy.md, "GPU image and driver".
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cradlepose.adapters.inference import task_environment
from infra.config import StageConfig
from infra.constructs.nag import acknowledge, logical_id
from infra.constructs.network import Network
from infra.constructs.permissions import CALLBACK_ACTIONS, s3_statements
from infra.constructs.storage import Bucket

CONTAINER_NAME = "inference"
# Where training jobs write their weights (cradlepose.models.job_worker: trained/job-<id>/best.pt):
# the task role writes nothing else in the models bucket, so no chunk can overwrite a model's weights.
TRAINED_WEIGHTS_KEYS = "trained/*"


class Inference(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        network: Network,
        logs_key: kms.IKey,
        buckets: dict[str, Bucket],
        state_machine_arn: str,
        repository: ecr.IRepository,
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        self.repository = repository

        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=f"{config.prefix}-inference",
            vpc=network.vpc,
            container_insights_v2=ecs.ContainerInsights.ENHANCED,
        )
        self.security_group = network.egress_security_group(
            "InferenceSecurityGroup", "GPU instances and inference tasks: AWS endpoints and S3 only"
        )

        instance_role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="ECS container instances of the GPU capacity provider",
        )
        user_data = ec2.UserData.for_linux()
        user_data.add_commands("echo ECS_ENABLE_GPU_SUPPORT=true >> /etc/ecs/ecs.config")
        launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            machine_image=ecs.EcsOptimizedImage.amazon_linux2023(ecs.AmiHardwareType.GPU),
            instance_type=ec2.InstanceType(config.gpu_instance_type),
            role=instance_role,
            security_group=self.security_group,
            user_data=user_data,
            require_imdsv2=True,
            http_put_response_hop_limit=2,
            detailed_monitoring=True,
            associate_public_ip_address=False,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        100,
                        encrypted=True,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        delete_on_termination=True,
                    ),
                )
            ],
        )
        group = autoscaling.AutoScalingGroup(
            self,
            "GpuInstances",
            vpc=network.vpc,
            vpc_subnets=network.private_subnets,
            launch_template=launch_template,
            min_capacity=0,
            max_capacity=config.gpu_max_instances,
            new_instances_protected_from_scale_in=True,
            notifications=None,
        )
        acknowledge(
            group,
            "ECS managed scaling owns this group's size (0 when no inference task runs) and replaces an "
            "unhealthy instance by draining it; there is no load balancer, so ELB health checks do not "
            "apply, "
            "and scaling notifications are the ECS capacity provider's events.",
            "AwsSolutions-AS3",
            "HIPAA.Security-AutoScalingGroupELBHealthCheckRequired",
        )
        self.capacity_provider = ecs.AsgCapacityProvider(
            self,
            "GpuCapacity",
            capacity_provider_name=f"{config.prefix}-gpu",
            auto_scaling_group=group,
            enable_managed_scaling=True,
            enable_managed_termination_protection=True,
            enable_managed_draining=True,
            target_capacity_percent=100,
            # The AMI is the ECS-optimized Amazon Linux 2023 one (the launch template). CDK's enum has
            # only AMAZON_LINUX_2 and BOTTLEROCKET: AMAZON_LINUX_2 stands for the ECS-optimized Amazon
            # Linux family and adds the ECS_CLUSTER line to /etc/ecs/ecs.config, which AL2023 reads too.
            machine_image_type=ecs.MachineImageType.AMAZON_LINUX_2,
        )
        self.cluster.add_asg_capacity_provider(self.capacity_provider)
        acknowledge(
            instance_role,
            "The ECS container-agent permissions CDK gives container instances: ecs:Submit* (state changes) "
            "only on this cluster; ecs:Poll and StartTelemetrySession conditioned on this cluster; "
            "DiscoverPollEndpoint, ecr:GetAuthorizationToken and the agent's own log writes, which take no "
            "resource-level permission. The instance role reads no data; the task role does.",
            "AwsSolutions-IAM5[Resource::*]",
            "AwsSolutions-IAM5[Action::ecs:Submit*]",
        )

        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/cradle/{config.name}/inference",
            encryption_key=logs_key,
            retention=config.log_retention,
            removal_policy=removal,
        )
        self.task_definition = ecs.Ec2TaskDefinition(
            self,
            "Task",
            family=f"{config.prefix}-inference",
            network_mode=ecs.NetworkMode.AWS_VPC,
        )
        self.container = self.task_definition.add_container(
            CONTAINER_NAME,
            container_name=CONTAINER_NAME,
            # `tag` takes a tag or a `sha256:` digest (the URI becomes repo@sha256:…).
            image=ecs.ContainerImage.from_ecr_repository(
                self.repository, tag=config.inference_image_reference
            ),
            gpu_count=1,
            memory_reservation_mib=12 * 1024,
            cpu=3 * 1024,
            logging=ecs.LogDriver.aws_logs(stream_prefix="chunk", log_group=log_group),
            # The names the local stack gives its container processes (cradle_workstation.devstack.local_ecs).
            environment=task_environment(
                stage=config.name,
                region=Stack.of(self).region,
                buckets={b: buckets[b].bucket.bucket_name for b in ("uploads", "results", "models")},
            ),
            stop_timeout=Duration.seconds(120),
        )
        acknowledge(
            self.task_definition,
            "The container's environment holds bucket names, the stage and the region: configuration, no "
            "secret. The task reaches AWS with its task role; the manifest and task token come per run.",
            "AwsSolutions-ECS2",
        )
        acknowledge(
            self.task_definition,
            "ecr:GetAuthorizationToken (the task execution role) has no resource-level permission; image "
            "pulls "
            "are limited to the inference repository.",
            "AwsSolutions-IAM5[Resource::*]",
        )
        task_role = self.task_definition.task_role
        acknowledge(
            task_role,
            "The inference task reads the chunk's images (uploads), the model weights (models) and its "
            "manifest, "
            "and writes its results (results); keys are per batch and chunk, known only at run time, so "
            "object "
            "actions cover each of those three buckets' keys, nothing else. Training jobs (the same image) "
            "also read a dataset's YOLO pose export (exports) and write the trained weights (models, only "
            f"under {TRAINED_WEIGHTS_KEYS}, per job).",
            *(
                f"AwsSolutions-IAM5[Resource::<{logical_id(buckets[b].bucket)}.Arn>/*]"
                for b in ("uploads", "models", "results", "exports")
            ),
            f"AwsSolutions-IAM5[Resource::<{logical_id(buckets['models'].bucket)}.Arn>/{TRAINED_WEIGHTS_KEYS}]",
        )
        for statement in (
            *s3_statements(buckets["uploads"], "read"),
            *s3_statements(buckets["models"], "read"),
            *s3_statements(buckets["models"], "write", keys=TRAINED_WEIGHTS_KEYS),
            *s3_statements(buckets["exports"], "read"),
            *s3_statements(buckets["results"], "read"),
            *s3_statements(buckets["results"], "write"),
            iam.PolicyStatement(actions=CALLBACK_ACTIONS, resources=[state_machine_arn]),
        ):
            task_role.add_to_principal_policy(statement)
        self.subnet_ids = network.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids
