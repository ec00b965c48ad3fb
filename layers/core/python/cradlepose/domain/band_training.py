"""Training one age band: which poses fit the model, which validate it, and what the validation says.

- Split: whole infants (subject ids; an image without one is its own group) go to validation with
  probability `validation_fraction`, decided by a hash of (seed, group): the same data and seed give
  the same split, and no infant is on both sides.
- Fit: the training side without the poses an expert labelled atypical (they are known not to be
  typical). Fewer than `min_samples` left: the band refuses to score, with a message saying so.
- Validate: the share of the validation side's typical poses (unlabelled or labelled typical) above
  the threshold — the false-positive rate, expected near 1 − percentile — and, where expert labels
  exist, the ROC AUC of the scores of labelled typical validation poses against every atypical-labelled
  pose of the band (none of which was fitted).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cradlepose.domain import age_band_model
from cradlepose.domain.age_band_model import BandModel
from cradlepose.domain.anomaly_text import band_label

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class BandOutcome:
    age_min: float
    age_max: float
    model: BandModel | None
    refusal: str | None
    training_samples: int  # typical poses on the training side
    validation_samples: int  # typical poses on the validation side
    labelled: int  # poses with an expert label in the band
    false_positive_rate: float | None
    roc_auc: float | None
    # For pooling across bands: each evaluated pose's margin over its threshold, and its label.
    margins: tuple[float, ...] = ()
    margin_labels: tuple[bool, ...] = ()
    validation_exceed: int = 0

    @property
    def label(self) -> str:
        return band_label(self.age_min, self.age_max)


def validation_side(groups: Sequence[str], fraction: float, seed: int) -> Bools:
    def draw(group: str) -> float:
        digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    return np.array([fraction > 0 and draw(g) < fraction for g in groups], dtype=bool)


def train_band(
    x: Floats,
    groups: Sequence[str],
    labels: Sequence[bool | None],
    *,
    age_min: float,
    age_max: float,
    percentile: float,
    min_samples: int,
    validation_fraction: float,
    seed: int,
) -> BandOutcome:
    """x (n, p): the band's poses (model features, NaN missing); labels: True atypical, False typical."""
    n = len(groups)
    atypical = np.array([label is True for label in labels], dtype=bool)
    typical_label = np.array([label is False for label in labels], dtype=bool)
    validation = validation_side(groups, validation_fraction, seed) if n else np.zeros(0, dtype=bool)
    fit_side = ~validation & ~atypical
    check_side = validation & ~atypical
    labelled = int(atypical.sum() + typical_label.sum())
    count = int(fit_side.sum())
    if count < max(min_samples, 2 * age_band_model.FOLDS):
        return BandOutcome(
            age_min=age_min,
            age_max=age_max,
            model=None,
            refusal=(
                f"the age band {band_label(age_min, age_max)} has only {count} verified typical poses to "
                f"learn from (at least {min_samples} are needed): it refuses to score rather than guess; "
                "verify more poses of infants of this age and train again"
            ),
            training_samples=count,
            validation_samples=int(check_side.sum()),
            labelled=labelled,
            false_positive_rate=None,
            roc_auc=None,
        )
    model = age_band_model.fit(x[fit_side], percentile=percentile)
    scores = model.anomaly_scores(x) if n else np.zeros(0)
    exceed = int((scores[check_side] > model.threshold).sum())
    fpr = exceed / int(check_side.sum()) if check_side.any() else None
    evaluated = (validation & typical_label) | atypical
    auc = age_band_model.roc_auc(scores[evaluated], atypical[evaluated])
    return BandOutcome(
        age_min=age_min,
        age_max=age_max,
        model=model,
        refusal=None,
        training_samples=count,
        validation_samples=int(check_side.sum()),
        labelled=labelled,
        false_positive_rate=fpr,
        roc_auc=auc,
        margins=tuple(float(v) for v in scores[evaluated] - model.threshold),
        margin_labels=tuple(bool(v) for v in atypical[evaluated]),
        validation_exceed=exceed,
    )


def pooled(outcomes: Sequence[BandOutcome]) -> tuple[float | None, float | None]:
    """The false-positive rate and ROC AUC over every band (margins over each band's threshold)."""
    checked = sum(o.validation_samples for o in outcomes if o.model is not None)
    exceed = sum(o.validation_exceed for o in outcomes if o.model is not None)
    fpr = exceed / checked if checked else None
    margins = [m for o in outcomes for m in o.margins]
    labels = [y for o in outcomes for y in o.margin_labels]
    return fpr, age_band_model.roc_auc(margins, labels)
