"""Property, on the real database: whatever pseudonyms the uploaders gave (or left out), a dataset
never puts one infant in two splits; an image without a pseudonym is a group of its own."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from tests.datasets_support import add_verified_batch
from tests.integration.datasets.conftest import make_dataset
from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration

PSEUDONYMS = ["CP-1", "CP-2", "CP-3", "INF-7", "s-9"]
fractions = st.sampled_from(
    [
        {"train": 0.7, "validation": 0.15, "test": 0.15},
        {"train": 0.5, "validation": 0.25, "test": 0.25},
        {"train": 0.34, "validation": 0.33, "test": 0.33},
    ]
)


# Each example is a batch, corrections and a dataset on the real database (about a second): no
# shrinking, which would take minutes; the failing example is printed as generated.
@settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    pseudonyms=st.lists(st.sampled_from([*PSEUDONYMS, None]), min_size=2, max_size=14),
    seed=st.integers(0, 2**31),
    shares=fractions,
    stratify=st.sampled_from([None, "institution"]),
)
def test_no_infant_is_in_two_splits(
    api: ApiClient,
    admin: Persona,
    verifier: Persona,
    annotator: Persona,
    session_factory: sessionmaker[Session],
    aws: str,
    pseudonyms: list[str | None],
    seed: int,
    shares: dict[str, float],
    stratify: str | None,
) -> None:
    assert admin.user_id is not None
    assert annotator.user_id is not None
    batch = add_verified_batch(
        session_factory, admin.user_id, annotator.user_id, images=len(pseudonyms), store=False
    )
    # The pseudonyms are given the way a person gives them: through the API's correction
    for image_id, pseudonym in zip(batch.image_ids, pseudonyms, strict=True):
        infant = {"age_months": 3, "subject_id": pseudonym}  # null removes the pseudonym
        corrected = api.patch(f"/images/{image_id}", admin, body={"infant_metadata": infant})
        assert corrected.status == 200, corrected.body

    dataset = make_dataset(
        api,
        verifier,
        batch.schema_id,
        name=f"p-{uuid.uuid4().hex[:8]}",
        seed=seed,
        fractions=shares,
        stratify_by=stratify,
        filters={"batch_ids": [batch.batch_id]},
    )
    listed = api.get(f"/datasets/{dataset['id']}/images", verifier, query={"limit": 200})
    assert listed.status == 200, listed.body
    members = listed.json["items"]
    assert sorted(m["image_id"] for m in members) == sorted(batch.image_ids)
    pseudonym_of = dict(zip(batch.image_ids, pseudonyms, strict=True))
    splits_of: dict[str, set[str]] = {}
    for member in members:
        pseudonym = pseudonym_of[member["image_id"]]
        if pseudonym is not None:
            splits_of.setdefault(pseudonym, set()).add(member["split"])
    assert all(len(splits) == 1 for splits in splits_of.values()), splits_of
