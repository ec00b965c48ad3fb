"""The model of typical poses of one age band: a robust Gaussian with Ledoit–Wolf shrinkage.

Why this model. Pose features are few (32) and nearly Gaussian within an age band once the pose is
normalised (pose_embedding); the number of verified infants per band is small (tens to hundreds).
A Gaussian with a shrunk covariance is the best-understood density estimate at that size: its
Mahalanobis distance has a known reference distribution, it handles missing keypoints exactly (a
Gaussian's marginal is a Gaussian: score the observed features with their own sub-covariance), and
it decomposes over joints, which an isolation forest does not. Ledoit–Wolf shrinkage makes the
covariance well conditioned when samples are few; the robust step keeps a few atypical infants in
the training data from widening what counts as typical. It is plain numpy (no scikit-learn in the
Lambda), and tested against scikit-learn's LedoitWolf.

Fitting (`fit`):
1. Standardise each feature (mean, standard deviation over the samples where it is known); a
   missing value is set to the mean (0 after standardising) for the covariance only.
2. Ledoit–Wolf: the sample covariance shrunk toward a scaled identity with the intensity that
   minimises the expected squared error (Ledoit & Wolf, 2004).
3. Robust step (one-step reweighting, as the reweighted MCD does): samples whose squared distance
   exceeds the median squared distance × χ²₀.₉₇₅(p) / χ²₀.₅(p) (the ratio of the two quantiles for
   p features, by Wilson–Hilferty: scale-free, so the shrinkage does not bias it) are dropped and
   steps 1–2 are redone on the rest.
4. Scores of every training sample; the threshold is a chosen percentile of them (default 95th);
   the normalised score of a new pose is its rank among them (0–1).

Scoring (`score`): with z the standardised observed features and Σ their covariance, the squared
Mahalanobis distance is d² = zᵀ Σ⁻¹ z over k observed features. The anomaly score is d² turned into
a standard-normal-like value by the Wilson–Hilferty transform for k degrees of freedom, so that poses
with missing keypoints (smaller k) are compared fairly with complete ones.

Explanation (`explain`): each joint's share of d². With r = Σ⁻¹ z, d² = Σᵢ zᵢ rᵢ; a joint's
contribution is the sum of zᵢ rᵢ over the features attributed to it (its coordinates, the angle at
it, the segment ending at it), negative sums counted as 0, and the shares are the contributions
divided by their total.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

MODEL_TYPE = "robust_gaussian_ledoit_wolf"
DEFAULT_PERCENTILE = 95.0
ROBUST_QUANTILE_Z = 1.959964  # the robust step keeps distances up to the χ² 97.5 % point
QUANTILES = 101  # stored training-score quantiles, for the normalised score
MIN_STD = 1e-6
FOLDS = 5  # out-of-fold training scores set the threshold


def chi2_quantile(k: int, z: float) -> float:
    """The χ²(k) quantile at the standard-normal quantile z (Wilson–Hilferty)."""
    c = 2.0 / (9.0 * k)
    return float(k * (1.0 - c + z * math.sqrt(c)) ** 3)


def robust_cutoff(k: int) -> float:
    """χ²₀.₉₇₅(k) / χ²₀.₅(k): how far above the median squared distance a sample may lie."""
    return chi2_quantile(k, ROBUST_QUANTILE_Z) / chi2_quantile(k, 0.0)


def ledoit_wolf(x: Floats) -> tuple[Floats, float]:
    """Ledoit–Wolf shrunk covariance of centred data x (n, p): (covariance, shrinkage in [0, 1]).

    The same estimator as scikit-learn's `ledoit_wolf` (assume_centered=True).
    """
    n, p = x.shape
    x2 = x**2
    sample = x.T @ x / n
    emp_trace = x2.sum(axis=0) / n
    mu = float(emp_trace.sum() / p)
    beta_ = float((x2.T @ x2).sum())
    delta_ = float(((x.T @ x) ** 2).sum()) / n**2
    beta = 1.0 / (p * n) * (beta_ / n - delta_)
    delta = (delta_ - 2.0 * mu * float(emp_trace.sum()) + p * mu**2) / p
    beta = min(beta, delta)
    shrinkage = 0.0 if beta == 0 else beta / delta
    shrunk = (1.0 - shrinkage) * sample
    shrunk.flat[:: p + 1] += shrinkage * mu
    return shrunk, shrinkage


def wilson_hilferty(d2: Floats | float, k: Floats | int) -> Floats:
    """A χ²(k) value as an approximately standard-normal one."""
    kk = np.asarray(k, dtype=np.float64)
    c = 2.0 / (9.0 * kk)
    return np.asarray((np.cbrt(np.asarray(d2, dtype=np.float64) / kk) - (1.0 - c)) / np.sqrt(c))


@dataclass(frozen=True)
class Score:
    anomaly_score: float  # Wilson–Hilferty z of d²
    mahalanobis_sq: float  # d²
    observed: int  # features scored
    normalized: float  # rank among the training scores, 0–1
    is_anomaly: bool


@dataclass(frozen=True)
class BandModel:
    mean: Floats  # (p,) feature means
    std: Floats  # (p,) feature standard deviations
    covariance: Floats  # (p, p) of the standardised features, shrunk
    shrinkage: float
    threshold: float  # on the anomaly score
    percentile: float
    quantiles: Floats  # (QUANTILES,) of the training anomaly scores
    sample_count: int  # samples fitted (after the robust step)
    trimmed: int  # samples the robust step set aside

    @property
    def features(self) -> int:
        return int(self.mean.shape[0])

    # ------------------------------------------------------------------ scoring
    def mahalanobis(self, x: Floats) -> tuple[Floats, Floats]:
        """Squared distances (n,) and observed-feature counts (n,) of rows x (n, p) with NaN missing."""
        rows = np.atleast_2d(np.asarray(x, dtype=np.float64))
        z = (rows - self.mean) / self.std
        observed = np.isfinite(z)
        d2 = np.empty(rows.shape[0])
        counts = observed.sum(axis=1)
        # Rows share a few missingness patterns: solve once per pattern.
        patterns, inverse = np.unique(observed, axis=0, return_inverse=True)
        for index, pattern in enumerate(patterns):
            members = np.flatnonzero(inverse.ravel() == index)
            if not pattern.any():
                d2[members] = np.nan
                continue
            sub = self.covariance[np.ix_(pattern, pattern)]
            zs = z[np.ix_(members, np.flatnonzero(pattern))]
            solved = np.linalg.solve(sub, zs.T).T
            d2[members] = (zs * solved).sum(axis=1)
        return d2, counts.astype(np.float64)

    def anomaly_scores(self, x: Floats) -> Floats:
        d2, k = self.mahalanobis(x)
        return wilson_hilferty(d2, np.maximum(k, 1))

    def normalized(self, scores: Floats) -> Floats:
        """Rank of each score among the training scores, by their stored quantiles (0–1)."""
        grid = np.linspace(0.0, 1.0, QUANTILES)
        return np.asarray(np.interp(scores, self.quantiles, grid, left=0.0, right=1.0))

    def score(self, x: Floats) -> Score:
        d2, k = self.mahalanobis(x)
        z = float(wilson_hilferty(d2, max(int(k[0]), 1))[0])
        return Score(
            anomaly_score=z,
            mahalanobis_sq=float(d2[0]),
            observed=int(k[0]),
            normalized=float(self.normalized(np.array([z]))[0]),
            is_anomaly=bool(z > self.threshold),
        )

    def contributions(self, x: Floats) -> Floats:
        """Each observed feature's term zᵢ (Σ⁻¹z)ᵢ of d² (0 for missing features); they sum to d²."""
        row = np.asarray(x, dtype=np.float64).ravel()
        z = (row - self.mean) / self.std
        observed = np.isfinite(z)
        terms = np.zeros_like(z)
        if observed.any():
            sub = self.covariance[np.ix_(observed, observed)]
            zo = z[observed]
            terms[observed] = zo * np.linalg.solve(sub, zo)
        return terms

    def explain(self, x: Floats, joints: Sequence[str]) -> dict[str, float]:
        """Each joint's share of the distance (0–1, summing to 1), largest first.

        `joints[i]` is the joint feature i is attributed to.
        """
        terms = self.contributions(x)
        by_joint: dict[str, float] = {}
        for joint, term in zip(joints, terms, strict=True):
            by_joint[joint] = by_joint.get(joint, 0.0) + float(term)
        positive = {j: max(v, 0.0) for j, v in by_joint.items()}
        total = sum(positive.values())
        if total <= 0:
            return dict.fromkeys(by_joint, 0.0)
        shares = {j: v / total for j, v in positive.items()}
        return dict(sorted(shares.items(), key=lambda kv: (-kv[1], kv[0])))

    # ------------------------------------------------------------------ persistence
    def to_parameters(self) -> dict[str, Any]:
        return {
            "mean": _rounded(self.mean),
            "std": _rounded(self.std),
            "covariance": [_rounded(row) for row in self.covariance],
            "shrinkage": self.shrinkage,
            "threshold": self.threshold,
            "percentile": self.percentile,
            "quantiles": _rounded(self.quantiles),
            "sample_count": self.sample_count,
            "trimmed": self.trimmed,
        }

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> BandModel:
        return cls(
            mean=np.asarray(parameters["mean"], dtype=np.float64),
            std=np.asarray(parameters["std"], dtype=np.float64),
            covariance=np.asarray(parameters["covariance"], dtype=np.float64),
            shrinkage=float(parameters["shrinkage"]),
            threshold=float(parameters["threshold"]),
            percentile=float(parameters["percentile"]),
            quantiles=np.asarray(parameters["quantiles"], dtype=np.float64),
            sample_count=int(parameters["sample_count"]),
            trimmed=int(parameters["trimmed"]),
        )


def _rounded(values: Floats) -> list[float]:
    # 10 significant digits: the JSON stays exact enough to reproduce every score to 1e-6.
    return [float(f"{v:.10g}") for v in np.asarray(values, dtype=np.float64).ravel()]


def _standardised_fit(x: Floats) -> tuple[Floats, Floats, Floats, float]:
    mean = np.nanmean(x, axis=0)
    std = np.nanstd(x, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std > MIN_STD), std, 1.0)
    z = np.nan_to_num((x - mean) / std, nan=0.0)
    covariance, shrinkage = ledoit_wolf(z)
    return mean, std, covariance, shrinkage


def _fit_core(data: Floats, percentile: float, robust: bool) -> BandModel:
    """Steps 1–3: the Gaussian of typical poses (threshold and quantiles not yet set)."""
    mean, std, covariance, shrinkage = _standardised_fit(data)
    trimmed = 0
    if robust:
        provisional = BandModel(mean, std, covariance, shrinkage, 0.0, percentile, np.zeros(QUANTILES), 0, 0)
        d2, _ = provisional.mahalanobis(data)
        keep = d2 <= robust_cutoff(data.shape[1]) * float(np.nanmedian(d2))
        if 2 <= keep.sum() < data.shape[0]:
            trimmed = int(data.shape[0] - keep.sum())
            mean, std, covariance, shrinkage = _standardised_fit(data[keep])
    return BandModel(
        mean,
        std,
        covariance,
        shrinkage,
        0.0,
        percentile,
        np.zeros(QUANTILES),
        data.shape[0] - trimmed,
        trimmed,
    )


def out_of_fold_scores(
    data: Floats, *, folds: int = FOLDS, percentile: float = DEFAULT_PERCENTILE, robust: bool = True
) -> Floats:
    """Each sample's anomaly score under a model fitted without it (sample i is in fold i mod `folds`).

    In-sample Mahalanobis distances are too small (the model has seen the point); a threshold taken
    from them would flag far more than (100 − percentile) % of new typical poses.
    """
    n = data.shape[0]
    scores = np.empty(n)
    fold_of = np.arange(n) % folds
    for fold in range(folds):
        held = fold_of == fold
        if not held.any():
            continue
        scores[held] = _fit_core(data[~held], percentile, robust).anomaly_scores(data[held])
    return scores


def fit(
    x: Floats, *, percentile: float = DEFAULT_PERCENTILE, robust: bool = True, folds: int = FOLDS
) -> BandModel:
    """Fit the model of typical poses to samples x (n, p), NaN where a feature is missing.

    The threshold and the normalised-score quantiles come from the samples' out-of-fold scores.
    """
    data = np.asarray(x, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < 2 * folds:
        raise ValueError(f"fitting needs at least {2 * folds} samples")
    core = _fit_core(data, percentile, robust)
    scores = out_of_fold_scores(data, folds=folds, percentile=percentile, robust=robust)
    scores = scores[np.isfinite(scores)]
    return BandModel(
        mean=core.mean,
        std=core.std,
        covariance=core.covariance,
        shrinkage=core.shrinkage,
        threshold=float(np.percentile(scores, percentile)),
        percentile=percentile,
        quantiles=np.quantile(scores, np.linspace(0.0, 1.0, QUANTILES)),
        sample_count=core.sample_count,
        trimmed=core.trimmed,
    )


def roc_auc(scores: Sequence[float] | Floats, labels: Sequence[bool] | Bools) -> float | None:
    """Area under the ROC curve: the Mann–Whitney U statistic, ties counted half.

    None without both classes.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    positives, negatives = s[y], s[~y]
    if positives.size == 0 or negatives.size == 0:
        return None
    order = np.argsort(np.concatenate([positives, negatives]), kind="mergesort")
    ranks = np.empty(order.size)
    ranks[order] = np.arange(1, order.size + 1)
    values = np.concatenate([positives, negatives])
    # Average ranks over ties.
    sorted_values = values[order]
    _, starts, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    for start, count in zip(starts, counts, strict=True):
        if count > 1:
            ranks[order[start : start + count]] = start + (count + 1) / 2.0
    u = ranks[: positives.size].sum() - positives.size * (positives.size + 1) / 2.0
    return float(u / (positives.size * negatives.size))


def sample_confidence(sample_count: int, half_at: int = 50) -> float:
    """How much a band's sample count supports its model: n / (n + half_at), 0–1."""
    return sample_count / (sample_count + half_at) if sample_count > 0 else 0.0


def confidence(sample_count: int, observed: int, features: int) -> float:
    """Confidence of one score: the band's sample support × the share of features observed."""
    coverage = observed / features if features else 0.0
    return round(sample_confidence(sample_count) * coverage, 3)


def is_finite_number(value: float) -> bool:
    return math.isfinite(value)
