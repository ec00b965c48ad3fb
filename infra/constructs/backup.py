"""AWS Backup for the database: daily recovery points in a KMS-encrypted vault, per-stage retention.

Aurora's own automated backups (point-in-time restore) stay on too; the Backup plan adds
recovery points that outlive the cluster and can be copied or locked by the account's policy.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.keys import data_key
from infra.constructs.nag import acknowledge


class DatabaseBackup(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, cluster: rds.DatabaseCluster
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=f"{config.prefix}-vault",
            encryption_key=data_key(self, "VaultKey", config, "AWS Backup vault"),
            removal_policy=removal,
        )
        plan = backup.BackupPlan(
            self, "Plan", backup_plan_name=f"{config.prefix}-database", backup_vault=vault
        )
        plan.add_rule(
            backup.BackupPlanRule(
                rule_name="daily",
                schedule_expression=events.Schedule.cron(hour="3", minute="15"),
                delete_after=Duration.days(max(config.db_backup_days, 7)),
            )
        )
        selection = plan.add_selection(
            "Database", resources=[backup.BackupResource.from_rds_database_cluster(cluster)]
        )
        acknowledge(
            selection,
            "AWS Backup's service role uses AWSBackupServiceRolePolicyForBackup, the AWS managed policy AWS "
            "documents for it; it can only create and manage recovery points.",
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]",
        )
