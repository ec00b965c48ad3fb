"""The properties a security review asks about, asserted on the synthesized templates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from cradlepose import function_table, retention_table
from infra.config import ROOT, stage_config
from infra.constructs.api import PUBLIC_PATHS
from infra.constructs.permissions import uses_db
from tests.infra.support import ACCOUNT, REGION, STAGES, Synth

pytestmark = pytest.mark.infra

DATA_ACTION_PREFIXES = (
    "s3:",
    "kms:",
    "rds-db:",
    "secretsmanager:",
    "states:Start",
    "states:SendTask",
    "ecs:RunTask",
    "cognito-idp:",
    "bedrock:",
    "dynamodb:",
    "sqs:",
)


def _statements(synth: Synth, stage: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, policy in synth.resources(stage, "AWS::IAM::Policy").items():
        found += [(logical_id, s) for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    for logical_id, role in synth.resources(stage, "AWS::IAM::Role").items():
        for inline in role["Properties"].get("Policies", []):
            found += [(logical_id, s) for s in inline["PolicyDocument"]["Statement"]]
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("stage", STAGES)
def test_buckets_are_private_encrypted_versioned_and_logged(synth: Synth, stage: str) -> None:
    buckets = synth.resources(stage, "AWS::S3::Bucket")
    assert len(buckets) >= 8
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        algorithm = encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
        if logical_id.startswith(("AccessLogs", "CloudFrontLogs")):
            assert algorithm == "AES256"  # log targets cannot be SSE-KMS
        else:
            assert algorithm == "aws:kms", logical_id
            assert "KMSMasterKeyID" in encryption["ServerSideEncryptionByDefault"], logical_id
            assert "LoggingConfiguration" in props, logical_id
        assert "AccessControl" not in props, logical_id


@pytest.mark.parametrize("stage", STAGES)
def test_every_bucket_policy_denies_plain_http_and_old_tls(synth: Synth, stage: str) -> None:
    buckets = set(synth.resources(stage, "AWS::S3::Bucket"))
    covered = set()
    for policy in synth.resources(stage, "AWS::S3::BucketPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        denies = {json.dumps(s["Condition"], sort_keys=True) for s in statements if s["Effect"] == "Deny"}
        assert json.dumps({"Bool": {"aws:SecureTransport": "false"}}, sort_keys=True) in denies
        assert json.dumps({"NumericLessThan": {"s3:TlsVersion": 1.2}}, sort_keys=True) in denies
        covered.add(policy["Properties"]["Bucket"]["Ref"])
    assert covered == buckets


def test_only_the_upload_bucket_answers_cors_and_sends_events(synth: Synth) -> None:
    for stage in STAGES:
        with_cors = [
            k
            for k, b in synth.resources(stage, "AWS::S3::Bucket").items()
            if "CorsConfiguration" in b["Properties"]
        ]
        assert len(with_cors) == 1
        assert with_cors[0].startswith("StorageUploads")
        rule = synth.resources(stage, "AWS::S3::Bucket")[with_cors[0]]["Properties"]["CorsConfiguration"][
            "CorsRules"
        ][0]
        assert rule["AllowedOrigins"] != ["*"]
        events = [
            k
            for k, b in synth.resources(stage, "AWS::S3::Bucket").items()
            if b["Properties"].get("NotificationConfiguration", {}).get("EventBridgeConfiguration")
        ]
        assert events == with_cors


@pytest.mark.parametrize("stage", STAGES)
def test_every_expiry_rule_of_the_retention_table_is_on_its_bucket(synth: Synth, stage: str) -> None:
    # Given the table of objects that expire (infra/retention.toml), which the local stack also uses
    rules = retention_table.load().rule
    assert {rule.id for rule in rules} >= {"incoming-leftovers", "import-archives", "quarantine"}
    template = Template.from_json(synth.template(stage))
    buckets = synth.resources(stage, "AWS::S3::Bucket")
    for rule in rules:
        # Then the bucket of that role carries the rule, with the stage's age and prefix
        expected = {"Id": rule.id, "Status": "Enabled", "ExpirationInDays": rule.days_for(stage)}
        if rule.prefix:
            expected["Prefix"] = rule.prefix
        holders = [
            logical_id
            for logical_id, bucket in buckets.items()
            if any(
                all(candidate.get(key) == value for key, value in expected.items())
                for candidate in bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
            )
        ]
        assert len(holders) == 1, f"{rule.id}: on {holders}"
        assert holders[0].startswith(f"Storage{rule.bucket.capitalize()}"), holders
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {"Prefix": "incoming/", "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}
                        )
                    ]
                )
            }
        },
    )


@pytest.mark.parametrize("stage", STAGES)
def test_every_route_but_the_public_three_needs_a_cognito_token(synth: Synth, stage: str) -> None:
    template = synth.template(stage)
    paths = {
        k: v["Properties"]["PathPart"] for k, v in synth.resources(stage, "AWS::ApiGateway::Resource").items()
    }
    methods = synth.resources(stage, "AWS::ApiGateway::Method")
    public = []
    for logical_id, method in methods.items():
        props = method["Properties"]
        parent = props["ResourceId"].get("Ref")
        path = paths.get(parent, "/")
        if props["HttpMethod"] == "OPTIONS":
            assert props["AuthorizationType"] == "NONE"
            assert props["Integration"]["Type"] == "MOCK", (
                f"{logical_id}: preflight must not reach the Lambda"
            )
            continue
        if props["AuthorizationType"] == "NONE":
            public.append((props["HttpMethod"], path))
            continue
        assert props["AuthorizationType"] == "COGNITO_USER_POOLS", logical_id
        authorizer = template["Resources"][props["AuthorizerId"]["Ref"]]["Properties"]
        assert authorizer["Type"] == "COGNITO_USER_POOLS"
        assert "RequestValidatorId" in props
    assert sorted(public) == sorted(("GET", path) for path in PUBLIC_PATHS)
    assert any(p == "{proxy+}" for p in paths.values())


@pytest.mark.parametrize("stage", STAGES)
def test_api_has_waf_throttling_access_logs_and_tracing(synth: Synth, stage: str) -> None:
    template = Template.from_json(synth.template(stage))
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "MethodSettings": Match.array_with(
                [Match.object_like({"DataTraceEnabled": False, "ThrottlingRateLimit": Match.any_value()})]
            ),
        },
    )
    template.resource_count_is("AWS::WAFv2::WebACLAssociation", 1)
    template.resource_count_is("AWS::ApiGateway::UsagePlan", 1)
    acl = next(iter(synth.resources(stage, "AWS::WAFv2::WebACL").values()))["Properties"]
    groups = {r["Statement"].get("ManagedRuleGroupStatement", {}).get("Name") for r in acl["Rules"]}
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= groups
    assert any("RateBasedStatement" in r["Statement"] for r in acl["Rules"])


def test_gateway_refusals_are_problem_documents_like_the_local_gateways(synth: Synth) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synth.resources("dev", "AWS::ApiGateway::GatewayResponse").values()
    }
    unauthorized = responses["UNAUTHORIZED"]
    assert unauthorized["StatusCode"] == "401"
    body = unauthorized["ResponseTemplates"]["application/problem+json"]
    assert '"status": 401' in body
    assert "$context.requestId" in body
    assert {"ACCESS_DENIED", "THROTTLED", "REQUEST_TOO_LARGE", "WAF_FILTERED"} <= set(responses)


@pytest.mark.parametrize("stage", STAGES)
def test_no_wildcard_actions_and_no_data_action_on_every_resource(synth: Synth, stage: str) -> None:
    for logical_id, statement in _statements(synth, stage):
        if statement["Effect"] != "Allow":
            continue
        actions = _as_list(statement["Action"])
        for action in actions:
            assert action != "*", logical_id
            assert not action.endswith(":*"), f"{logical_id}: {action}"
        if "*" in _as_list(statement.get("Resource")):
            data = [a for a in actions if a.startswith(DATA_ACTION_PREFIXES)]
            # ecr:GetAuthorizationToken and the agent/X-Ray/ENI/log-delivery actions have no resource level;
            # kms:* on '*' appears only in key policies, which are not IAM policies.
            assert not data, f"{logical_id}: data actions {data} on Resource '*'"


@pytest.mark.parametrize("stage", STAGES)
def test_each_function_role_holds_exactly_its_grants(synth: Synth, stage: str) -> None:
    table = function_table.load()
    policies = synth.resources(stage, "AWS::IAM::Policy")
    for spec in table.functions:
        role = "Functions" + "".join(p.capitalize() for p in spec.name.split("_")) + "Role"
        docs = [
            p["Properties"]["PolicyDocument"]["Statement"] for k, p in policies.items() if k.startswith(role)
        ]
        actions = {a for statements in docs for s in statements for a in _as_list(s["Action"])}
        assert ("rds-db:connect" in actions) == uses_db(spec.grants), spec.name
        starts = {"states:start", "states:start_analysis", "states:start_loop"} & set(spec.grants)
        assert ("states:StartExecution" in actions) == bool(starts), spec.name
        assert ("states:SendTaskSuccess" in actions) == ("states:release" in spec.grants), spec.name
        assert ("states:SendTaskFailure" in actions) == ("states:fail_task" in spec.grants), spec.name
        assert "states:SendTaskHeartbeat" not in actions, f"{spec.name}: only the inference task heartbeats"
        assert ("ecs:RunTask" in actions) == ("ecs:run_inference" in spec.grants), spec.name
        assert ("s3:DeleteObject" in actions) == any(g.endswith(":delete") for g in spec.grants), spec.name
        assert ("s3:PutObject" in actions) == any(g.endswith(":write") for g in spec.grants), spec.name
        # IAM auth, no password: only the migration reads a secret, the app login's (it sets its password)
        assert ("secretsmanager:GetSecretValue" in actions) == ("db:owner" in spec.grants), spec.name
        assert ("cognito-idp:AdminDisableUser" in actions) == ("cognito:admin" in spec.grants), spec.name
        creates_users = {"cognito:create_users", "cognito:admin"} & set(spec.grants)
        assert ("cognito-idp:AdminCreateUser" in actions) == bool(creates_users), spec.name
        assert "cognito-idp:AdminGetUser" not in actions, f"{spec.name}: no code calls it"
        assert "kms:Encrypt" not in actions, f"{spec.name}: S3 encrypts with data keys"


@pytest.mark.parametrize("stage", STAGES)
def test_the_inference_task_writes_results_and_trained_weights_only(synth: Synth, stage: str) -> None:
    task = next(iter(synth.resources(stage, "AWS::ECS::TaskDefinition").values()))
    role = task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    writes = [
        json.dumps(statement["Resource"], sort_keys=True)
        for policy in synth.resources(stage, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "s3:PutObject" in _as_list(statement["Action"])
    ]

    assert len(writes) == 2, writes
    assert any("StorageResults" in w and '"/*"' in w for w in writes), writes
    assert any("StorageModels" in w and '"/trained/*"' in w for w in writes), writes


@pytest.mark.parametrize("stage", STAGES)
def test_functions_come_from_the_table_and_only_from_it(synth: Synth, stage: str) -> None:
    table = function_table.load()
    functions = {
        f["Properties"]["FunctionName"]: f["Properties"]
        for f in synth.resources(stage, "AWS::Lambda::Function").values()
        if "FunctionName" in f["Properties"]
    }
    config = stage_config(stage, account=ACCOUNT, region=REGION)
    ours = {name: props for name, props in functions.items() if name.startswith(f"{config.prefix}-")}
    ours.pop(f"{config.prefix}-db-rotation", None)
    ours.pop(f"{config.prefix}-db-app-rotation", None)
    assert sorted(ours) == sorted(f"{config.prefix}-{s.name.replace('_', '-')}" for s in table.functions)
    for spec in table.functions:
        props = ours[f"{config.prefix}-{spec.name.replace('_', '-')}"]
        assert props["Handler"] == spec.handler
        assert props["MemorySize"] == spec.memory_mb
        assert props["Timeout"] == spec.timeout_s
        assert props.get("ReservedConcurrentExecutions") == spec.reserved_concurrency
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Runtime"] == "python3.12"
        assert props["Architectures"] == ["x86_64"]
        assert len(props["Layers"]) == 2
        assert "SubnetIds" in props["VpcConfig"]
        assert ("DeadLetterConfig" in props) == spec.is_async, spec.name
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == ("cradle-api" if spec.name == "api" else "cradle-triggers")
        assert env["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
        assert env["CRADLE_STAGE"] == stage
        assert ("CRADLE_DB_HOST" in env) == uses_db(spec.grants)
        if uses_db(spec.grants):
            assert env["CRADLE_DB_IAM_AUTH"] == "true"
            assert "CRADLE_DB_SECRET_ARN" not in env
            owner = "db:owner" in spec.grants
            assert env["CRADLE_DB_USER"] == ("cradle" if owner else "cradle_api"), spec.name
            assert ("CRADLE_DB_APP_SECRET_ARN" in env) == owner, spec.name
        if "ecs:run_inference" in spec.grants:
            assert env["CRADLE_INFERENCE_RUNNER"] == "ecs"
            assert "CRADLE_INFERENCE_TASK_DEFINITION_ARN" in env


@pytest.mark.parametrize("stage", STAGES)
def test_state_machines_are_the_files_with_their_substitutions_logged_and_traced(
    synth: Synth, stage: str
) -> None:
    machines = synth.resources(stage, "AWS::StepFunctions::StateMachine")
    table = function_table.load()
    files = sorted(
        p.name.removesuffix(".asl.json") for p in (ROOT / "infra" / "statemachines").glob("*.asl.json")
    )
    assert len(machines) == len(files) == 3, (
        files
    )  # the batch pipeline, the analysis report, the learning loop
    for machine in files:
        (props,) = [
            m["Properties"] for m in machines.values() if m["Properties"]["StateMachineName"].endswith(
                machine.replace("_", "-"))
        ]  # fmt: skip
        assert props["TracingConfiguration"] == {"Enabled": True}
        assert props["LoggingConfiguration"]["Level"] == "ALL"
        assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
        expected = {
            e.substitution
            for s in table.functions
            for e in s.events
            if isinstance(e, function_table.StateMachineTask) and e.machine == machine
        }
        assert set(props["DefinitionSubstitutions"]) == expected, machine


def test_the_api_may_start_every_machine_and_only_the_trigger_may_also_start_the_loop(synth: Synth) -> None:
    env_of = {
        logical_id: f["Properties"].get("Environment", {}).get("Variables", {})
        for logical_id, f in synth.resources("dev", "AWS::Lambda::Function").items()
    }
    (api,) = [env for logical_id, env in env_of.items() if logical_id.startswith("FunctionsApi")]
    assert "CRADLE_STATE_MACHINE_ARN" in api
    assert "CRADLE_ANALYSIS_STATE_MACHINE_ARN" in api
    holders = [logical_id for logical_id, env in env_of.items() if "CRADLE_ANALYSIS_STATE_MACHINE_ARN" in env]
    assert len(holders) == 1, holders
    assert "CRADLE_LEARNING_LOOP_STATE_MACHINE_ARN" in api
    loop_starters = sorted(
        logical_id for logical_id, env in env_of.items() if "CRADLE_LEARNING_LOOP_STATE_MACHINE_ARN" in env
    )
    assert len(loop_starters) == 2, loop_starters
    assert any(logical_id.startswith("FunctionsLearningLoopTrigger") for logical_id in loop_starters), (
        loop_starters
    )


@pytest.mark.parametrize("stage", STAGES)
def test_events_and_schedules_follow_the_table(synth: Synth, stage: str) -> None:
    rules = synth.resources(stage, "AWS::Events::Rule").values()
    (rule,) = [r for r in rules if r["Properties"]["EventPattern"]["detail-type"] == ["Object Created"]]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "incoming/"}]
    assert "DeadLetterConfig" in rule["Properties"]["Targets"][0]
    schedules = sorted(
        s["Properties"]["ScheduleExpression"]
        for s in synth.resources(stage, "AWS::Scheduler::Schedule").values()
    )
    table = function_table.load()
    assert schedules == sorted(
        e.expression for s in table.functions for e in s.events if isinstance(e, function_table.Schedule)
    )


@pytest.mark.parametrize("stage", STAGES)
def test_a_stopped_inference_task_reaches_the_task_stopped_trigger(synth: Synth, stage: str) -> None:
    """A task that dies without answering its token (killed, OOM, Spot) has it failed at once."""
    resources = synth.template(stage)["Resources"]
    rules = [
        r["Properties"]
        for r in synth.resources(stage, "AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"]["detail-type"] == ["ECS Task State Change"]
    ]
    assert len(rules) == 1
    (rule,) = rules
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.ecs"]
    assert pattern["detail"]["lastStatus"] == ["STOPPED"]
    assert pattern["detail"]["startedBy"] == ["cradle-pipeline"]  # not the ML jobs' tasks
    (cluster_arn,) = pattern["detail"]["clusterArn"]
    (cluster,) = [k for k, r in resources.items() if r["Type"] == "AWS::ECS::Cluster"]
    assert cluster_arn == {"Fn::GetAtt": [cluster, "Arn"]}
    (target,) = rule["Targets"]
    function = target["Arn"]["Fn::GetAtt"][0]
    assert resources[function]["Properties"]["Handler"] == "triggers.pipeline.inference_task_stopped"
    assert "DeadLetterConfig" in target
    # and the trigger may fail the pipeline's tokens
    role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    actions = {
        action
        for policy in resources.values()
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert "states:SendTaskFailure" in actions
    # and the ASL retries a chunk whose task stopped
    asl = (ROOT / "infra" / "statemachines" / "batch_pipeline.asl.json").read_text()
    assert '"InferenceTaskStopped"' in asl


@pytest.mark.parametrize("stage", STAGES)
def test_database_is_encrypted_iam_authenticated_and_behind_a_tls_proxy(synth: Synth, stage: str) -> None:
    config = stage_config(stage, account=ACCOUNT, region=REGION)
    template = Template.from_json(synth.template(stage))
    template.has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "StorageEncrypted": True,
            "KmsKeyId": Match.any_value(),
            "EnableIAMDatabaseAuthentication": True,
            "DeletionProtection": config.deletion_protection,
            "BackupRetentionPeriod": config.db_backup_days,
            "ServerlessV2ScalingConfiguration": {
                "MinCapacity": config.db_min_acu,
                "MaxCapacity": config.db_max_acu,
            },
        },
    )
    template.has_resource_properties(
        "AWS::RDS::DBInstance", {"EnablePerformanceInsights": True, "PubliclyAccessible": False}
    )
    template.has_resource_properties(
        "AWS::RDS::DBProxy",
        # Two database users behind the proxy: the owner (migrations) and the app login.
        {"RequireTLS": True, "Auth": [Match.object_like({"IAMAuth": "REQUIRED"})] * 2},
    )
    template.resource_count_is("AWS::SecretsManager::RotationSchedule", 2)
    template.resource_count_is("AWS::RDS::DBInstance", 1 + config.db_readers)


@pytest.mark.parametrize("stage", STAGES)
def test_logs_are_encrypted_and_audit_trail_is_validated(synth: Synth, stage: str) -> None:
    for logical_id, group in synth.resources(stage, "AWS::Logs::LogGroup").items():
        assert "KmsKeyId" in group["Properties"], logical_id
    template = Template.from_json(synth.template(stage))
    template.has_resource_properties(
        "AWS::CloudTrail::Trail",
        {
            "EnableLogFileValidation": True,
            "IsMultiRegionTrail": True,
            "KMSKeyId": Match.any_value(),
            "EventSelectors": Match.array_with([Match.object_like({"DataResources": Match.any_value()})]),
        },
    )
    for key in synth.resources(stage, "AWS::KMS::Key").values():
        assert key["Properties"]["EnableKeyRotation"] is True


def test_dev_and_prod_differ_only_where_the_config_says(synth: Synth) -> None:
    pools = {
        stage: next(iter(synth.resources(stage, "AWS::Cognito::UserPool").values()))["Properties"]
        for stage in STAGES
    }
    assert pools["prod"]["MfaConfiguration"] == "ON"
    assert pools["dev"]["MfaConfiguration"] == "OPTIONAL"
    for props in pools.values():
        assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
        assert props["Policies"]["PasswordPolicy"]["MinimumLength"] >= 14
        assert props["UserPoolAddOns"]["AdvancedSecurityMode"] == "ENFORCED"
    groups = {
        g["Properties"]["GroupName"] for g in synth.resources("dev", "AWS::Cognito::UserPoolGroup").values()
    }
    assert groups == {"ADMIN", "ANNOTATOR", "VERIFIER"}
    dev_types = sorted({r["Type"] for r in synth.template("dev")["Resources"].values()})
    prod_types = sorted({r["Type"] for r in synth.template("prod")["Resources"].values()})
    assert dev_types == prod_types


@pytest.mark.parametrize("stage", STAGES)
def test_gpu_capacity_scales_to_zero(synth: Synth, stage: str) -> None:
    template = Template.from_json(synth.template(stage))
    template.has_resource_properties("AWS::AutoScaling::AutoScalingGroup", {"MinSize": "0"})
    template.has_resource_properties(
        "AWS::ECS::CapacityProvider",
        {
            "AutoScalingGroupProvider": Match.object_like(
                {"ManagedScaling": Match.object_like({"Status": "ENABLED"})}
            )
        },
    )
    template.has_resource_properties(
        "AWS::EC2::LaunchTemplate",
        {
            "LaunchTemplateData": Match.object_like(
                {"MetadataOptions": Match.object_like({"HttpTokens": "required"})}
            )
        },
    )


def _function_policies(synth: Synth, stage: str) -> dict[str, list[dict[str, Any]]]:
    """Each function of the table → the statements of its role's policies."""
    policies = synth.resources(stage, "AWS::IAM::Policy")
    result = {}
    for spec in function_table.load().functions:
        role = "Functions" + "".join(p.capitalize() for p in spec.name.split("_")) + "Role"
        result[spec.name] = [
            statement
            for key, policy in policies.items()
            if key.startswith(role)
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]
    return result


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_migration_connects_as_the_owner_or_reads_a_database_secret(
    synth: Synth, stage: str
) -> None:
    # The two secrets: the owner's (master user) and the app login's, each its own resource.
    secrets = {
        key: props["Properties"]
        for key, props in synth.resources(stage, "AWS::SecretsManager::Secret").items()
        if key.startswith("Database")
    }
    users = {
        key: json.loads(props["GenerateSecretString"]["SecretStringTemplate"])["username"]
        for key, props in secrets.items()
    }
    (owner_secret,) = [k for k, user in users.items() if user == "cradle"]
    (app_secret,) = [k for k, user in users.items() if user == "cradle_api"]
    # The app secret is used through its attachment to the cluster (it carries the host).
    attachments = synth.resources(stage, "AWS::SecretsManager::SecretTargetAttachment")
    app_refs = {app_secret} | {
        key for key, a in attachments.items() if a["Properties"]["SecretId"] == {"Ref": app_secret}
    }
    proxy = next(iter(synth.resources(stage, "AWS::RDS::DBProxy").values()))["Properties"]
    held = json.dumps(proxy["Auth"])
    assert owner_secret in held, "the proxy logs in as the owner (for the migration)"
    assert any(r in held for r in app_refs), "the proxy logs in as the app login"

    owners = []
    for name, statements in _function_policies(synth, stage).items():
        connects = [
            json.dumps(s["Resource"]) for s in statements if "rds-db:connect" in _as_list(s["Action"])
        ]
        reads = [
            json.dumps(s["Resource"])
            for s in statements
            if "secretsmanager:GetSecretValue" in _as_list(s["Action"])
        ]
        if not connects:
            assert not reads, name
            continue
        (connect,) = connects
        as_owner = connect.endswith('/cradle"]]}')
        assert as_owner or connect.endswith('/cradle_api"]]}'), f"{name}: {connect}"
        if as_owner:
            owners.append(name)
            # the app login's secret only (to set its password), never the owner's
            assert reads, name
            assert all(any(r in read for r in app_refs) for read in reads), f"{name}: {reads}"
            assert all(owner_secret not in read for read in reads), f"{name}: {reads}"
        else:
            assert not reads, f"{name} reads a database secret: {reads}"
    assert owners == ["migrate"]
