"""One task of the inference container on the GPU capacity provider (`ecs:RunTask`).

The batch pipeline's chunks and the ML jobs (training, evaluation, inference jobs) run the same
task definition with different container overrides; this is the call they share.
"""

from __future__ import annotations

from typing import Any

from cradlepose.settings import Settings

NOT_CONFIGURED = "CRADLE_INFERENCE_CLUSTER_ARN, _TASK_DEFINITION_ARN and _CAPACITY_PROVIDER must be set"


def configured(settings: Settings) -> bool:
    s = settings
    return bool(s.inference_cluster_arn and s.inference_task_definition_arn and s.inference_capacity_provider)


def run_task(
    ecs: Any, settings: Settings, container: dict[str, Any], *, started_by: str, client_token: str
) -> tuple[str | None, str]:
    """Start one task with `container` as the inference container's override (its name is added).

    Returns the task's ARN, or None with ECS's reasons. No tags: the callers' roles have no
    ecs:TagResource. `client_token` makes a repeated start the same task.
    """
    s = settings
    response = ecs.run_task(
        cluster=s.inference_cluster_arn,
        taskDefinition=s.inference_task_definition_arn,
        capacityProviderStrategy=[{"capacityProvider": s.inference_capacity_provider, "weight": 1}],
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": s.inference_subnet_ids,
                "securityGroups": s.inference_security_group_ids,
                "assignPublicIp": "DISABLED",
            }
        },
        overrides={"containerOverrides": [{"name": s.inference_container_name, **container}]},
        count=1,
        startedBy=started_by,
        clientToken=client_token,
    )
    tasks = response.get("tasks") or []
    if tasks:
        return str(tasks[0]["taskArn"]), ""
    reasons = "; ".join(
        f"{f.get('arn', '')}: {f.get('reason', 'unknown')}" for f in response.get("failures") or []
    )
    return None, reasons or "no reason"
