"""Every list route pages through the one keyset paginator: one row a page, each row once, and a
cursor it did not hand out (garbage, or a well-formed one of the wrong shape) is a 422 on `cursor`."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.api import world as world_module
from tests.integration.api.test_access_table import ORDER, ROWS, Row
from tests.support import ApiClient

pytestmark = pytest.mark.integration

ADMIN = ORDER.index("admin")


def _paged_routes() -> set[str]:
    """Routes whose GET takes a `cursor`, from the API's OpenAPI document, as the access table spells them."""
    document = json.loads((Path(__file__).resolve().parents[3] / "docs/openapi.json").read_text())
    return {
        re.sub(r"\{\w+\}", "{id}", path)
        for path, item in document["paths"].items()
        if any(p["name"] == "cursor" for p in item.get("get", {}).get("parameters", []))
    }


PAGED = _paged_routes()


def _raw_cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


# Lists an admin may read; the others' doors are the access table's business.
LISTS = [r for r in ROWS if r.method == "GET" and r.route in PAGED and r.expected[ADMIN] == 200]
FOREIGN_CURSORS = ["not-a-cursor", _raw_cursor(["x"]), _raw_cursor([1, 2, 3]), _raw_cursor([True])]


def test_every_paged_route_is_checked_here() -> None:
    assert PAGED
    assert PAGED - {r.route for r in LISTS} == set()


@pytest.mark.parametrize("row", LISTS, ids=str)
def test_a_list_pages_one_row_at_a_time_and_refuses_foreign_cursors(
    row: Row, api: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    world = world_module.build(session_factory)
    admin = world.people["admin"]
    path = row.path(world)

    whole = api.get(path, admin, query={"limit": 200})
    assert whole.status == 200, whole.body
    pages: list[Any] = []
    cursor: str | None = None
    for _ in range(len(whole.json["items"]) + 1):
        query = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = api.get(path, admin, query=query)
        assert page.status == 200, page.body
        pages.extend(page.json["items"])
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert pages == whole.json["items"]

    for foreign in FOREIGN_CURSORS:
        refused = api.get(path, admin, query={"cursor": foreign})
        assert refused.status == 422, (foreign, refused.body)
        assert [e["location"] for e in refused.json["errors"]] == ["cursor"], refused.body
