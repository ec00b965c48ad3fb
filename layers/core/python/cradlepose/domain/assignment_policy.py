"""Who should annotate a batch: the auto-assign policy.

Eligible: ANNOTATOR, approved, active, with an open assignment count below their
`max_concurrent_batches`. Among the eligible, the highest score wins:

    score = 2.0 × specialty_match + 1.0 × spare_capacity + 1.0 × accuracy

- specialty_match: 1 when the batch asks for a specialty (`upload_metadata.specialty`) and the
  annotator's `annotation_specialty` is the same, 0.5 when the batch asks for none, 0 otherwise;
- spare_capacity: the share of the annotator's capacity still free (1 - open / max);
- accuracy: their `accuracy_score` in [0, 1].

Ties go to the fewer open assignments, then to the lower user id, so the choice is
deterministic. Batches are served in priority order (highest `processing_priority` first, then
the oldest), each choice counting as load for the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

SPECIALTY_WEIGHT = 2.0
CAPACITY_WEIGHT = 1.0
ACCURACY_WEIGHT = 1.0


@dataclass(frozen=True)
class Candidate:
    user_id: int
    specialty: str | None
    open_assignments: int
    max_concurrent: int
    accuracy: float

    @property
    def has_capacity(self) -> bool:
        return self.open_assignments < self.max_concurrent


@dataclass(frozen=True)
class WaitingBatch:
    batch_id: int
    priority: int
    uploaded_order: int  # smaller = older
    specialty: str | None = None


def score(candidate: Candidate, wanted_specialty: str | None) -> float:
    match = 0.5 if wanted_specialty is None else float(candidate.specialty == wanted_specialty)
    spare = 1 - candidate.open_assignments / candidate.max_concurrent if candidate.max_concurrent else 0.0
    return SPECIALTY_WEIGHT * match + CAPACITY_WEIGHT * spare + ACCURACY_WEIGHT * candidate.accuracy


def choose(
    candidates: Sequence[Candidate], wanted_specialty: str | None, exclude: frozenset[int] = frozenset()
) -> Candidate | None:
    eligible = [c for c in candidates if c.has_capacity and c.user_id not in exclude]
    if not eligible:
        return None
    return max(eligible, key=lambda c: (score(c, wanted_specialty), -c.open_assignments, -c.user_id))


def plan(batches: Sequence[WaitingBatch], candidates: Sequence[Candidate]) -> list[tuple[int, int]]:
    """(batch_id, user_id) pairs for as many waiting batches as capacity allows, in priority order."""
    pool = {c.user_id: c for c in candidates}
    result = []
    for batch in sorted(batches, key=lambda b: (-b.priority, b.uploaded_order)):
        chosen = choose(list(pool.values()), batch.specialty)
        if chosen is None:
            continue
        result.append((batch.batch_id, chosen.user_id))
        pool[chosen.user_id] = replace(chosen, open_assignments=chosen.open_assignments + 1)
    return result
