"""The promotion rule: a candidate reaches PRODUCTION only by beating the model it replaces.

When a promotion names a gate (a dataset and one of its splits), the candidate's COCO keypoint
AP on that split must be strictly greater than the current PRODUCTION model's AP on the very same
split, computed with the very same sigmas (an AP under other sigmas measures something else).
Both must have been evaluated; a schema with no PRODUCTION model yet only needs the candidate's.
"""

from __future__ import annotations

from dataclasses import dataclass

from cradlepose.domain.enums import DatasetSplit
from cradlepose.domain.errors import Conflict


@dataclass(frozen=True)
class GateEvidence:
    dataset_id: int
    split: DatasetSplit
    candidate_id: int
    candidate_ap: float | None
    incumbent_id: int | None  # the schema's PRODUCTION model, if any
    incumbent_ap: float | None  # on the same split with the same sigmas

    def as_dict(self) -> dict[str, object]:
        return {
            "dataset_id": self.dataset_id,
            "split": self.split.value,
            "candidate_id": self.candidate_id,
            "candidate_ap": self.candidate_ap,
            "incumbent_id": self.incumbent_id,
            "incumbent_ap": self.incumbent_ap,
        }


class PromotionRefused(Conflict):
    code = "promotion-refused"
    title = "The candidate does not meet the promotion rule"


def check_gate(evidence: GateEvidence) -> None:
    where = f"dataset {evidence.dataset_id} split {evidence.split.value}"
    if evidence.candidate_ap is None:
        raise PromotionRefused(
            f"model {evidence.candidate_id} has no AP on {where}: run an evaluation (POST /inference-jobs "
            "with an evaluation) first"
        )
    if evidence.incumbent_id is None:
        return
    if evidence.incumbent_ap is None:
        raise PromotionRefused(
            f"the current PRODUCTION model {evidence.incumbent_id} has no AP on {where} with the same "
            "sigmas: evaluate it there first, so both are measured alike"
        )
    if not evidence.candidate_ap > evidence.incumbent_ap:
        raise PromotionRefused(
            f"model {evidence.candidate_id} has AP {evidence.candidate_ap:.4f} on {where}, not above the "
            f"current PRODUCTION model {evidence.incumbent_id}'s {evidence.incumbent_ap:.4f}"
        )
