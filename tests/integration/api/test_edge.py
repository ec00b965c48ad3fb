"""Bad input never reaches the database: the door first, then NUL, then the PATCH fields that stay.

Built from docs/openapi.json and the routes themselves, so a new route or field is covered without
editing this file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.api import world as world_module
from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration

DOCUMENT = json.loads((Path(__file__).parents[3] / "docs" / "openapi.json").read_text())
SCHEMAS = DOCUMENT["components"]["schemas"]
NUL = "\x00"
A_UUID = "00000000-0000-4000-8000-000000000001"


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _options(schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema)
    if "anyOf" in schema or "oneOf" in schema:
        return [_resolve(o) for o in schema.get("anyOf", schema.get("oneOf", []))]
    return [schema]


def _with_nul(schema: dict[str, Any], where: str, depth: int = 0) -> tuple[Any, list[str]]:
    """A value for the schema carrying NUL in every string it can hold, and where each one is."""
    options = _options(schema)
    if any(o.get("type") == "string" for o in options):
        return f"x{NUL}y", [where]
    objects = [o for o in options if o.get("type") == "object" or "properties" in o]
    if objects and depth < 4:
        value: dict[str, Any] = {}
        found: list[str] = []
        for name, prop in objects[0].get("properties", {}).items():
            inner, locations = _with_nul(prop, f"{where}.{name}", depth + 1)
            if locations:
                value[name], found = inner, found + locations
        if objects[0].get("additionalProperties") not in (None, False):
            value[f"key{NUL}"] = 1
            found.append(f"{where} (a key)")
        return value, found
    arrays = [o for o in options if o.get("type") == "array"]
    if arrays and depth < 4:
        inner, locations = _with_nul(arrays[0].get("items", {}), f"{where}[0]", depth + 1)
        return ([inner], locations) if locations else (None, [])
    return None, []


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in DOCUMENT["paths"].items()
        for method, op in ops.items()
        if path != "/health"
    ]


def _concrete(path: str) -> str:
    return re.sub(
        r"\{(\w+)\}", lambda m: A_UUID if m.group(1) == "job_id" and "analyses" in path else "1", path
    )


def _nul_request(op: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    query: dict[str, Any] = {}
    expected: list[str] = []
    for parameter in op.get("parameters", []):
        if parameter["in"] == "query" and any(
            o.get("type") == "string" for o in _options(parameter["schema"])
        ):
            query[parameter["name"]] = f"x{NUL}"
            expected.append(f"query.{parameter['name']}")
    kwargs: dict[str, Any] = {"query": query}
    body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body_schema is not None:
        body, locations = _with_nul(body_schema, "body")
        if locations:
            kwargs["body"] = body
            expected += locations
    return kwargs, expected


NUL_CASES = [(m, p, op) for m, p, op in _operations() if _nul_request(op)[1]]


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> world_module.World:
    return world_module.build(session_factory)


def test_every_operation_with_a_string_input_is_checked() -> None:
    assert len(NUL_CASES) > 40


def test_nul_in_any_request_string_is_a_422_naming_each_place(
    api: ApiClient, world: world_module.World, engine: sa.Engine
) -> None:
    with engine.connect() as conn:
        audit_rows = conn.scalar(sa.text("SELECT count(*) FROM audit_logs WHERE status = 'SUCCESS'"))
    failures = []
    for method, path, op in NUL_CASES:
        kwargs, expected = _nul_request(op)
        response = api.call(method, _concrete(path), world.people["admin"], **kwargs)
        if response.status == 403:  # an annotator's route: the door refuses the admin first
            response = api.call(method, _concrete(path), world.people["annotator_owner"], **kwargs)
        found = {e["location"] for e in (response.json or {}).get("errors") or [] if "NUL" in e["message"]}
        if response.status != 422 or not set(expected) <= found:
            failures.append((method, path, response.status, sorted(set(expected) - found)))
    assert failures == []
    with engine.connect() as conn:  # nothing was done
        assert conn.scalar(sa.text("SELECT count(*) FROM audit_logs WHERE status = 'SUCCESS'")) == audit_rows


def test_a_valid_body_with_nul_in_a_name_is_a_422_not_a_500(
    api: ApiClient, world: world_module.World, engine: sa.Engine
) -> None:
    response = api.post(
        "/batches", world.people["admin"], body={"batch_name": f"a{NUL}b", "uploads": {"count": 1}}
    )
    assert response.status == 422, response.body
    assert response.json["errors"] == [
        {"location": "body.batch_name", "message": "must not contain the NUL character (\\u0000)"}
    ]
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM image_batches WHERE batch_name LIKE 'a%b'")) == 0


def test_nul_in_the_user_agent_does_not_break_the_audit_row(
    api: ApiClient, world: world_module.World
) -> None:
    response = api.post(
        "/batches", world.people["admin"], body={"batch_name": "ok", "uploads": {"count": 1}},
        headers={"User-Agent": f"agent{NUL}"},
    )  # fmt: skip
    assert response.status == 201, response.body


# ------------------------------------------------------------------ PATCH: required fields stay


def _patch_targets(w: world_module.World) -> dict[str, tuple[str, Persona]]:
    return {
        "/users/{user_id}": (f"/users/{w.people['annotator_other'].user_id}", w.people["admin"]),
        "/datasets/{dataset_id}": (f"/datasets/{w.dataset_id}", w.people["admin"]),
        "/models/{model_id}": (f"/models/{w.model_id}", w.people["admin"]),
        "/schemas/{schema_id}": (f"/schemas/{w.unused_schema_id}", w.people["admin"]),
        "/assignments/{assignment_id}": (f"/assignments/{w.assignment_id}", w.people["annotator_owner"]),
        "/batches/{batch_id}": (f"/batches/{w.ready_batch_id}", w.people["admin"]),
        "/images/{image_id}": (f"/images/{w.ready_image_id}", w.people["admin"]),
        "/vocabulary-terms/{term_id}": (f"/vocabulary-terms/{w.term_id}", w.people["admin"]),
    }


def _response_schema(op: dict[str, Any]) -> dict[str, Any]:
    return _resolve(op["responses"]["200"]["content"]["application/json"]["schema"])


def _nullable(schema: dict[str, Any]) -> bool:
    return any(o.get("type") == "null" for o in schema.get("anyOf", []))


PATCHES = [(p, op) for p, ops in DOCUMENT["paths"].items() for m, op in ops.items() if m == "patch"]


def test_every_patch_route_is_covered(world: world_module.World) -> None:
    assert {p for p, _ in PATCHES} == set(_patch_targets(world))


@pytest.mark.parametrize(("path", "op"), PATCHES, ids=[p for p, _ in PATCHES])
def test_a_patch_cannot_null_what_the_object_needs(
    path: str, op: dict[str, Any], api: ApiClient, world: world_module.World
) -> None:
    """Null for every field, one at a time: a field the response requires (not nullable) is a 422
    naming it; any other may be cleared. Either way, the object still renders afterwards."""
    url, persona = _patch_targets(world)[path]
    body_schema = _resolve(op["requestBody"]["content"]["application/json"]["schema"])
    rendered = _response_schema(op)
    problems = []
    for field in body_schema["properties"]:
        response = api.patch(url, persona, body={field: None})
        out = rendered["properties"].get(field)
        must_refuse = out is not None and field in rendered.get("required", []) and not _nullable(out)
        if must_refuse:
            locations = [e["location"] for e in (response.json or {}).get("errors") or []]
            if response.status != 422 or locations != [f"body.{field}"]:
                problems.append((field, "not refused", response.status, response.body))
        elif response.status >= 500:
            problems.append((field, "server error", response.status, response.body))
        after = api.get(url, persona)
        if after.status != 200:
            problems.append((field, "GET after", after.status, after.body))
    assert problems == []


# ------------------------------------------------------------------ the door comes first


def _wrong_persona(door: str, w: world_module.World) -> Persona | None:
    return {
        "admin": w.people["annotator_owner"],
        "researcher": w.people["annotator_owner"],
        "annotator": w.people["verifier"],
    }.get(door)


def _door_routes() -> list[tuple[str, str, str]]:
    from aws_lambda_powertools.event_handler.depends import build_dependency_tree  # noqa: PLC0415

    from api.dependencies import DOORS  # noqa: PLC0415
    from api.handler import app  # noqa: PLC0415

    app.include_all_routers()  # routers load on first use (api.resolver.LazyRoutersResolver)
    result: list[tuple[str, str, str]] = []
    for route in app._static_routes + app._dynamic_routes:
        if not route.include_in_schema:
            continue
        doors = [
            n.depends.dependency.__name__
            for n in build_dependency_tree(route.func).dependencies
            if n.depends.dependency in DOORS
        ]
        path = re.sub(r"<(\w+)>", r"{\1}", route.path)
        for method in route.method.split("|"):
            result.extend((method, path, door) for door in doors)
    return result


def test_the_wrong_role_gets_403_before_anything_it_sent_is_read(
    api: ApiClient, world: world_module.World, engine: sa.Engine
) -> None:
    """A body and query that would fail validation (and NUL that would fail the database): still 403."""
    routes = [r for r in _door_routes() if _wrong_persona(r[2], world) is not None]
    assert len(routes) > 60
    junk_body = {f"surprise{NUL}": f"x{NUL}", "limit": 10**30, "batch_name": ""}
    junk_query = {"limit": "-5", "cursor": f"x{NUL}", "status": "SHINY"}
    with engine.connect() as conn:
        before = conn.scalar(sa.text("SELECT count(*) FROM audit_logs WHERE status = 'SUCCESS'"))
    answers = {}
    for method, path, door in routes:
        persona = _wrong_persona(door, world)
        assert persona is not None
        body = junk_body if method in {"POST", "PUT", "PATCH"} else None
        response = api.call(method, _concrete(path), persona, body=body, query=junk_query)
        answers[f"{method} {path}"] = response.status
    assert {k: v for k, v in answers.items() if v != 403} == {}
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM audit_logs WHERE status = 'SUCCESS'")) == before


@pytest.mark.parametrize(
    ("method", "path", "who", "body"),
    [
        ("POST", "/batches", "annotator_owner", {"batch_name": "", "uploads": {"count": 0}}),
        ("PATCH", "/models/1", "annotator_owner", {"model_parameters": None}),
        ("POST", "/schemas", "verifier", {"name": f"n{NUL}"}),
        ("PUT", "/images/1/annotation", "verifier", {"keypoints": "not a list"}),
        ("POST", "/datasets", "annotator_owner", {"surprise": 1}),
    ],
)
def test_examples_of_the_door_before_the_body(
    method: str, path: str, who: str, body: dict[str, Any], api: ApiClient, world: world_module.World
) -> None:
    response = api.call(method, path, world.people[who], body=body)
    assert response.status == 403, response.body
