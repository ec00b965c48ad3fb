"""The admin dashboard and the alarms.

Alarms (every one to an encrypted SNS topic, which e-mails the stage's `alarm_email`: required for
prod, docs/deploy.md): errors and
throttles of every function, messages in any DLQ, failed/timed-out/aborted pipeline executions, API
5xx and p99 latency, database CPU, connections and capacity, RDS Proxy connection pressure.

The dashboard: batches by status, images pre-annotated per minute, inference time per image, images
waiting for annotation and for verification, approval rate, API traffic/4xx/5xx/latency, pipeline
executions, functions, database. The business metrics are the ones `cradlepose.metric_names` lists.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cradlepose import metric_names as m
from cradlepose.domain.enums import BatchStatus
from infra.config import StageConfig
from infra.constructs.keys import data_key

FIVE_MINUTES = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: dict[str, lambda_.Function],
        dead_letter_queues: dict[str, sqs.Queue],
        state_machines: dict[str, sfn.StateMachine],
        rest_api: apigw.RestApi,
        cluster: rds.DatabaseCluster,
        proxy: rds.DatabaseProxy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Alarms",
            topic_name=f"{config.prefix}-alarms",
            master_key=data_key(self, "AlarmsKey", config, "the alarm topic"),
            enforce_ssl=True,
        )
        self._topic_key: kms.IKey | None = self.topic.master_key
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self._action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cw.Alarm] = []

        for name, function in sorted(functions.items()):
            self._alarm(f"{name}Errors", function.metric_errors(period=FIVE_MINUTES), 1, f"{name}: errors")
            self._alarm(
                f"{name}Throttles", function.metric_throttles(period=FIVE_MINUTES), 1, f"{name}: throttled"
            )
        for name, queue in sorted(dead_letter_queues.items()):
            self._alarm(
                f"{name}Dlq",
                queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
                1,
                f"{name}: failed events are waiting in its DLQ",
            )
        for name, machine in sorted(state_machines.items()):
            for metric, label in (
                (machine.metric_failed(period=FIVE_MINUTES), "failed"),
                (machine.metric_timed_out(period=FIVE_MINUTES), "timed out"),
                (machine.metric_aborted(period=FIVE_MINUTES), "aborted"),
            ):
                self._alarm(
                    f"{name}{label.title().replace(' ', '')}", metric, 1, f"{name}: executions {label}"
                )
        self._alarm("Api5xx", rest_api.metric_server_error(period=FIVE_MINUTES), 5, "API: 5xx responses")
        self._alarm(
            "ApiLatencyP99",
            rest_api.metric_latency(period=FIVE_MINUTES, statistic="p99"),
            5000,
            "API: p99 latency above 5 s",
            periods=3,
        )
        self._alarm(
            "DbCpu",
            cluster.metric_cpu_utilization(period=FIVE_MINUTES),
            80,
            "Aurora: CPU above 80 %",
            periods=3,
        )
        self._alarm(
            "DbConnections",
            cluster.metric_database_connections(period=FIVE_MINUTES, statistic="Maximum"),
            500,
            "Aurora: more than 500 connections",
            periods=3,
        )
        self._alarm(
            "DbCapacity",
            cluster.metric("ACUUtilization", period=FIVE_MINUTES, statistic="Maximum"),
            90,
            "Aurora: above 90 % of its maximum ACUs",
            periods=3,
        )
        self._alarm(
            "ProxyBorrowLatency",
            _proxy_metric(proxy, "DatabaseConnectionsBorrowLatency", "p99"),
            1_000_000,  # microseconds
            "RDS Proxy: borrowing a connection takes more than 1 s (p99)",
            periods=3,
        )

        def business(
            metric_name: str,
            statistic: str,
            period: Duration = FIVE_MINUTES,
            service: str = m.TRIGGERS,
            dims: dict[str, str] | None = None,
        ) -> cw.Metric:
            return cw.Metric(
                namespace=m.NAMESPACE,
                metric_name=metric_name,
                dimensions_map={"service": service, **(dims or {})},
                statistic=statistic,
                period=period,
            )

        pipeline = state_machines.get("batch_pipeline")
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{config.prefix}-admin")
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Batches by status",
                stacked=True,
                width=12,
                left=[
                    business(m.BATCHES_IN_STATUS, "Maximum", dims={m.STATUS_DIMENSION: status.value}).with_(
                        label=status.value
                    )
                    for status in BatchStatus
                ],
            ),
            cw.GraphWidget(
                title="Images waiting",
                width=12,
                left=[
                    business(m.IMAGES_AWAITING_ANNOTATION, "Maximum").with_(label="for annotation"),
                    business(m.IMAGES_AWAITING_VERIFICATION, "Maximum").with_(label="for verification"),
                ],
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Uploads per 5 minutes",
                width=6,
                left=[
                    business(m.IMAGES_REGISTERED, "Sum").with_(label="registered"),
                    business(m.UPLOADS_REJECTED, "Sum").with_(label="rejected"),
                ],
            ),
            cw.GraphWidget(
                title="Images pre-annotated per minute",
                width=6,
                left=[business(m.IMAGES_PRE_ANNOTATED, "Sum", Duration.minutes(1))],
            ),
            cw.GraphWidget(
                title="Inference time per image (ms)",
                width=6,
                left=[
                    business(m.INFERENCE_MS_PER_IMAGE, "Average").with_(label="average"),
                    business(m.INFERENCE_MS_PER_IMAGE, "p90").with_(label="p90"),
                ],
            ),
            cw.GraphWidget(
                title="Approval rate (%)",
                width=6,
                left=[
                    cw.MathExpression(
                        expression="IF(verified > 0, 100 * approved / verified, 0)",
                        using_metrics={
                            "approved": business(m.APPROVALS, "Sum", Duration.hours(1), m.API),
                            "verified": business(m.VERIFICATIONS, "Sum", Duration.hours(1), m.API),
                        },
                        label="approved / verified, hourly",
                        period=Duration.hours(1),
                    )
                ],
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="API requests, 4xx, 5xx",
                width=12,
                left=[
                    rest_api.metric_count(period=FIVE_MINUTES),
                    rest_api.metric_client_error(period=FIVE_MINUTES),
                    rest_api.metric_server_error(period=FIVE_MINUTES),
                ],
            ),
            cw.GraphWidget(
                title="API latency (ms)",
                width=12,
                left=[
                    rest_api.metric_latency(period=FIVE_MINUTES, statistic=stat).with_(label=stat)
                    for stat in ("p50", "p90", "p99")
                ],
            ),
        )
        if pipeline is not None:
            dashboard.add_widgets(
                cw.GraphWidget(
                    title="Batch pipeline executions",
                    width=12,
                    left=[
                        pipeline.metric_started(period=FIVE_MINUTES),
                        pipeline.metric_succeeded(period=FIVE_MINUTES),
                        pipeline.metric_failed(period=FIVE_MINUTES),
                        pipeline.metric_timed_out(period=FIVE_MINUTES),
                    ],
                ),
                cw.GraphWidget(
                    title="Function errors",
                    width=12,
                    left=[
                        function.metric_errors(period=FIVE_MINUTES).with_(label=name)
                        for name, function in sorted(functions.items())
                    ],
                ),
            )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Aurora",
                width=12,
                left=[cluster.metric_cpu_utilization(period=FIVE_MINUTES)],
                right=[
                    cluster.metric("ServerlessDatabaseCapacity", period=FIVE_MINUTES, statistic="Average")
                ],
            ),
            cw.GraphWidget(
                title="Connections",
                width=12,
                left=[
                    cluster.metric_database_connections(period=FIVE_MINUTES),
                    _proxy_metric(proxy, "ClientConnections", "Sum"),
                ],
            ),
        )

    def _alarm(
        self, construct_id: str, metric: cw.IMetric, threshold: float, description: str, periods: int = 1
    ) -> None:
        alarm = cw.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        self.alarms.append(alarm)


def _proxy_metric(proxy: rds.DatabaseProxy, metric_name: str, statistic: str) -> cw.Metric:
    return cw.Metric(
        namespace="AWS/RDS",
        metric_name=metric_name,
        dimensions_map={"ProxyName": proxy.db_proxy_name},
        statistic=statistic,
        period=FIVE_MINUTES,
    )
