"""The network: private isolated subnets only (no NAT, no internet gateway), and VPC endpoints for
every AWS service the data path calls.

Lambdas, RDS Proxy, Aurora and the GPU tasks live in the isolated subnets. Every call they make to AWS
goes through an endpoint: S3 (gateway, free) and interface endpoints for Secrets Manager, Step
Functions, ECR, CloudWatch Logs, ECS (RunTask and the container agent) and, when a function needs
them, Cognito and Bedrock. Interface endpoints are billed per AZ and hour, so dev keeps them in one AZ.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import StageConfig

INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "StepFunctions": ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Ecs": ec2.InterfaceVpcEndpointAwsService.ECS,
    "EcsAgent": ec2.InterfaceVpcEndpointAwsService.ECS_AGENT,
    "EcsTelemetry": ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY,
}

OPTIONAL_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "cognito": ec2.InterfaceVpcEndpointAwsService.COGNITO_IDP,
    "bedrock": ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME,
}


class Network(Construct):
    """VPC, flow logs, endpoints, and the security group the endpoints accept traffic from."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        logs_key: kms.IKey,
        optional_endpoints: set[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=config.max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=20
                )
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
            restrict_default_security_group=True,  # the default group loses all its rules
        )
        flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            encryption_key=logs_key,
            retention=config.flow_log_retention,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        self.private_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface endpoints: HTTPS from the Cradle own security groups only",
            allow_all_outbound=False,
        )
        endpoint_subnets = ec2.SubnetSelection(
            subnet_type=ec2.SubnetType.PRIVATE_ISOLATED,
            availability_zones=self.vpc.availability_zones[: config.endpoint_azs],
        )
        wanted = dict(INTERFACE_ENDPOINTS)
        wanted.update({name.capitalize(): OPTIONAL_ENDPOINTS[name] for name in sorted(optional_endpoints)})
        for name, service in wanted.items():
            self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=endpoint_subnets,
                security_groups=[self.endpoint_security_group],
                private_dns_enabled=True,
                open=False,  # no VPC-CIDR rule: only the groups that egress_security_group() made
            )

    def egress_security_group(self, construct_id: str, description: str) -> ec2.SecurityGroup:
        """A security group whose only way out is HTTPS: to the interface endpoints and to S3.

        The S3 gateway endpoint is reached through its route, which a security group can only name by
        the region's managed prefix list (a lookup this offline synth avoids), so the S3 rule is
        0.0.0.0/0 on 443: the isolated subnets have no route to anywhere else, so nothing leaves.
        """
        group = ec2.SecurityGroup(
            self, construct_id, vpc=self.vpc, description=description, allow_all_outbound=False
        )
        group.connections.allow_to(self.endpoint_security_group, ec2.Port.tcp(443), "AWS APIs (endpoints)")
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "S3 through the gateway endpoint")
        return group
