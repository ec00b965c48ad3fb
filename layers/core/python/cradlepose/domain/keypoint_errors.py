"""Per-keypoint errors of a model against verified keypoints: mean pixel error and PCK.

For every image whose verified keypoints label keypoint i, and whose prediction labels it too:
- `mean_error_px[i]` is the mean Euclidean distance in pixels;
- `pck[i]` (percentage of correct keypoints) is the share of the verified labelled keypoints
  that the prediction put within α × the person's size, size = √(object area) (the same scale
  as OKS), α = PCK_ALPHA. A keypoint the prediction misses (absent, or no person found) counts
  as wrong for PCK and is left out of the mean error, which `detected[i]` makes visible.
- `oks[i]` (when sigmas are given) is the mean of keypoint i's OKS term exp(−d²/2s²k²) over the
  verified labelled occurrences, s² the object area, k = 2σ as in COCO; a missed keypoint counts 0.
  The learning loop's gate compares it per keypoint (domain.learning_loop).
Both are also given over all keypoints together.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cradlepose.domain.keypoint_math import COCO_EPS
from cradlepose.domain.keypoints import Keypoint
from cradlepose.domain.person_box import object_area

PCK_ALPHA = 0.1


@dataclass(frozen=True)
class ImagePair:
    truth: Sequence[Keypoint]
    predicted: Sequence[Keypoint] | None  # None: the model found nobody


@dataclass
class KeypointErrors:
    alpha: float
    mean_error_px: dict[int, float | None] = field(default_factory=dict)
    pck: dict[int, float | None] = field(default_factory=dict)
    labelled: dict[int, int] = field(default_factory=dict)  # verified labelled occurrences
    detected: dict[int, int] = field(default_factory=dict)  # of those, predicted as labelled
    oks: dict[int, float | None] = field(default_factory=dict)  # mean OKS term (with sigmas only)
    overall_mean_error_px: float | None = None
    overall_pck: float | None = None


def keypoint_errors(
    pairs: Iterable[ImagePair],
    keypoint_ids: Sequence[int],
    alpha: float = PCK_ALPHA,
    sigmas: Sequence[float] | None = None,
) -> KeypointErrors:
    sigma_of = dict(zip(keypoint_ids, sigmas, strict=True)) if sigmas is not None else None
    similarity: dict[int, float] = dict.fromkeys(keypoint_ids, 0.0)
    distances: dict[int, list[float]] = {i: [] for i in keypoint_ids}
    correct = dict.fromkeys(keypoint_ids, 0)
    labelled = dict.fromkeys(keypoint_ids, 0)
    for pair in pairs:
        truth = {k.id: k for k in pair.truth if k.is_labelled}
        area = object_area(list(truth.values()))
        size = math.sqrt(area)
        predicted = {k.id: k for k in (pair.predicted or []) if k.is_labelled}
        for keypoint_id, reference in truth.items():
            if keypoint_id not in labelled:
                continue
            labelled[keypoint_id] += 1
            guess = predicted.get(keypoint_id)
            if guess is None:
                continue
            distance = math.hypot(guess.x - reference.x, guess.y - reference.y)
            distances[keypoint_id].append(distance)
            if sigma_of is not None:
                variance = (2 * sigma_of[keypoint_id]) ** 2
                similarity[keypoint_id] += math.exp(-(distance**2) / variance / (area + COCO_EPS) / 2)
            if distance <= alpha * size:
                correct[keypoint_id] += 1
    all_distances = [d for ds in distances.values() for d in ds]
    total_labelled = sum(labelled.values())
    return KeypointErrors(
        alpha=alpha,
        mean_error_px={i: sum(d) / len(d) if d else None for i, d in distances.items()},
        pck={i: correct[i] / labelled[i] if labelled[i] else None for i in keypoint_ids},
        labelled=labelled,
        detected={i: len(distances[i]) for i in keypoint_ids},
        oks={
            i: similarity[i] / labelled[i] if labelled[i] and sigma_of is not None else None
            for i in keypoint_ids
        },
        overall_mean_error_px=sum(all_distances) / len(all_distances) if all_distances else None,
        overall_pck=sum(correct.values()) / total_labelled if total_labelled else None,
    )
