"""Keypoint arithmetic: how far an annotator moved YOLO's keypoints, and COCO's OKS.

Displacement. For every keypoint of the schema, compare YOLO's suggestion with the submitted
keypoint:
- `moved`: labelled in both and displaced by more than MOVE_TOLERANCE_PX (0.5 px: a click that
  lands where the point already was is not a correction);
- `relabelled`: labelled in one and absent in the other (the annotator added a keypoint YOLO
  missed, or removed one YOLO imagined), or visible <-> occluded changed;
- a *major* change: displaced by more than the person-relative threshold
  `max(MIN_MAJOR_PX, MAJOR_FRACTION × scale)`, where `scale` is the square root of the area of the
  tight box around the reference keypoints (so 5 % of a person's size: 10 px on an infant 200 px
  across, 40 px on one 800 px across), or added / removed.
`total_moved` counts moved keypoints; `avg_displacement` is their mean displacement in pixels
over keypoints labelled in both (0 when none); `total_keypoints_modified` = moved + relabelled.

OKS (object keypoint similarity) is COCO's, exactly as cocoapi's COCOeval.computeOks computes it:
    e_i = d_i² / ((2σ_i)² · (area + ε) · 2),  OKS = mean over the reference's labelled keypoints of exp(-e_i)
with `area` the reference object's area. A keypoint the other side leaves absent counts with its
position as given (COCO does the same: detections carry all keypoints).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cradlepose.domain.enums import Visibility
from cradlepose.domain.keypoints import Keypoint, KeypointSet, ModificationsFromYolo

MOVE_TOLERANCE_PX = 0.5
MAJOR_FRACTION = 0.05
MIN_MAJOR_PX = 5.0
COCO_EPS = 2.220446049250313e-16  # np.spacing(1), as cocoapi adds to the area


@dataclass(frozen=True)
class Comparison:
    modifications: ModificationsFromYolo
    total_keypoints_modified: int
    displacement_by_id: dict[int, float]  # keypoints labelled in both
    threshold_px: float

    @property
    def major_corrections_made(self) -> bool:
        return bool(self.modifications.major_changes)


def distance(a: Keypoint, b: Keypoint) -> float:
    return math.hypot(a.x - b.x, a.y - b.y)


def box_of(keypoints: Sequence[Keypoint]) -> tuple[float, float, float, float] | None:
    """Tight (x, y, width, height) box around the labelled keypoints; None if there are none."""
    labelled = [k for k in keypoints if k.is_labelled]
    if not labelled:
        return None
    xs, ys = [k.x for k in labelled], [k.y for k in labelled]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def area_of(keypoints: Sequence[Keypoint]) -> float:
    box = box_of(keypoints)
    return 0.0 if box is None else box[2] * box[3]


def major_threshold(reference: Sequence[Keypoint]) -> float:
    return max(MIN_MAJOR_PX, MAJOR_FRACTION * math.sqrt(area_of(reference)))


def compare(reference: KeypointSet | None, submitted: KeypointSet) -> Comparison:
    """How `submitted` differs from `reference` (YOLO's suggestion, or an earlier version)."""
    before: Mapping[int, Keypoint] = reference.by_id() if reference else {}
    after = submitted.by_id()
    threshold = major_threshold(list(before.values())) if before else MIN_MAJOR_PX
    displacement: dict[int, float] = {}
    moved: list[int] = []
    relabelled: list[int] = []
    major: list[int] = []
    for keypoint_id in sorted(set(before) | set(after)):
        old, new = before.get(keypoint_id), after.get(keypoint_id)
        old_labelled = old is not None and old.is_labelled
        new_labelled = new is not None and new.is_labelled
        if old_labelled and new_labelled:
            assert old is not None
            assert new is not None
            d = distance(old, new)
            displacement[keypoint_id] = d
            if d > MOVE_TOLERANCE_PX:
                moved.append(keypoint_id)
            if d > threshold:
                major.append(keypoint_id)
            if old.visible != new.visible:
                relabelled.append(keypoint_id)
        elif old_labelled != new_labelled:
            relabelled.append(keypoint_id)
            major.append(keypoint_id)
    moved_distances = [displacement[i] for i in moved]
    return Comparison(
        modifications=ModificationsFromYolo(
            total_moved=len(moved),
            major_changes=sorted(set(major)),
            avg_displacement=round(sum(moved_distances) / len(moved_distances), 2)
            if moved_distances
            else 0.0,
        ),
        total_keypoints_modified=len(set(moved) | set(relabelled)),
        displacement_by_id=displacement,
        threshold_px=threshold,
    )


def oks(
    reference: Sequence[Keypoint],
    candidate: Sequence[Keypoint],
    sigmas_by_id: Mapping[int, float],
    area: float,
) -> float:
    """COCO's object keypoint similarity of `candidate` against `reference` (area: reference's area).

    Only keypoints labelled in the reference count; a reference with none has OKS 0 (COCOeval
    skips such ground truths; Cradle never compares against an empty annotation).
    """
    by_id = {k.id: k for k in candidate}
    terms = []
    for ref in reference:
        if ref.visible == Visibility.ABSENT:
            continue
        other = by_id.get(ref.id)
        # A keypoint missing from the candidate sits at (0, 0), as in a COCO detection row.
        cx, cy = (other.x, other.y) if other is not None else (0.0, 0.0)
        variance = (2 * sigmas_by_id[ref.id]) ** 2
        e = ((cx - ref.x) ** 2 + (cy - ref.y) ** 2) / variance / (area + COCO_EPS) / 2
        terms.append(math.exp(-e))
    return sum(terms) / len(terms) if terms else 0.0


def per_keypoint_similarity(
    reference: Sequence[Keypoint],
    candidate: Sequence[Keypoint],
    sigmas_by_id: Mapping[int, float],
    area: float,
) -> dict[int, float]:
    """Each reference keypoint's OKS term: where an annotator tends to be off."""
    by_id = {k.id: k for k in candidate}
    result = {}
    for ref in reference:
        other = by_id.get(ref.id)
        if ref.visible == Visibility.ABSENT or other is None or not other.is_labelled:
            continue
        variance = (2 * sigmas_by_id[ref.id]) ** 2
        e = ((other.x - ref.x) ** 2 + (other.y - ref.y) ** 2) / variance / (area + COCO_EPS) / 2
        result[ref.id] = math.exp(-e)
    return result
