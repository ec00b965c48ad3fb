"""domain/promotion.py: what a gate's evidence records, and the rule's edges."""

from __future__ import annotations

import dataclasses

import pytest

from cradlepose.domain.enums import DatasetSplit
from cradlepose.domain.errors import Conflict
from cradlepose.domain.promotion import GateEvidence, PromotionRefused, check_gate

pytestmark = pytest.mark.unit


def test_the_evidence_as_a_dict_names_every_field_with_the_split_as_its_value() -> None:
    evidence = GateEvidence(4, DatasetSplit.VALIDATION, 9, 0.61, 2, 0.6)
    assert evidence.as_dict() == {
        "dataset_id": 4,
        "split": DatasetSplit.VALIDATION.value,
        "candidate_id": 9,
        "candidate_ap": 0.61,
        "incumbent_id": 2,
        "incumbent_ap": 0.6,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        evidence.candidate_ap = 1.0  # type: ignore[misc]


def test_a_refusal_is_a_conflict_with_its_own_code() -> None:
    assert issubclass(PromotionRefused, Conflict)
    assert PromotionRefused.code == "promotion-refused"


@pytest.mark.parametrize(
    ("candidate", "incumbent", "passes"),
    [(0.5001, 0.5, True), (0.5, 0.5, False), (0.4999, 0.5, False), (0.0, 0.0, False), (1.0, 0.0, True)],
)
def test_only_a_strictly_higher_ap_passes(candidate: float, incumbent: float, passes: bool) -> None:
    evidence = GateEvidence(1, DatasetSplit.TEST, 7, candidate, 3, incumbent)
    if passes:
        check_gate(evidence)  # no exception: promoted
    else:
        with pytest.raises(PromotionRefused, match="not above"):
            check_gate(evidence)


def test_with_no_production_model_any_measured_candidate_passes_even_at_zero() -> None:
    check_gate(GateEvidence(1, DatasetSplit.TEST, 7, 0.0, None, None))
    with pytest.raises(PromotionRefused, match="has no AP"):
        check_gate(GateEvidence(1, DatasetSplit.TEST, 7, None, None, None))
