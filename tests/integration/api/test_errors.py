"""Errors are answers: RFC 9457 problem documents, never a 500 for bad input, nothing half-written."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration


def _assert_problem(response_json: dict[str, object], status: int) -> None:
    assert response_json["status"] == status
    assert str(response_json["type"]).startswith("https://")
    assert response_json["title"]
    assert response_json["detail"]
    assert response_json["request_id"]


def test_malformed_json_is_a_400(api: ApiClient, admin: Persona) -> None:
    response = api.post("/batches", admin, raw_body="{not json", headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert response.headers["content-type"] == "application/problem+json"
    _assert_problem(response.json, 400)


def test_validation_names_every_bad_field(api: ApiClient, admin: Persona, engine: sa.Engine) -> None:
    response = api.post(
        "/batches",
        admin,
        body={"batch_name": "", "processing_priority": 11, "uploads": {"count": 0}, "surprise": 1},
    )
    assert response.status == 422
    _assert_problem(response.json, 422)
    locations = {e["location"] for e in response.json["errors"]}
    assert {"body.batch_name", "body.processing_priority", "body.surprise"} <= locations
    assert any(location.startswith("body.uploads") for location in locations)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM image_batches")) == 0


def test_a_bad_schema_definition_names_the_broken_reference(api: ApiClient, admin: Persona) -> None:
    body = {
        "name": "broken",
        "version": "v1",
        "schema_definition": {
            "keypoints": [{"id": 0, "name": "nose", "color": "#FF0000"}],
            "connections": [[0, 9]],
        },
        "max_missing_keypoints": 0,
    }
    response = api.post("/schemas", admin, body=body)
    assert response.status == 422
    assert response.json["errors"] == [
        {"location": "schema_definition.connections[0][1]", "message": "keypoint id 9 does not exist"}
    ]


def test_query_parameters_are_validated(api: ApiClient, admin: Persona) -> None:
    response = api.get("/batches", admin, query={"limit": 0, "status": "SHINY"})
    assert response.status == 422
    locations = {e["location"] for e in response.json["errors"]}
    assert {"query.limit", "query.status"} <= locations


def test_an_unknown_route_is_a_404_problem(api: ApiClient, admin: Persona) -> None:
    response = api.get("/nowhere", admin)
    assert response.status == 404
    _assert_problem(response.json, 404)


def test_a_missing_resource_is_a_404_problem(api: ApiClient, admin: Persona) -> None:
    response = api.get("/batches/999999", admin)
    assert response.status == 404
    assert "999999" in response.json["detail"]


def test_an_illegal_transition_is_a_409_naming_the_states(api: ApiClient, admin: Persona) -> None:
    batch_id = api.post("/batches", admin, body={"batch_name": "b", "uploads": {"count": 1}}).json["batch"][
        "id"
    ]
    assert api.post(f"/batches/{batch_id}/archive", admin).status == 200

    again = api.post(f"/batches/{batch_id}/archive", admin)

    assert again.status == 409
    assert again.json["context"] == {"entity": "ImageBatch", "from": "ARCHIVED", "to": "ARCHIVED"}
    assert "ImageBatch cannot move from ARCHIVED to ARCHIVED" in again.json["detail"]


def test_an_oversized_body_is_a_413(api: ApiClient, admin: Persona) -> None:
    response = api.post(
        "/batches", admin, raw_body="x" * (1024 * 1024 + 1), headers={"Content-Type": "application/json"}
    )
    assert response.status == 413
    _assert_problem(response.json, 413)


def test_an_unexpected_error_is_a_500_with_a_request_id_and_no_internals(
    api: ApiClient, admin: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cradlepose.intake import batches  # noqa: PLC0415

    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("password=hunter2 in /var/task/secret.py")

    monkeypatch.setattr(batches, "list_batches", explode)
    response = api.get("/batches", admin)

    assert response.status == 500
    _assert_problem(response.json, 500)
    assert "hunter2" not in (response.body or "")
    assert "secret.py" not in (response.body or "")
    assert "RuntimeError" not in (response.body or "")


def test_a_database_rule_broken_by_a_race_is_a_conflict_not_a_crash(
    api: ApiClient, admin: Persona, engine: sa.Engine
) -> None:
    # Two admins register the same model name and version at the same moment: the unique index decides.
    body = {"model_name": "race", "version": "1", "keypoint_schema_id": 1, "model_path": "s3://b/k.pt"}
    assert api.post("/models", admin, body=body).status == 201
    second = api.post("/models", admin, body=body)
    assert second.status == 409
    assert "uq_ml_model_name_version" in second.json["detail"]
