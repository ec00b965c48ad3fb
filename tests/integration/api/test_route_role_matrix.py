"""Every operation in docs/openapi.json × every kind of caller, against the documented answers.

The document is the list: an operation it names and this matrix cannot call fails the test, so no
route is left out. Paths and bodies come from the access table's rows (ids of real objects in one
seeded world); what each caller must get comes from the document and the access rules:

- a public operation (`security: []`) answers everyone;
- anonymous callers get 401, unapproved callers 403 (except their own profile and registration);
- a token that claims to be `system` gets 403 everywhere: a name is not an identity;
- an annotator, a verifier or an admin gets 403 where the access table says their role is
  refused, and otherwise an answer that is not a refusal of who they are;
- every answer is one the document lists for the operation, never a 5xx, and every error is a
  problem document.

One world serves the whole matrix (the access table builds one per row; this runs in seconds):
the refusals are asked first, the admin last, so what the allowed callers change comes after.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cradle_workstation.devstack.apigw import claims_for
from tests.integration.api import world as world_module
from tests.integration.api.test_access_table import ORDER, ROWS, Row
from tests.support import ANONYMOUS, ApiClient, Persona

pytestmark = pytest.mark.integration

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
# The roles of the issue, in the order they are asked (admin last: its writes change the world).
ROLES = ("anonymous", "unapproved", "system_token", "annotator", "verifier", "admin")
# Which column of the access table stands for each role.
ACCESS_COLUMN = {
    "unapproved": "unapproved",
    "annotator": "annotator_owner",
    "verifier": "verifier",
    "admin": "admin",
}
METHODS = ("get", "post", "put", "patch", "delete")


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    paths: dict[str, dict[str, Any]] = json.loads(DOCUMENT.read_text())["paths"]
    return [
        (method.upper(), path, operation)
        for path, item in paths.items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _row_for(method: str, path: str) -> Row | None:
    route = re.sub(r"\{\w+\}", "{id}", path)
    return next((row for row in ROWS if (row.method, row.route) == (method, route)), None)


def _system_impostor() -> Persona:
    """A valid token whose holder calls themselves `system` (and claims the ADMIN group too)."""
    return Persona("system", claims_for(str(uuid.uuid4()), "system", "system@example.org", ("ADMIN",)))


def _expected(role: str, row: Row, public: bool) -> int | None:
    """The exact status a role must get, or None where any documented, non-refusing answer will do."""
    if public:
        return 200
    if role == "anonymous":
        return 401
    if role == "system_token":
        return 403
    documented_for_role = row.expected[ORDER.index(ACCESS_COLUMN[role])]
    return documented_for_role if documented_for_role in (401, 403) else None


def test_every_documented_route_answers_every_role_as_documented(
    api: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    world = world_module.build(session_factory)
    people = {
        "anonymous": ANONYMOUS,
        "unapproved": world.people["unapproved"],
        "system_token": _system_impostor(),
        "annotator": world.people["annotator_owner"],
        "verifier": world.people["verifier"],
        "admin": world.people["admin"],
    }
    operations = _operations()
    assert len(operations) > 90, "docs/openapi.json lists fewer operations than the API has"
    missing = [f"{method} {path}" for method, path, _ in operations if _row_for(method, path) is None]
    assert missing == [], "operations in docs/openapi.json the matrix cannot call"

    wrong: list[str] = []
    for role in ROLES:  # role by role, so the admin's writes come after everyone else's calls
        for method, path, operation in operations:
            row = _row_for(method, path)
            assert row is not None
            public = operation.get("security") == []
            response = api.call(
                method, row.path(world), people[role], body=row.body(world) if row.body else None
            )
            status, where = response.status, f"{method} {path} as {role}"
            documented = {int(code) for code in operation["responses"]}
            expected = _expected(role, row, public)
            if status >= 500:
                wrong.append(f"{where}: {status} {response.body}")
            elif status not in documented:
                wrong.append(f"{where}: {status}, which the document does not list ({sorted(documented)})")
            elif expected is not None and status != expected:
                wrong.append(f"{where}: {status}, expected {expected}")
            elif expected is None and status in (401, 403):
                wrong.append(
                    f"{where}: refused ({status}) though the role may use the route: {response.body}"
                )
            if status >= 400 and response.headers.get("content-type") != "application/problem+json":
                wrong.append(f"{where}: {status} without a problem document")
    assert wrong == [], "\n".join(wrong)


def test_get_me_answers_every_authenticated_caller_without_a_server_error(
    api: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    """Registered or not, approved or not, even a token that says `system`: an answer, never a 500."""
    world = world_module.build(session_factory)
    expected = {
        "unregistered": 403,
        "unapproved": 200,
        "inactive": 200,
        "annotator_owner": 200,
        "verifier": 200,
        "admin": 200,
    }
    answers = {name: api.call("GET", "/me", world.people[name]).status for name in expected}
    answers["system_token"] = api.call("GET", "/me", _system_impostor()).status
    assert answers == {**expected, "system_token": 403}


@pytest.mark.parametrize("name", ["system", "System", "SYSTEM"])
def test_a_token_named_system_cannot_register(api: ApiClient, name: str) -> None:
    impostor = Persona(name, claims_for(str(uuid.uuid4()), name, f"{name.lower()}@example.org"))
    response = api.call("POST", "/me/register", impostor, body={"role": "ANNOTATOR"})
    assert response.status == 403, response.body
    assert "reserved" in (response.json or {}).get("detail", "")
