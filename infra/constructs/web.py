"""The single-page app on S3 + CloudFront.

A private bucket (KMS, TLS only, versioned, access logs) read by CloudFront through Origin Access
Control; HTTPS only, HTTP/2 and 3, security headers (HSTS, CSP, frame and content-type options,
referrer policy), standard logs, SPA routing (403/404 → /index.html). The app (the folder
`web_dir` of the stage config, `web/dist` or `web/`) is deployed when it has an `index.html`
(without one the distribution serves nothing). `origin` (https://<distribution domain>)
is what CORS on the API and the upload bucket allow and what CRADLE_WEB_ORIGIN says.

The page reads its runtime configuration from `config.json` next to `index.html`: the API's URL,
the Cognito endpoint and app client, and the Hosted UI's domain and callback URL. The stack knows
them only once the API and the user pool exist, so `deploy()` is called last and writes that file
in the same deployment as the app (the local `web/config.json` is left out of the upload).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.keys import data_key
from infra.constructs.nag import acknowledge
from infra.constructs.storage import NO_REPLICATION

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob: https://*.amazonaws.com",
        "connect-src 'self' https://*.amazonaws.com https://*.amazoncognito.com",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self' https://*.amazonaws.com",
        "frame-ancestors 'none'",
    ]
)


def web_build_dir(config: StageConfig, root: Path) -> Path | None:
    """The folder to deploy: the configured one, else web/dist, else web/, when it has index.html."""
    candidates = [config.web_dir] if config.web_dir else [root / "web" / "dist", root / "web"]
    for candidate in candidates:
        if candidate is not None and (candidate / "index.html").is_file():
            return candidate
    return None


class WebHosting(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        access_logs: s3.IBucket,
        cloudfront_logs: s3.IBucket,
        logs_key: kms.IKey,
        build_dir: Path | None,
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        key = data_key(self, "WebKey", config, "the web app bucket")
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="s3/web/",
            lifecycle_rules=[
                s3.LifecycleRule(id="old-builds", noncurrent_version_expiration=Duration.days(30))
            ],
            removal_policy=removal,
        )
        acknowledge(self.bucket, NO_REPLICATION, "HIPAA.Security-S3BucketReplicationEnabled")
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            response_headers_policy_name=f"{config.prefix}-web-security",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(730),
                    include_subdomains=True,
                    preload=True,
                    override=True,
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=CONTENT_SECURITY_POLICY, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
                    override=True,
                ),
                xss_protection=cloudfront.ResponseHeadersXSSProtection(
                    protection=True, mode_block=True, override=True
                ),
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"Cradle {config.name} web app",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=headers,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                compress=True,
            ),
            error_responses=[
                cloudfront.ErrorResponse(
                    http_status=status, response_http_status=200, response_page_path="/index.html"
                )
                for status in (403, 404)
            ],
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=cloudfront_logs,
            log_file_prefix="cloudfront/web/",
        )
        acknowledge(
            self.distribution,
            "Without a custom domain CloudFront serves *.cloudfront.net with its default certificate, whose "
            "security policy AWS fixes (CDK ignores a minimum protocol there). With a domain and an ACM "
            "certificate, set minimum_protocol_version=TLS_V1_2_2021 (docs/architecture-aws.md, Known gaps).",
            "AwsSolutions-CFR4",
        )
        acknowledge(
            self.distribution,
            "The distribution serves only the static app (HTML, JS, CSS: no data, no API). Every data "
            "request "
            "goes to API Gateway, which has its own WAF web ACL; a CloudFront ACL would have to live in "
            "us-east-1, a second region this stack does not otherwise use.",
            "AwsSolutions-CFR2",
        )
        acknowledge(
            self.distribution,
            "Users are clinicians and annotators of the participating hospitals, wherever they travel; "
            "access "
            "is controlled by Cognito accounts (MFA in prod), not by country.",
            "AwsSolutions-CFR1",
        )
        self.origin = f"https://{self.distribution.distribution_domain_name}"
        self._config = config
        self._logs_key = logs_key
        self._build_dir = build_dir
        self._removal = removal
        self.deployment: s3deploy.BucketDeployment | None = None

    def deploy(self, runtime: RuntimeConfig) -> s3deploy.BucketDeployment | None:
        """Upload the app and its config.json (deploy-time values), then invalidate the distribution."""
        if self._build_dir is None:
            return None
        deployment = s3deploy.BucketDeployment(
            self,
            "Deploy",
            sources=[
                s3deploy.Source.asset(str(self._build_dir), exclude=[RUNTIME_CONFIG]),
                s3deploy.Source.json_data(RUNTIME_CONFIG, runtime.as_json()),
            ],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            log_group=logs.LogGroup(
                self,
                "DeployLogs",
                encryption_key=self._logs_key,
                retention=self._config.log_retention,
                removal_policy=self._removal,
            ),
            memory_limit=512,
        )
        acknowledge(
            deployment,
            "CDK's BucketDeployment custom resource: a CDK-maintained function that copies the built "
            "web app "
            "into its bucket and invalidates the distribution once per deploy. It handles no patient "
            "data, "
            "runs synchronously for CloudFormation, and needs the public CloudFront API (no VPC endpoint "
            "exists for it), so it stays outside the VPC.",
            "AwsSolutions-L1",
            "HIPAA.Security-LambdaConcurrency",
            "HIPAA.Security-LambdaDLQ",
            "HIPAA.Security-LambdaInsideVPC",
        )
        self.deployment = deployment
        return deployment


RUNTIME_CONFIG = "config.json"


@dataclass(frozen=True)
class RuntimeConfig:
    """What the page needs to know about its deployment (web/js/config.js reads it)."""

    api_base: str
    cognito_endpoint: str
    client_id: str
    hosted_ui: str  # https://<domain>.auth.<region>.amazoncognito.com
    redirect_uri: str  # one of the app client's callback URLs: the site's root
    stage: str

    def as_json(self) -> dict[str, Any]:
        return {
            "apiBase": self.api_base,
            "cognitoEndpoint": self.cognito_endpoint,
            "clientId": self.client_id,
            "hostedUi": {
                "domain": self.hosted_ui,
                "redirectUri": self.redirect_uri,
                "scopes": "openid email profile",
            },
            # Administrators create accounts in the cloud (the user pool has no self sign-up).
            "selfSignUp": False,
            "stage": self.stage,
        }
