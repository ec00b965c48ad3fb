"""The committed OpenAPI document is the one the routes produce (run `make openapi` after a change)."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from api.openapi import document
from tests.support import ROOT

pytestmark = pytest.mark.unit


def test_committed_openapi_document_is_current() -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == document(), "docs/openapi.json is stale: run `make openapi`"


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
