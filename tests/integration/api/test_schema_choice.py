"""A batch and a dataset import name their keypoint schema, or get the active default: one rule
(cradlepose.common.schema_choice), the same answers through both doors."""

from __future__ import annotations

import pytest

from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration

MISSING = 999_999
# The two doors that take a keypoint_schema_id or none, with the rest of a valid request
DOORS = pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/batches", {"batch_name": "one", "uploads": {"files": [{"filename": "a.jpg"}]}}),
        ("/dataset-imports", {"name": "one", "size": 1000}),
    ],
)


@DOORS
def test_a_schema_that_does_not_exist_is_a_422_on_its_field(
    api: ApiClient, admin: Persona, aws: str, path: str, body: dict[str, object]
) -> None:
    refused = api.post(path, admin, body={**body, "keypoint_schema_id": MISSING})

    assert refused.status == 422, refused.body
    assert {"location": "keypoint_schema_id", "message": f"schema {MISSING} does not exist"} in [
        {"location": e["location"], "message": e["message"]} for e in refused.json["errors"]
    ]


@DOORS
def test_no_schema_named_is_the_active_default(
    api: ApiClient, admin: Persona, aws: str, path: str, body: dict[str, object]
) -> None:
    (default,) = [s for s in api.get("/schemas", admin).json["items"] if s["name"] == "infant-pose-17"]

    made = api.post(path, admin, body=body)

    assert made.status in (201, 202), made.body
    made_json = made.json
    found = made_json.get("batch", made_json)
    assert found["keypoint_schema_id"] == default["id"]
