"""Aurora PostgreSQL Serverless v2 behind RDS Proxy.

Encrypted with its own KMS key; IAM authentication on the cluster and on the proxy (Lambdas connect
to the proxy with a 15-minute IAM token, never a password). Two database users, each with its
secret in Secrets Manager (encrypted with the same key, rotated every 30 days by a hosted rotation
function in the VPC, through the Secrets Manager endpoint) and both held by the proxy: the master
user, which owns the schema and only the migrate function may connect as, and the app login
(`cradle_api`), which every other function connects as. Performance Insights, PostgreSQL logs to CloudWatch,
`rds.force_ssl`, backups and deletion protection per stage.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.keys import data_key
from infra.constructs.nag import acknowledge
from infra.constructs.network import Network

ENGINE = rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_17_7)
DB_NAME = "cradle"
# Two database users (cradlepose.db.roles, docs/security.md): the master user owns the schema and
# only the migrate function connects as it; every other function connects as the app login, a
# member of `cradle_app` with DML on the tables and only SELECT/INSERT on audit_logs.
MIGRATION_USER = "cradle"
APP_USER = "cradle_api"
PROXY_PORT = 5432


class Database(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        network: Network,
        logs_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.SNAPSHOT if config.retain_data else RemovalPolicy.DESTROY
        self.key = data_key(
            self, "DatabaseKey", config, "Aurora storage, Performance Insights, the DB secret"
        )
        vpc = network.vpc

        self.cluster_security_group = ec2.SecurityGroup(
            self,
            "ClusterSecurityGroup",
            vpc=vpc,
            description="Aurora: only RDS Proxy and the rotation function",
            allow_all_outbound=False,
        )
        self.proxy_security_group = ec2.SecurityGroup(
            self,
            "ProxySecurityGroup",
            vpc=vpc,
            description="RDS Proxy: only the Cradle functions with the db grant",
            allow_all_outbound=False,
        )
        acknowledge(
            self.cluster_security_group,
            "Ingress is only from RDS Proxy's and the rotation function's security groups (no CIDR at all) "
            "on "
            "the PostgreSQL port; CDK writes the proxy rule's port as the cluster endpoint's port, a "
            "deploy-time "
            "value (5432) that these rules cannot resolve at synth.",
            "HIPAA.Security-EC2RestrictedCommonPorts",
            "HIPAA.Security-EC2RestrictedSSH",
        )
        # The PostgreSQL logs group, made here so it is encrypted and has the stage's retention (RDS
        # writes into it; CDK's cloudwatch_logs_retention would add a log-retention Lambda instead).
        cluster_identifier = f"{config.prefix}-db"
        postgres_logs = logs.LogGroup(
            self,
            "PostgresLogs",
            log_group_name=f"/aws/rds/cluster/{cluster_identifier}/postgresql",
            encryption_key=logs_key,
            retention=config.log_retention,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )

        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=ENGINE,
            description="Cradle: TLS only, slow statements logged",
            parameters={
                "rds.force_ssl": "1",
                "log_min_duration_statement": "2000",
                "log_connections": "1",
                "log_disconnections": "1",
            },
        )
        self.secret = rds.DatabaseSecret(
            self,
            "Secret",
            username=MIGRATION_USER,
            encryption_key=self.key,
            secret_name=f"{config.prefix}/database",
        )
        readers = [
            rds.ClusterInstance.serverless_v2(
                f"reader{i}", scale_with_writer=True, enable_performance_insights=True
            )
            for i in range(1, config.db_readers + 1)
        ]
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=ENGINE,
            cluster_identifier=cluster_identifier,
            port=5432,
            credentials=rds.Credentials.from_secret(self.secret),
            default_database_name=DB_NAME,
            writer=rds.ClusterInstance.serverless_v2("writer", enable_performance_insights=True),
            readers=readers,
            serverless_v2_min_capacity=config.db_min_acu,
            serverless_v2_max_capacity=config.db_max_acu,
            vpc=vpc,
            vpc_subnets=network.private_subnets,
            security_groups=[self.cluster_security_group],
            storage_encrypted=True,
            storage_encryption_key=self.key,
            iam_authentication=True,
            parameter_group=parameters,
            backup=rds.BackupProps(
                retention=Duration.days(config.db_backup_days), preferred_window="02:00-03:00"
            ),
            preferred_maintenance_window="sun:03:30-sun:04:30",
            deletion_protection=config.deletion_protection,
            enable_performance_insights=True,
            performance_insight_encryption_key=self.key,
            performance_insight_retention=rds.PerformanceInsightRetention.DEFAULT,
            cloudwatch_logs_exports=["postgresql"],
            monitoring_interval=Duration.seconds(60),
            copy_tags_to_snapshot=True,
            removal_policy=removal,
        )
        self.cluster.node.add_dependency(postgres_logs)
        acknowledge(
            self.cluster,
            "Enhanced Monitoring's role uses AmazonRDSEnhancedMonitoringRole, the AWS managed policy AWS "
            "documents for it; it only lets RDS publish OS metrics to CloudWatch Logs.",
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]",
        )
        for instance in self.cluster.node.children:
            if isinstance(instance.node.default_child, rds.CfnDBInstance):
                acknowledge(
                    instance,
                    "Aurora backs up the cluster, not its instances: the cluster is in the AWS Backup plan "
                    "(Backup/Plan) and keeps automated backups with point-in-time restore.",
                    "HIPAA.Security-RDSInBackupPlan",
                )
        acknowledge(
            self.cluster,
            "Clients never reach the cluster port: the cluster's security group admits only RDS Proxy "
            "(and the rotation function), in isolated subnets. RDS Proxy for PostgreSQL listens on 5432 "
            "whatever the cluster port, so a non-default port would hide nothing.",
            "AwsSolutions-RDS11",
        )
        if not config.deletion_protection:
            acknowledge(
                self.cluster,
                "Deletion protection is on in prod; dev stacks are torn down and rebuilt and hold no "
                "patient data (docs/deploy.md).",
                "AwsSolutions-RDS10",
                "HIPAA.Security-RDSInstanceDeletionProtectionEnabled",
            )

        # Rotation: the hosted single-user function, inside the VPC, talking to the endpoint and the DB.
        self.rotation_security_group = network.egress_security_group(
            "DbRotationSecurityGroup", "Secrets Manager rotation function for the database secret"
        )
        self.rotation_security_group.add_egress_rule(
            self.cluster_security_group, ec2.Port.tcp(5432), "rotation to Aurora"
        )
        self.cluster_security_group.add_ingress_rule(
            self.rotation_security_group, ec2.Port.tcp(5432), "rotation to Aurora"
        )
        self.secret.add_rotation_schedule(
            "Rotation",
            automatically_after=Duration.days(30),
            hosted_rotation=secretsmanager.HostedRotation.postgre_sql_single_user(
                vpc=vpc,
                vpc_subnets=network.private_subnets,
                security_groups=[self.rotation_security_group],
                function_name=f"{config.prefix}-db-rotation",
            ),
        )

        # The app login's own secret: RDS Proxy logs in with it for the app's IAM-authenticated
        # clients; the migrate function reads it to create the login (and set its password) on every
        # run; its own single-user rotation changes it afterwards. Attached to the cluster, so it
        # carries the host the rotation function needs.
        self.app_secret = rds.DatabaseSecret(
            self,
            "AppSecret",
            username=APP_USER,
            encryption_key=self.key,
            secret_name=f"{config.prefix}/database-app",
        ).attach(self.cluster)
        self.app_secret.add_rotation_schedule(
            "AppRotation",
            automatically_after=Duration.days(30),
            hosted_rotation=secretsmanager.HostedRotation.postgre_sql_single_user(
                vpc=vpc,
                vpc_subnets=network.private_subnets,
                security_groups=[self.rotation_security_group],
                function_name=f"{config.prefix}-db-app-rotation",
            ),
        )

        self.proxy = rds.DatabaseProxy(
            self,
            "Proxy",
            proxy_target=rds.ProxyTarget.from_cluster(self.cluster),
            secrets=[self.secret, self.app_secret],
            vpc=vpc,
            vpc_subnets=network.private_subnets,
            security_groups=[self.proxy_security_group],
            iam_auth=True,
            require_tls=True,
            idle_client_timeout=Duration.minutes(30),
            debug_logging=False,
            db_proxy_name=f"{config.prefix}-proxy",
        )
        self.migration_user = MIGRATION_USER
        self.app_user = APP_USER
        self.db_name = DB_NAME

    def allow_from(self, group: ec2.ISecurityGroup, description: str) -> None:
        """Let `group` open connections to the proxy."""
        self.proxy_security_group.add_ingress_rule(group, ec2.Port.tcp(PROXY_PORT), description)
        group.add_egress_rule(self.proxy_security_group, ec2.Port.tcp(PROXY_PORT), description)

    def grant_connect(self, grantee: iam.IGrantable, user: str) -> None:
        """rds-db:connect as `user` (the app login or the migration role), through the proxy only."""
        self.proxy.grant_connect(grantee, user)

    def grant_set_app_password(self, grantee: iam.IGrantable) -> None:
        """Read the app login's secret (the migrate function: it sets the login's password)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[self.app_secret.secret_arn]
            )
        )
        via = {"StringEquals": {"kms:ViaService": f"secretsmanager.{Stack.of(self).region}.amazonaws.com"}}
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self.key.key_arn], conditions=via)
        )
