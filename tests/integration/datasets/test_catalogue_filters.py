"""Given datasets of two sites' verified images, when a researcher filters the catalogue by term,
institution, age band, image quality or verification state, then each filter narrows the list,
the image filters hold together on one image, and a bad value is a 422 problem naming it."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from tests.datasets_support import VerifiedBatch, add_verified_batch
from tests.integration.datasets.conftest import make_dataset
from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration


@pytest.fixture
def catalogue(
    api: ApiClient,
    admin: Persona,
    annotator: Persona,
    verifier: Persona,
    verified: VerifiedBatch,
    session_factory: sessionmaker[Session],
    engine: sa.Engine,
) -> dict[str, int]:
    """Site A: six images of 2–5-month-olds, quality 8. Site B: six of 10-month-olds, quality 5.
    "site-a" and "site-b" hold one site each, "both" holds the twelve."""
    assert admin.user_id is not None
    assert annotator.user_id is not None
    site_b = add_verified_batch(session_factory, admin.user_id, annotator.user_id, institution="Site B")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE images SET image_quality_score = 5.0,"
                " infant_metadata = jsonb_set(infant_metadata, '{age_months}', '10') WHERE batch_id = :b"
            ),
            {"b": site_b.batch_id},
        )
    made = {
        "site-a": make_dataset(
            api, verifier, verified.schema_id, name="site-a", filters={"institutions": ["Site A"]},
            catalogue={"anatomical_area": "whole_body", "tags": ["supine"]},
        ),
        "site-b": make_dataset(
            api, verifier, verified.schema_id, name="site-b", filters={"institutions": ["Site B"]},
            catalogue={"anatomical_area": "whole_body", "tags": ["infant"]},
        ),
        "both": make_dataset(api, verifier, verified.schema_id, name="both"),
    }  # fmt: skip
    assert {name: d["num_images"] for name, d in made.items()} == {"site-a": 6, "site-b": 6, "both": 12}
    return {name: d["id"] for name, d in made.items()}


def _found(api: ApiClient, who: Persona, ids: dict[str, int], **query: Any) -> set[str]:
    response = api.get("/datasets", who, query=query)
    assert response.status == 200, response.body
    names = {v: k for k, v in ids.items()}
    return {names[d["id"]] for d in response.json["items"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"site-a", "site-b", "both"}),
        ({"tag": "supine"}, {"site-a"}),
        ({"anatomical_area": "whole_body"}, {"site-a", "site-b"}),
        ({"institution": "Site B"}, {"site-b", "both"}),
        ({"institution": "Site C"}, set()),
        ({"age_band": "2-3"}, {"site-a", "both"}),
        ({"age_band": "9-12"}, {"site-b", "both"}),
        ({"age_band": "24+"}, set()),
        ({"min_quality": "7"}, {"site-a", "both"}),
        ({"min_quality": "5"}, {"site-a", "site-b", "both"}),
        ({"verification": "VERIFIED"}, {"site-a", "site-b", "both"}),
        ({"verification": "UNVERIFIED"}, set()),
        # combinations: terms and images; the image filters hold on one image ("both" has Site A
        # images and 10-month-olds, but no 10-month-old from Site A)
        ({"tag": "infant", "institution": "Site B"}, {"site-b"}),
        ({"institution": "Site A", "age_band": "9-12"}, set()),
        ({"institution": "Site B", "age_band": "9-12", "min_quality": "5"}, {"site-b", "both"}),
        ({"institution": "Site B", "min_quality": "7"}, set()),
        ({"age_band": "4-6", "min_quality": "8", "tag": "supine"}, {"site-a"}),
    ],
)
def test_each_filter_narrows_the_catalogue_and_they_combine(
    api: ApiClient, verifier: Persona, catalogue: dict[str, int], query: dict[str, str], expected: set[str]
) -> None:
    assert _found(api, verifier, catalogue, **query) == expected


def test_the_verification_state_follows_the_images_current_status(
    api: ApiClient, verifier: Persona, catalogue: dict[str, int], engine: sa.Engine
) -> None:
    # Site B's images go back under review (as an imported dataset's images are before review)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE images SET status = 'UNDER_REVIEW' WHERE id IN"
                " (SELECT image_id FROM dataset_images WHERE dataset_id = :d)"
            ),
            {"d": catalogue["site-b"]},
        )
    assert _found(api, verifier, catalogue, verification="VERIFIED") == {"site-a"}
    assert _found(api, verifier, catalogue, verification="PARTLY_VERIFIED") == {"both"}
    assert _found(api, verifier, catalogue, verification="UNVERIFIED") == {"site-b"}
    assert _found(api, verifier, catalogue, verification="UNVERIFIED", institution="Site A") == set()

    listed = {d["name"]: d for d in api.get("/datasets", verifier).json["items"]}
    assert {n: (d["verified_images"], d["verification"]) for n, d in listed.items()} == {
        "site-a": (6, "VERIFIED"),
        "site-b": (0, "UNVERIFIED"),
        "both": (6, "PARTLY_VERIFIED"),
    }
    one = api.get(f"/datasets/{catalogue['both']}", verifier).json
    assert (one["verified_images"], one["verification"]) == (6, "PARTLY_VERIFIED")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("age_band", "2-4"),  # not a band of the statistics' chart
        ("age_band", "2–3"),  # the chart's label, not the band's code
        ("min_quality", "0"),
        ("min_quality", "10.5"),
        ("min_quality", "good"),
        ("verification", "DONE"),
        ("institution", ""),
        ("institution", "x" * 101),
    ],
)
def test_a_bad_filter_value_is_a_422_problem_naming_it(
    api: ApiClient, verifier: Persona, name: str, value: str
) -> None:
    response = api.get("/datasets", verifier, query={name: value})
    assert response.status == 422, response.body
    assert response.headers["content-type"].startswith("application/problem+json")
    assert name in str(response.body)
