"""The API's OpenAPI 3.1 document, served at /openapi.json and committed as docs/openapi.json.

Powertools writes it from the routes' type hints; this module adds what the hints cannot say:
that /health needs no token, and that every error is an RFC 9457 problem document (Powertools
would document its own 422 shape, which Cradle never sends). `make openapi` rewrites the file.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from api import problems
from api.resolver import app

PUBLIC_PATHS = frozenset({"/health"})
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _problem_response(status: int, description: str) -> dict[str, Any]:
    return {"description": description, "content": {problems.PROBLEM_JSON: {"schema": _PROBLEM_REF}}}


def document() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(app.get_openapi_json_schema())
    for path, item in spec.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            if "204" in responses:
                responses["204"].pop("content", None)  # No Content means no body
            responses["422"] = _problem_response(422, "Invalid input: every bad field is listed")
            responses["500"] = _problem_response(500, "Unexpected error: quote the request id")
            if "requestBody" in operation:
                responses["400"] = _problem_response(400, "The body is not valid JSON")
                responses["413"] = _problem_response(413, "The body is too large")
                responses["415"] = _problem_response(415, "The body is not application/json")
            if path in PUBLIC_PATHS:
                operation["security"] = []
            else:
                responses.setdefault("401", _problem_response(401, "No valid identity token"))
                responses.setdefault("403", _problem_response(403, "Not allowed for this account"))
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.pop("ResponseValidationError", None)
    schemas.setdefault(
        "Problem", problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for name, schema in (
        problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        .get("$defs", {})
        .items()
    ):
        schemas.setdefault(name, schema)
    schemas["Problem"].pop("$defs", None)
    return spec


if __name__ == "__main__":
    sys.stdout.write(json.dumps(document(), indent=2, sort_keys=True) + "\n")
