"""The committed OpenAPI document is the one the routes produce (run `make openapi` after a change)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from api.openapi import document
from tests.support import ROOT

pytestmark = pytest.mark.unit


# The top-level packages of the project's own code: a component named after one of them is a
# Python module path that pydantic fell back on because two models share a class name.
PROJECT_PACKAGES = frozenset({"cradlepose", "api", "triggers", "cradle_inference"})
COMPONENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def test_committed_openapi_document_is_current() -> None:
    text = (ROOT / "docs" / "openapi.json").read_text()
    assert json.loads(text) == document(), "docs/openapi.json is stale: run `make openapi`"
    assert text == json.dumps(document(), indent=2, sort_keys=True) + "\n", (
        "docs/openapi.json is not `make openapi`'s output: run `make openapi`"
    )


def test_component_names_are_the_apis_own_not_module_paths() -> None:
    # Given the schemas the routes produce
    names = list(document()["components"]["schemas"])
    # Then each is a plain name: no `__` (pydantic's module-path separator when two models
    # share a class name) and no segment that names one of the project's packages
    assert names
    leaked = [
        name
        for name in names
        if not COMPONENT_NAME.fullmatch(name) or "__" in name or PROJECT_PACKAGES & set(name.split("_"))
    ]
    assert leaked == [], f"rename the models so these names are unique and plain: {leaked}"


def test_openapi_document_is_valid_openapi_31() -> None:
    spec = document()
    assert str(spec["openapi"]).startswith("3.1")
    validate(spec)


def test_every_route_but_the_public_ones_requires_a_token() -> None:
    spec = document()
    public = {"/health"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            security = operation.get("security", spec.get("security"))
            if path in public:
                assert security == [], f"{method.upper()} {path} should be public"
            else:
                assert security != [], f"{method.upper()} {path} must need a token"


# The document writes bounds as JSON numbers, so bigint's limits come out rounded to 2**63.
BIGINT_MAX = float(2**63)


def _request_side_schemas(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every schema a client sends: parameters and request bodies, following $refs."""
    components = spec["components"]["schemas"]
    found: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()

    def walk(where: str, schema: object) -> None:
        if isinstance(schema, dict):
            ref = schema.get("$ref")
            if isinstance(ref, str):
                name = ref.rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    walk(name, components[name])
                return
            found.append((where, schema))
            for key, value in schema.items():
                walk(f"{where}.{key}" if key != "properties" else where, value)
        elif isinstance(schema, list):
            for item in schema:
                walk(where, item)

    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                walk(f"{method.upper()} {path} {parameter['name']}", parameter.get("schema", {}))
            for media in operation.get("requestBody", {}).get("content", {}).values():
                walk(f"{method.upper()} {path} body", media.get("schema", {}))
    return found


def test_every_integer_a_client_sends_fits_the_database() -> None:
    # Given every integer in a parameter or a request body (ids, counts, sizes)
    integers = [(where, s) for where, s in _request_side_schemas(document()) if s.get("type") == "integer"]
    # Then each has bounds no wider than PostgreSQL's bigint, so an out-of-range number is a 422
    # at the edge, never a driver error (a 500) from the database
    assert integers
    unbounded = sorted(
        {
            where
            for where, s in integers
            if s.get("maximum", s.get("exclusiveMaximum", float("inf"))) > BIGINT_MAX
            or s.get("minimum", s.get("exclusiveMinimum", float("-inf"))) < -BIGINT_MAX
        }
    )
    assert unbounded == [], f"bound these integers (cradlepose.domain.bounds): {unbounded}"
