"""A trained world: verified synthetic poses in three age bands (one too small), models trained on them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.adapters.storage import S3Storage
from cradlepose.anomaly import training as anomaly_training
from cradlepose.common.system import SYSTEM, step_context
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.synthetic_poses import SyntheticPoses
from tests.anomaly_support import SeededBatch, band_poses, seed_batch
from tests.support import Persona

BANDS = [{"age_min": 0, "age_max": 3}, {"age_min": 3, "age_max": 6}, {"age_min": 6, "age_max": 12}]
CONFIG = {"bands": BANDS, "min_samples": 30, "validation_fraction": 0.25, "seed": 1}
CONTEXT = step_context("schedule:anomaly_training", kind="SCHEDULE")


@dataclass
class World:
    reference: SeededBatch  # the verified poses the models learn from
    fresh: SeededBatch  # a newly verified batch to analyse
    fresh_poses: SyntheticPoses
    fresh_bands: list[str]  # per pose of the fresh batch: "0-3", "6-12" or "no age"
    job_id: int | None = None


def _labels(n: int, atypical: np.ndarray, every: int) -> list[str | None]:
    """Every `every`-th pose carries an expert's label (its ground truth)."""
    return [
        ("atypical" if atypical[i] else "typical") if i % every == 0 or atypical[i] else None
        for i in range(n)
    ]


@pytest.fixture
def world(session_factory: sessionmaker[Session], admin: Persona, annotator: Persona, aws: str) -> World:
    # Reference: 0–3 and 3–6 months with enough typical poses (and a few labelled atypical ones),
    # 6–12 months with too few.
    parts = [
        band_poses(11, 90, 0, atypical_share=0.1),
        band_poses(12, 90, 1, atypical_share=0.1),
        band_poses(13, 8, 2),
    ]
    points = np.concatenate([p.points for p in parts])
    reference_poses = SyntheticPoses(
        points=points,
        present=np.concatenate([p.present for p in parts]),
        ages=np.concatenate([p.ages for p in parts]),
        atypical=np.concatenate([p.atypical for p in parts]),
        perturbed=tuple(x for p in parts for x in p.perturbed),
    )
    n = len(reference_poses)
    # Labelled atypical poses are known; the unlabelled ones stay in (the robust fit copes).
    labels = [
        (
            "atypical"
            if reference_poses.atypical[i] and i % 2 == 0
            else ("typical" if i % 5 == 0 and not reference_poses.atypical[i] else None)
        )
        for i in range(n)
    ]
    subjects = [f"infant-{i // 2}" for i in range(n)]  # two photographs per infant
    reference = seed_batch(
        session_factory, admin, annotator, reference_poses, name="reference", labels=labels, subjects=subjects
    )
    fresh_parts = [band_poses(21, 6, 0, atypical_share=0.5), band_poses(22, 2, 2)]
    fresh_poses = SyntheticPoses(
        points=np.concatenate([p.points for p in fresh_parts]),
        present=np.concatenate([p.present for p in fresh_parts]),
        ages=np.concatenate([p.ages for p in fresh_parts]),
        atypical=np.concatenate([p.atypical for p in fresh_parts]),
        perturbed=tuple(x for p in fresh_parts for x in p.perturbed),
    )
    ages: list[float | None] = [float(a) for a in fresh_poses.ages]
    ages.append(None)
    fresh_poses = SyntheticPoses(
        points=np.concatenate([fresh_poses.points, fresh_poses.points[:1]]),
        present=np.concatenate([fresh_poses.present, fresh_poses.present[:1]]),
        ages=np.concatenate([fresh_poses.ages, fresh_poses.ages[:1]]),
        atypical=np.concatenate([fresh_poses.atypical, fresh_poses.atypical[:1]]),
        perturbed=(*fresh_poses.perturbed, fresh_poses.perturbed[0]),
    )
    fresh = seed_batch(session_factory, admin, annotator, fresh_poses, name="fresh", ages=ages)
    return World(reference, fresh, fresh_poses, ["0-3"] * 6 + ["6-12"] * 2 + ["no age"])


def train(uow_factory: UnitOfWorkFactory, admin: Persona, config: dict[str, object] | None = None) -> int:
    from cradlepose.domain.actor import Actor  # noqa: PLC0415
    from cradlepose.domain.enums import Role  # noqa: PLC0415

    actor = Actor(admin.user_id, admin.name, Role.ADMIN, is_approved=True)
    with uow_factory(actor) as uow:
        job = anomaly_training.request_training(
            uow, anomaly_training.AnomalyTrainingJobIn.model_validate({"config": config or CONFIG})
        )
    ran = anomaly_training.run_next(uow_factory, S3Storage(), CONTEXT)
    assert ran is not None
    assert ran.id == job.id
    return job.id


@pytest.fixture
def trained(world: World, uow_factory: UnitOfWorkFactory, admin: Persona) -> World:
    world.job_id = train(uow_factory, admin, {**CONFIG, "batch_ids": [world.reference.batch_id]})
    return world


__all__ = ["SYSTEM", "World", "train"]
