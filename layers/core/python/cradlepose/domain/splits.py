"""Deterministic train / validation / test splits that never put one infant in two splits.

Images are grouped first (by the infant's subject id, or by batch), and whole groups are dealt to
the splits: a model must never be tested on an infant it was trained on, or its scores measure
memory, not skill. Within each stratum (for example an institution), groups are taken in an order
fixed by a hash of the seed and the group key, and each goes to the split that is furthest below
its share of the stratum's images. The same images with the same seed always give the same split,
whatever order they arrive in; another seed gives another split.

An image whose metadata names no subject is a group of its own: with nothing to link it to other
images, it cannot leak an infant across splits.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cradlepose.domain.enums import DatasetSplit, SplitGrouping

SUBJECT_KEY = "subject_id"  # in Image.infant_metadata: who the infant is (pseudonymous)
AGE_KEY = "age_months"  # in Image.infant_metadata: the infant's age at acquisition
SPLIT_ORDER = (DatasetSplit.TRAIN, DatasetSplit.VALIDATION, DatasetSplit.TEST)


class SplitFractions(BaseModel):
    """The share of images each split should get; they add up to 1."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    train: float = Field(default=0.7, ge=0, le=1)
    validation: float = Field(default=0.15, ge=0, le=1)
    test: float = Field(default=0.15, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitFractions:
        total = self.train + self.validation + self.test
        if abs(total - 1) > 1e-9:
            raise ValueError(f"train + validation + test must be 1, not {total:g}")
        return self

    def of(self, split: DatasetSplit) -> float:
        return {
            DatasetSplit.TRAIN: self.train,
            DatasetSplit.VALIDATION: self.validation,
            DatasetSplit.TEST: self.test,
        }[split]


@dataclass(frozen=True)
class SplitCandidate:
    image_id: int
    group: str  # images sharing it always land in the same split
    stratum: str = ""  # groups are balanced across splits within each stratum


def group_key(
    image_id: int, batch_id: int, infant_metadata: Mapping[str, Any] | None, grouping: SplitGrouping
) -> str:
    """The group an image belongs to under `grouping`."""
    if grouping is SplitGrouping.BATCH:
        return f"batch:{batch_id}"
    subject = (infant_metadata or {}).get(SUBJECT_KEY)
    if subject is None or str(subject).strip() == "":
        return f"image:{image_id}"
    return f"subject:{str(subject).strip()}"


def assign_splits(
    candidates: Iterable[SplitCandidate], fractions: SplitFractions, seed: int
) -> dict[int, DatasetSplit]:
    """The split of every candidate image."""
    members: dict[str, list[int]] = defaultdict(list)
    strata_of_group: dict[str, Counter[str]] = defaultdict(Counter)
    seen: set[int] = set()
    for candidate in candidates:
        if candidate.image_id in seen:
            raise ValueError(f"image {candidate.image_id} is listed twice")
        seen.add(candidate.image_id)
        members[candidate.group].append(candidate.image_id)
        strata_of_group[candidate.group][candidate.stratum] += 1
    groups_by_stratum: dict[str, list[str]] = defaultdict(list)
    for group, strata in strata_of_group.items():
        # A group that spans strata (an infant seen at two sites) counts where most of it is.
        stratum = min(strata, key=lambda s: (-strata[s], s))
        groups_by_stratum[stratum].append(group)
    result: dict[int, DatasetSplit] = {}
    usable = [s for s in SPLIT_ORDER if fractions.of(s) > 0]
    for stratum in sorted(groups_by_stratum):
        groups = sorted(groups_by_stratum[stratum], key=lambda g: _order(seed, g))
        total = sum(len(members[g]) for g in groups)
        taken = dict.fromkeys(usable, 0)
        for group in groups:
            # The split furthest below its target share; ties go to the earlier split.
            split = max(usable, key=lambda s: (fractions.of(s) * total - taken[s], -SPLIT_ORDER.index(s)))
            taken[split] += len(members[group])
            for image_id in members[group]:
                result[image_id] = split
    return result


def counts(assignment: Mapping[int, DatasetSplit]) -> dict[DatasetSplit, int]:
    tally = Counter(assignment.values())
    return {split: tally.get(split, 0) for split in SPLIT_ORDER}


def _order(seed: int, group: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{group}".encode()).digest()


# The names archives give their splits: COCO's person_keypoints_train2017.json / val2017, YOLO's
# images/train, images/val, Cradle's own images/<split> and person_keypoints_<split>.json.
_SPLIT_WORDS = {
    "train": DatasetSplit.TRAIN,
    "training": DatasetSplit.TRAIN,
    "val": DatasetSplit.VALIDATION,
    "valid": DatasetSplit.VALIDATION,
    "validation": DatasetSplit.VALIDATION,
    "test": DatasetSplit.TEST,
    "testing": DatasetSplit.TEST,
}


def split_named(name: str) -> DatasetSplit | None:
    """The split a file or folder name says it holds (`person_keypoints_val2017.json` → validation).

    Words are split on anything not a letter or digit, and a year or number glued to a word
    (`train2017`) is dropped; None when no word names a split, or when two different ones do.
    """
    words = re.split(r"[^a-z0-9]+", name.lower())
    found = {_SPLIT_WORDS[w] for w in (re.sub(r"\d+$", "", word) for word in words) if w in _SPLIT_WORDS}
    return found.pop() if len(found) == 1 else None
