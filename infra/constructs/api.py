"""The REST API: one proxy Lambda behind API Gateway, Cognito in front of every route but three.

- `GET /health`, `GET /openapi.json`, `GET /swagger` need no token; every other path and method
  (`ANY /{proxy+}`) goes through the Cognito authorizer (ID tokens) and the Lambda reads the verified
  claims from `requestContext.authorizer.claims`. CORS preflight (OPTIONS) answers from API Gateway
  without a token, for the web origin only.
- Request validation (parameters and body) on every method. The bodies are validated against the
  API's pydantic models in the Lambda (Powertools `enable_validation`); when `docs/openapi.json` is
  committed its schemas can be imported as API Gateway models (docs/deploy.md).
- Stage throttling and a usage plan with a daily quota, JSON access logs (KMS-encrypted), X-Ray,
  execution logs at ERROR without request/response bodies (they hold health data).
- A regional WAF web ACL with the AWS managed rule groups and a per-IP rate limit, logging to
  CloudWatch with the Authorization header redacted. The common rule set's SizeRestrictions_BODY
  (8 KB) only counts: a batch's upload request lists hundreds of files. A rule of our own refuses
  bodies over `cradlepose.api_limits.MAX_REQUEST_BODY_BYTES` (64 KiB), and API Gateway forwards that
  much to WAF (body inspection limit 64 KB instead of 16 KB), so the whole body is inspected.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from cradlepose.api_limits import MAX_REQUEST_BODY_BYTES
from infra.config import StageConfig
from infra.constructs.nag import acknowledge

PUBLIC_PATHS = ("health", "openapi.json", "swagger")
# Managed rules that only count (their verdict is logged, never acted on), and why.
COUNTED_MANAGED_RULES = {
    # 8 KB; the body size is enforced by BodySizeLimit instead, at MAX_REQUEST_BODY_BYTES.
    "AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY",),
}
# The body size API Gateway forwards to WAF (16 KB by default): all of a body the size rule allows.
BODY_INSPECTION_LIMIT = "KB_64"
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        handler: lambda_.IFunction,
        user_pool: cognito.IUserPool,
        logs_key: kms.IKey,
        web_origin: str,
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            encryption_key=logs_key,
            retention=config.log_retention,
            removal_policy=removal,
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{config.prefix}-api",
            description="Cradle HTTPS API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=removal,
            deploy_options=apigw.StageOptions(
                stage_name=config.name,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                throttling_rate_limit=config.api_rate_limit,
                throttling_burst_limit=config.api_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
            disable_execute_api_endpoint=False,
        )
        acknowledge(
            self.rest_api.deployment_stage,
            "Responses are per user and per request (health data behind the user's token); a stage cache "
            "would "
            "have to key on the token to be safe and would keep copies of PHI. No cache, so nothing to "
            "encrypt.",
            "HIPAA.Security-APIGWCacheEnabledAndEncrypted",
        )
        acknowledge(
            self.rest_api.deployment_stage,
            "Client certificates authenticate API Gateway to HTTP backends. The only integration here is "
            "Lambda, "
            "invoked through AWS's signed API, so there is no HTTP backend to present a certificate to; "
            "clients "
            "reach the API over TLS only.",
            "HIPAA.Security-APIGWSSLEnabled",
        )
        acknowledge(
            self.rest_api,
            "API Gateway's account-level CloudWatch role uses the AWS managed policy "
            "AmazonAPIGatewayPushToCloudWatchLogs, the policy AWS documents for it; it only writes logs.",
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        )
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[user_pool], authorizer_name=f"{config.prefix}-cognito"
        )
        validator = self.rest_api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        integration = apigw.LambdaIntegration(handler, proxy=True, allow_test_invoke=False)
        cors = apigw.CorsOptions(
            allow_origins=[web_origin],
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            # The same as the API Lambda's Powertools CORSConfig (functions/api/resolver.py).
            allow_headers=["Authorization", "Content-Type", "If-Match"],
            expose_headers=["ETag"],
            max_age=Duration.minutes(10),
            allow_credentials=False,
        )
        root = self.rest_api.root
        for path in PUBLIC_PATHS:
            resource = root.add_resource(path)
            method = resource.add_method(
                "GET",
                integration,
                authorization_type=apigw.AuthorizationType.NONE,
                request_validator=validator,
            )
            acknowledge(
                method,
                f"GET /{path} is public on purpose: the load balancer/uptime health check and the API "
                "description (OpenAPI document, Swagger UI page). It returns no data.",
                "AwsSolutions-APIG4",
                "AwsSolutions-COG4",
            )
        proxy = root.add_resource("{proxy+}", default_cors_preflight_options=cors)
        proxy.add_method(
            "ANY",
            integration,
            authorizer=self.authorizer,
            authorization_type=apigw.AuthorizationType.COGNITO,
            request_validator=validator,
        )
        root.add_method(
            "ANY",
            integration,
            authorizer=self.authorizer,
            authorization_type=apigw.AuthorizationType.COGNITO,
            request_validator=validator,
        )
        for resource in (proxy,):
            options = resource.node.try_find_child("OPTIONS")
            if options is not None:
                acknowledge(
                    options,
                    "CORS preflight: browsers send OPTIONS without credentials, so it cannot carry a token. "
                    "API Gateway answers it itself (mock integration, no Lambda, no data) for the web "
                    "origin.",
                    "AwsSolutions-APIG4",
                    "AwsSolutions-COG4",
                )
        for response_type in (apigw.ResponseType.DEFAULT_4_XX, apigw.ResponseType.DEFAULT_5_XX):
            self.rest_api.add_gateway_response(
                f"Cors{response_type.response_type}",
                type=response_type,
                response_headers={"Access-Control-Allow-Origin": f"'{web_origin}'"},
            )
        # What API Gateway answers itself (no token, throttled, …) is an RFC 9457 problem document
        # too, the same one the local gateway sends, so clients handle one error shape.
        for response_type, status, title in GATEWAY_PROBLEMS:
            self.rest_api.add_gateway_response(
                f"Problem{response_type.response_type}",
                type=response_type,
                status_code=str(status),
                response_headers={"Access-Control-Allow-Origin": f"'{web_origin}'"},
                templates={"application/problem+json": _problem_template(status, title)},
            )

        plan = self.rest_api.add_usage_plan(
            "UsagePlan",
            name=f"{config.prefix}-default",
            throttle=apigw.ThrottleSettings(
                rate_limit=config.api_rate_limit, burst_limit=config.api_burst_limit
            ),
            quota=apigw.QuotaSettings(limit=config.api_quota_per_day, period=apigw.Period.DAY),
        )
        plan.add_api_stage(stage=self.rest_api.deployment_stage)

        self.web_acl = self._web_acl(config, logs_key, removal)
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.rest_api.deployment_stage.stage_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )

    def _web_acl(self, config: StageConfig, logs_key: kms.IKey, removal: RemovalPolicy) -> wafv2.CfnWebACL:
        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name=group,
                priority=index,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS",
                        name=group,
                        rule_action_overrides=[
                            wafv2.CfnWebACL.RuleActionOverrideProperty(
                                name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                            )
                            for rule in COUNTED_MANAGED_RULES.get(group, ())
                        ]
                        or None,
                    )
                ),
                visibility_config=_visibility(group),
            )
            for index, group in enumerate(MANAGED_RULE_GROUPS)
        ]
        rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name="RatePerIp",
                priority=len(MANAGED_RULE_GROUPS),
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=config.waf_rate_limit_per_5min, aggregate_key_type="IP"
                    )
                ),
                visibility_config=_visibility("RatePerIp"),
            )
        )
        rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name="BodySizeLimit",
                priority=len(MANAGED_RULE_GROUPS) + 1,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
                        # A body past the inspection limit is over the size limit too: MATCH blocks it.
                        field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                            body=wafv2.CfnWebACL.BodyProperty(oversize_handling="MATCH")
                        ),
                        comparison_operator="GT",
                        size=MAX_REQUEST_BODY_BYTES,
                        text_transformations=[
                            wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                        ],
                    )
                ),
                visibility_config=_visibility("BodySizeLimit"),
            )
        )
        web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{config.prefix}-api",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            association_config=wafv2.CfnWebACL.AssociationConfigProperty(
                request_body={
                    "API_GATEWAY": wafv2.CfnWebACL.RequestBodyAssociatedResourceTypeConfigProperty(
                        default_size_inspection_limit=BODY_INSPECTION_LIMIT
                    )
                }
            ),
            rules=rules,
            visibility_config=_visibility(f"{config.prefix}-api"),
        )
        waf_logs = logs.LogGroup(
            self,
            "WafLogs",
            log_group_name=f"aws-waf-logs-{config.prefix}-api",  # WAF requires the aws-waf-logs- prefix
            encryption_key=logs_key,
            retention=config.log_retention,
            removal_policy=removal,
        )
        stack = Stack.of(self)
        wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=web_acl.attr_arn,
            log_destination_configs=[
                stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=waf_logs.log_group_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": "authorization"})
            ],
        )
        return web_acl


GATEWAY_PROBLEMS = (
    (apigw.ResponseType.UNAUTHORIZED, 401, "Authentication required"),
    (apigw.ResponseType.ACCESS_DENIED, 403, "Not allowed"),
    (apigw.ResponseType.THROTTLED, 429, "Too many requests"),
    (apigw.ResponseType.REQUEST_TOO_LARGE, 413, "Payload too large"),
    (apigw.ResponseType.WAF_FILTERED, 403, "Refused by the web application firewall"),
)


def _problem_template(status: int, title: str) -> str:
    slug = title.lower().replace(" ", "-")
    return (
        '{"type": "https://cradle.example.org/problems/' + slug + '", "title": "' + title + '", '
        '"status": ' + str(status) + ', "detail": $context.error.messageString, '
        '"request_id": "$context.requestId"}'
    )


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name.replace(".", "-"), sampled_requests_enabled=True
    )
