"""The learning loop's rules (issue 23, docs/learning-loop.md): the policy's bounds, when a run is
due, the held-out split, and the gate that decides whether a retrained candidate replaces the
schema's default model.

The gate is the loop's own, not the manual promotion's (domain.promotion, strictly greater AP):
the candidate's AP on the held-out split minus the current default's AP on the very same split
must be at least δ (`min_ap_gain`; δ may be negative: "accept any evaluated candidate" is δ = −1,
for bootstrapping and tests), and no keypoint's OKS may fall by more than ε
(`max_keypoint_oks_drop`). Both figures come from evaluations of both models on one split with
the same sigmas, so they measure the same thing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cradlepose.domain.bounds import DbId
from cradlepose.domain.enums import LoopTrigger
from cradlepose.domain.splits import SplitFractions

IMGSZ_STRIDE = 32  # YOLO's largest stride: an image size that is not a multiple of it is rounded up
# Float noise in AP differences (0.3 − 0.2 is 0.0999…): a gain this close to δ meets it.
GAIN_TOLERANCE = 1e-9


class LoopPolicySettings(BaseModel):
    """What an admin sets per keypoint schema; the bounds are the safe ranges of docs/learning-loop.md."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    enabled: bool = False
    every_n_verified: int | None = Field(
        default=100,
        ge=1,
        le=100_000,
        description="newly verified images that start a run (null: no count trigger)",
    )
    schedule_hours: int | None = Field(
        default=None,
        ge=1,
        le=8760,
        description="a run at most this often, when new images were verified (null: no schedule)",
    )
    base_model_id: DbId | None = Field(default=None, description="null: the schema's current default model")
    epochs: int = Field(default=50, ge=1, le=300)
    imgsz: int = Field(default=640, ge=32, le=1280, description="training image size, a multiple of 32")
    batch: int = Field(default=16, ge=1, le=64)
    lr0: float = Field(default=0.01, ge=1e-6, le=0.1)
    holdout_fraction: float = Field(
        default=0.2, ge=0.05, le=0.5, description="verified images held out for the gate, grouped by infant"
    )
    min_ap_gain: float = Field(
        default=0.0, ge=-1, le=1, description="δ: candidate AP − default AP must be ≥ δ"
    )
    max_keypoint_oks_drop: float = Field(
        default=0.05, ge=0, le=1, description="ε: no keypoint's OKS may fall by more than ε"
    )

    @field_validator("imgsz")
    @classmethod
    def _stride(cls, value: int) -> int:
        if value % IMGSZ_STRIDE:
            raise ValueError(f"must be a multiple of {IMGSZ_STRIDE}")
        return value


DEFAULT_POLICY = LoopPolicySettings()


def holdout_fractions(holdout: float) -> SplitFractions:
    """Train on the rest, hold out `holdout` as the test split (the gate's); no validation split:
    training validates on the held-out images (domain.yolo_pose), which never trains."""
    return SplitFractions(train=1 - holdout, validation=0, test=holdout)


def due_trigger(
    policy: LoopPolicySettings,
    *,
    verified_since_last_run: int,
    last_run_started_at: dt.datetime | None,
    now: dt.datetime,
    running: bool,
) -> LoopTrigger | None:
    """Which trigger starts a run now, or None. One run at a time; nothing new verified, no run."""
    if not policy.enabled or running or verified_since_last_run <= 0:
        return None
    if policy.every_n_verified is not None and verified_since_last_run >= policy.every_n_verified:
        return LoopTrigger.COUNT
    if policy.schedule_hours is not None and (
        last_run_started_at is None or now - last_run_started_at >= dt.timedelta(hours=policy.schedule_hours)
    ):
        return LoopTrigger.SCHEDULE
    return None


@dataclass(frozen=True)
class LoopGateEvidence:
    """Both models measured on one held-out split with the same sigmas."""

    candidate_id: int
    candidate_ap: float | None
    incumbent_id: int | None  # the schema's default model when the run was judged, if any
    incumbent_ap: float | None
    min_ap_gain: float  # δ
    max_keypoint_oks_drop: float  # ε
    candidate_oks: Mapping[str, float] = field(default_factory=dict)  # keypoint name → mean OKS
    incumbent_oks: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "candidate_id": self.candidate_id,
            "candidate_ap": self.candidate_ap,
            "incumbent_id": self.incumbent_id,
            "incumbent_ap": self.incumbent_ap,
            "min_ap_gain": self.min_ap_gain,
            "max_keypoint_oks_drop": self.max_keypoint_oks_drop,
            "candidate_oks": dict(self.candidate_oks),
            "incumbent_oks": dict(self.incumbent_oks),
        }


@dataclass(frozen=True)
class LoopVerdict:
    promote: bool
    reason: str
    oks_drops: dict[str, float]  # keypoint → incumbent OKS − candidate OKS (positive: worse)


def oks_drops(evidence: LoopGateEvidence) -> dict[str, float]:
    """Per keypoint the incumbent measured: how far the candidate fell below it (a keypoint the
    candidate never found counts as OKS 0)."""
    return {
        name: incumbent - evidence.candidate_oks.get(name, 0.0)
        for name, incumbent in sorted(evidence.incumbent_oks.items())
    }


def judge(evidence: LoopGateEvidence) -> LoopVerdict:
    """Promote when the candidate was evaluated, gains at least δ in AP and loses at most ε of OKS
    on every keypoint; otherwise refuse, saying which rule it failed."""
    drops = oks_drops(evidence)
    candidate = evidence.candidate_id
    if evidence.candidate_ap is None:
        return LoopVerdict(False, f"model {candidate} has no AP on the held-out split", drops)
    if evidence.incumbent_id is None:
        return LoopVerdict(
            True,
            f"model {candidate} (AP {evidence.candidate_ap:.4f}): the schema had no default model",
            drops,
        )
    if evidence.incumbent_ap is None:
        return LoopVerdict(
            False,
            f"the default model {evidence.incumbent_id} has no AP on the held-out split with the same sigmas",
            drops,
        )
    gain = evidence.candidate_ap - evidence.incumbent_ap
    figures = (
        f"AP {evidence.candidate_ap:.4f} vs the default model {evidence.incumbent_id}'s "
        f"{evidence.incumbent_ap:.4f} (gain {gain:+.4f}, δ {evidence.min_ap_gain:+.4f})"
    )
    if gain + GAIN_TOLERANCE < evidence.min_ap_gain:
        return LoopVerdict(False, f"refused: {figures}: the gain is below δ", drops)
    worst = [(name, drop) for name, drop in drops.items() if drop > evidence.max_keypoint_oks_drop]
    if worst:
        listed = ", ".join(f"{name} −{drop:.4f}" for name, drop in sorted(worst, key=lambda w: -w[1])[:5])
        return LoopVerdict(
            False,
            f"refused: {figures}, but the OKS of {listed} fell by more than "
            f"ε {evidence.max_keypoint_oks_drop:.4f}",
            drops,
        )
    return LoopVerdict(
        True,
        f"promoted: {figures}; no keypoint's OKS fell by more than ε {evidence.max_keypoint_oks_drop:.4f}",
        drops,
    )
