"""The web UI in the cloud: a private bucket behind CloudFront, the app and a config.json naming this
stage's API and Cognito client, CORS and Cognito callback URLs for the distribution's origin."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.infra.support import ACCOUNT, REGION, STAGES, Synth

pytestmark = pytest.mark.infra

MARKER = re.compile(r"<<marker:0xbaba:(\d+)>>")


def _only(synth: Synth, stage: str, kind: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = synth.resources(stage, kind).items()
    return logical_id, resource["Properties"]


def _site_origin(synth: Synth, stage: str) -> dict[str, Any]:
    """https://<the distribution's domain>, as CloudFormation writes it."""
    distribution, _ = _only(synth, stage, "AWS::CloudFront::Distribution")
    return {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution, "DomainName"]}]]}


def _joined(value: dict[str, Any], suffix: str) -> dict[str, Any]:
    """`value` (a Fn::Join) with `suffix` appended."""
    return {"Fn::Join": ["", [*value["Fn::Join"][1], suffix]]}


@pytest.mark.parametrize("stage", STAGES)
def test_config_json_names_the_api_the_app_client_and_the_hosted_ui(synth: Synth, stage: str) -> None:
    _, props = _only(synth, stage, "Custom::CDKBucketDeployment")
    assert len(props["SourceObjectKeys"]) == 2  # the app (without the local config.json), and config.json
    markers: dict[str, Any] = {}
    for source in props["SourceMarkers"]:
        markers.update(source)
    staged = [
        (path, json.loads(MARKER.sub(r'"<<marker:0xbaba:\1>>"', path.read_text())))
        for path in synth.outdir.glob("asset.*/config.json")
    ]
    [config] = [c for _, c in staged if c["stage"] == stage]
    # The local stack's config.json (the synth's web folder has one) is not uploaded.
    assert {c["stage"] for _, c in staged} == set(STAGES)
    apps = [p.parent for p in synth.outdir.glob("asset.*/index.html")]
    assert apps
    assert not any((app / "config.json").exists() for app in apps)

    def deploy_time(value: str) -> list[Any]:
        """The parts of the Fn::Join a marker stands for (quotes around it included)."""
        parts: list[Any] = markers[value]["Fn::Join"][1]
        return parts

    template = synth.template(stage)["Resources"]

    def kinds(parts: list[Any]) -> set[str]:
        ids = {p["Ref"] for p in parts if isinstance(p, dict) and "Ref" in p}
        ids |= {p["Fn::GetAtt"][0] for p in parts if isinstance(p, dict) and "Fn::GetAtt" in p}
        return {template[i]["Type"] for i in ids if i in template}

    assert "AWS::ApiGateway::RestApi" in kinds(deploy_time(config["apiBase"]))
    assert kinds(deploy_time(config["clientId"])) == {"AWS::Cognito::UserPoolClient"}
    hosted = config["hostedUi"]
    domain = deploy_time(hosted["domain"])
    assert kinds(domain) == {"AWS::Cognito::UserPoolDomain"}
    assert domain[-1] == f'.auth.{REGION}.amazoncognito.com"'
    redirect = deploy_time(hosted["redirectUri"])
    assert kinds(redirect) == {"AWS::CloudFront::Distribution"}
    assert redirect[0] == '"https://'
    assert redirect[-1] == '/"'
    assert set(hosted["scopes"].split()) == {"openid", "email", "profile"}
    assert config["cognitoEndpoint"] == f"https://cognito-idp.{REGION}.amazonaws.com/"
    assert config["selfSignUp"] is False


@pytest.mark.parametrize("stage", STAGES)
def test_the_app_client_signs_in_with_passwords_or_the_hosted_ui_back_to_the_site(
    synth: Synth, stage: str
) -> None:
    _, client = _only(synth, stage, "AWS::Cognito::UserPoolClient")
    assert set(client["ExplicitAuthFlows"]) >= {"ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH"}
    assert client.get("GenerateSecret", False) is False  # a browser cannot keep a secret: PKCE instead
    assert client["AllowedOAuthFlows"] == ["code"]  # no implicit grant: tokens never travel in URLs
    assert set(client["AllowedOAuthScopes"]) == {"openid", "email", "profile"}
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    site_root = _joined(_site_origin(synth, stage), "/")
    assert client["CallbackURLs"] == [site_root]
    assert client["LogoutURLs"] == [site_root]
    _, domain = _only(synth, stage, "AWS::Cognito::UserPoolDomain")
    assert domain["Domain"] == f"cradle-{stage}-{ACCOUNT}"
    assert "CustomDomainConfig" not in domain


@pytest.mark.parametrize("stage", STAGES)
def test_the_bucket_is_private_and_only_this_distribution_reads_it(synth: Synth, stage: str) -> None:
    buckets = {k: v["Properties"] for k, v in synth.resources(stage, "AWS::S3::Bucket").items()}
    [(bucket_id, bucket)] = [(k, v) for k, v in buckets.items() if k.startswith("WebBucket")]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "WebsiteConfiguration" not in bucket
    [policy] = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources(stage, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    allows = [s for s in policy if s["Effect"] == "Allow"]
    distribution, _ = _only(synth, stage, "AWS::CloudFront::Distribution")
    assert len(allows) == 1
    assert allows[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allows[0]["Action"] == "s3:GetObject"
    source = allows[0]["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Join"][1]
    assert source[-1] == {"Ref": distribution}


@pytest.mark.parametrize("stage", STAGES)
def test_the_distribution_is_https_only_with_security_headers_and_logs(synth: Synth, stage: str) -> None:
    _, props = _only(synth, stage, "AWS::CloudFront::Distribution")
    config = props["DistributionConfig"]
    [origin] = config["Origins"]
    oac, _ = _only(synth, stage, "AWS::CloudFront::OriginAccessControl")
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # OAC, not the legacy OAI
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["Logging"]["Prefix"] == "cloudfront/web/"
    assert config["Logging"]["Bucket"]["Fn::GetAtt"][0].startswith("CloudFrontLogs")
    assert config["DefaultRootObject"] == "index.html"
    headers_id, headers = _only(synth, stage, "AWS::CloudFront::ResponseHeadersPolicy")
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": headers_id}
    security = headers["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31_536_000
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert "script-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp
    assert "https://*.amazoncognito.com" in csp  # the Hosted UI's token endpoint


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_allows_the_site_origin_and_only_it(synth: Synth, stage: str) -> None:
    origin = _site_origin(synth, stage)
    quoted = {"Fn::Join": ["", ["'https://", *origin["Fn::Join"][1][1:], "'"]]}
    options = [
        m["Properties"]
        for m in synth.resources(stage, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    assert options
    for method in options:
        [response] = method["Integration"]["IntegrationResponses"]
        assert response["ResponseParameters"]["method.response.header.Access-Control-Allow-Origin"] == quoted
    responses = synth.resources(stage, "AWS::ApiGateway::GatewayResponse").values()
    assert responses
    for gateway_response in responses:
        headers = gateway_response["Properties"]["ResponseParameters"]
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == quoted
    [api] = [
        f["Properties"]
        for f in synth.resources(stage, "AWS::Lambda::Function").values()
        if "CRADLE_WEB_ORIGIN" in f["Properties"].get("Environment", {}).get("Variables", {})
        and f["Properties"]["Handler"].startswith("api.")
    ]
    assert api["Environment"]["Variables"]["CRADLE_WEB_ORIGIN"] == origin
