"""The learning loop (issue 23, docs/learning-loop.md): verified data retrains the schema's model,
the gate promotes it, and the next batch is pre-annotated by it.

- The policy (one per keypoint schema, set by an admin): the trigger, the base weights, the
  training hyperparameters within their bounds, the held-out fraction and the gate (δ, ε). The
  rules themselves are domain.learning_loop's.
- A run is one execution of infra/statemachines/learning_loop.asl.json. It is recorded RUNNING
  (at most one per schema) in the transaction that asks for it, by an admin's "run now" or by the
  trigger, and started after commit under the name `learning-loop-<id>` (starting twice is one
  execution). Its steps are the functions below, each in its own transactions, each audited,
  each safe to run twice (what a step made is found again, never made twice):
  Snapshot (the verified images into a dataset, the held-out test split grouped by infant) →
  Train (a training job; the jobs worker runs it: the GPU task in the cloud, the CPU locally) →
  CheckTraining (polled between Wait states) → Evaluate (the candidate and the current default
  on the same held-out split) → CheckEvaluation → Gate (promote through
  model_configs.promote_to_production with the gate's evidence, or record why not); RecordFailure
  when a step raised.
- Rollback makes the model the current default replaced its schema's default again, in one call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.adapters.workflow import Workflow
from cradlepose.common.paging import keyset_page
from cradlepose.common.system import SYSTEM  # the steps and the trigger act as the system
from cradlepose.common.use_cases import Page, audit
from cradlepose.datasets import datasets
from cradlepose.datasets.verified_images import ImageFilters, verified_query
from cradlepose.db.models import (
    InferenceJob,
    LearningLoopPolicy,
    LearningLoopRun,
    MLModelConfig,
    ModelDeployment,
    TrainingJob,
)
from cradlepose.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from cradlepose.domain import access
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.enums import (
    AuditCategory,
    AuditStatus,
    DatasetSplit,
    DeploymentStatus,
    JobStatus,
    LoopRunStatus,
    LoopTrigger,
    SplitGrouping,
)
from cradlepose.domain.errors import Conflict, NotFound, ValidationFailed
from cradlepose.domain.jobs import TrainingHyperparameters
from cradlepose.domain.learning_loop import (
    DEFAULT_POLICY,
    LoopGateEvidence,
    LoopPolicySettings,
    due_trigger,
    holdout_fractions,
    judge,
)
from cradlepose.domain.status_changes import change_status
from cradlepose.models import ml_jobs, model_configs, model_metrics
from cradlepose.settings import get_settings

RESOURCE = "LearningLoopRun"
EXECUTION_PREFIX = "learning-loop-"
# The step names of the state machine, as a run records them (the screen shows them).
SNAPSHOT, TRAIN, CHECK_TRAINING, EVALUATE, CHECK_EVALUATION, GATE, DONE = (
    "Snapshot", "Train", "CheckTraining", "Evaluate", "CheckEvaluation", "Gate", "Done",
)  # fmt: skip


class LoopStepFailed(Conflict):
    """A step cannot go on (no images to hold out, a job failed): the run ends FAILED with this."""

    code = "learning-loop-step-failed"
    title = "A step of the learning loop could not go on"


class LearningLoopPolicyIn(LoopPolicySettings):
    """PUT /schemas/{id}/learning-loop."""


class LearningLoopPolicyOut(LoopPolicySettings):
    keypoint_schema_id: int
    updated_at: dt.datetime | None
    updated_by: int | None
    verified_since_last_run: int = Field(description="verified images of the schema since the last run began")
    last_run_id: int | None


class LearningLoopRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    keypoint_schema_id: int
    trigger: LoopTrigger
    status: LoopRunStatus
    step: str
    dataset_id: int | None
    training_job_id: int | None
    candidate_model_id: int | None
    incumbent_model_id: int | None
    candidate_ap: float | None
    incumbent_ap: float | None
    verdict: str | None
    error: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000)


_POLICY_FIELDS = tuple(LoopPolicySettings.model_fields)


# ------------------------------------------------------------------ the policy


def get_policy(uow: UnitOfWork, schema_id: int) -> LearningLoopPolicyOut:
    access.require_researcher(uow.actor)
    uow.schemas.require(schema_id)
    return _policy_out(uow, schema_id, uow.session.get(LearningLoopPolicy, schema_id))


def put_policy(uow: UnitOfWork, schema_id: int, command: LearningLoopPolicyIn) -> LearningLoopPolicyOut:
    actor = access.require_admin(uow.actor)
    uow.schemas.require(schema_id)
    if command.base_model_id is not None:
        base = uow.model_configs.get(command.base_model_id)
        if base is None or not base.is_active:
            raise ValidationFailed.single("base_model_id", f"no active model {command.base_model_id}")
        if base.keypoint_schema_id != schema_id:
            raise ValidationFailed.single(
                "base_model_id",
                f"model {base.id} predicts another schema's keypoints than schema {schema_id}'s",
            )
    row = uow.session.get(LearningLoopPolicy, schema_id, with_for_update=True)
    before = _settings(row).model_dump() if row is not None else None
    values = LoopPolicySettings.model_validate(command.model_dump()).model_dump()
    if row is None:
        row = LearningLoopPolicy(keypoint_schema_id=schema_id, updated_by=actor.user_id, **values)
        uow.session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_by = actor.user_id  # type: ignore[assignment]  # an admin is a registered user
        row.updated_at = dt.datetime.now(dt.UTC)
    audit(
        uow, "LEARNING_LOOP_POLICY_SET", AuditCategory.SYSTEM, "KeypointSchema", schema_id,
        old=before, new=values,
    )  # fmt: skip
    uow.flush()
    out = _policy_out(uow, schema_id, row)
    uow.commit()
    return out


def _settings(row: LearningLoopPolicy | None) -> LoopPolicySettings:
    if row is None:
        return DEFAULT_POLICY
    return LoopPolicySettings.model_validate({name: getattr(row, name) for name in _POLICY_FIELDS})


def _policy_out(uow: UnitOfWork, schema_id: int, row: LearningLoopPolicy | None) -> LearningLoopPolicyOut:
    last = _last_run(uow, schema_id)
    return LearningLoopPolicyOut(
        **_settings(row).model_dump(),
        keypoint_schema_id=schema_id,
        updated_at=row.updated_at if row is not None else None,
        updated_by=row.updated_by if row is not None else None,
        verified_since_last_run=verified_count(uow, schema_id) - (last.verified_at_start if last else 0),
        last_run_id=last.id if last else None,
    )


def verified_count(uow: UnitOfWork, schema_id: int) -> int:
    """The schema's verified images, as a dataset of it would find them."""
    verified = verified_query(schema_id, ImageFilters()).subquery()
    return int(uow.session.scalar(sa.select(sa.func.count()).select_from(verified)) or 0)


def _last_run(uow: UnitOfWork, schema_id: int) -> LearningLoopRun | None:
    return uow.session.scalar(
        sa.select(LearningLoopRun)
        .where(LearningLoopRun.keypoint_schema_id == schema_id)
        .order_by(LearningLoopRun.id.desc())
        .limit(1)
    )


# ------------------------------------------------------------------ runs: asking, starting, reading


def request_run(
    uow: UnitOfWork, schema_id: int, trigger: LoopTrigger = LoopTrigger.MANUAL
) -> LearningLoopRunOut:
    """Record a RUNNING run (an admin's "run now", or the trigger as the system). The caller starts
    its execution after commit (`start`)."""
    actor = access.require_admin(uow.actor)
    uow.schemas.require(schema_id, for_update=True)  # one request at a time per schema
    policy = _settings(uow.session.get(LearningLoopPolicy, schema_id))
    running = uow.session.scalar(
        sa.select(LearningLoopRun.id).where(
            LearningLoopRun.keypoint_schema_id == schema_id, LearningLoopRun.status == LoopRunStatus.RUNNING
        )
    )
    if running is not None:
        raise Conflict(f"run {running} of schema {schema_id}'s learning loop is still under way")
    base_id = policy.base_model_id
    if base_id is None:
        default = model_configs.default_for_schema(uow, schema_id)
        if default is None:
            raise Conflict(
                f"schema {schema_id} has no default model to retrain: name a base model in its policy"
            )
        base_id = default.id
    started_by = actor.user_id if actor.user_id is not None else uow.system_user_id()
    run = LearningLoopRun(
        keypoint_schema_id=schema_id,
        trigger=trigger,
        step=SNAPSHOT,
        policy=policy.model_dump(mode="json"),
        verified_at_start=verified_count(uow, schema_id),
        base_model_id=base_id,
        started_by=started_by,
        started_at=dt.datetime.now(dt.UTC),
    )
    uow.session.add(run)
    uow.flush()
    arn = get_settings().learning_loop_state_machine_arn
    if arn:
        run.execution_arn = _execution_arn(arn, run.id)
    _audit(uow, run, "LEARNING_LOOP_RUN_REQUESTED", new={
        "trigger": trigger.value, "base_model_id": base_id, "verified_at_start": run.verified_at_start,
    })  # fmt: skip
    out = LearningLoopRunOut.model_validate(run)
    uow.commit()
    return out


def start(uow_factory: UnitOfWorkFactory, workflow: Workflow, run_id: int, context: RequestContext) -> bool:
    """Start the run's execution (named after the run: starting twice is one execution). False when
    no state machine is configured; a refusal to start ends the run FAILED rather than RUNNING forever."""
    settings = get_settings()
    if not settings.learning_loop_state_machine_arn:
        return False
    try:
        workflow.start(
            settings.learning_loop_state_machine_arn,
            f"{EXECUTION_PREFIX}{run_id}",
            {"run_id": run_id, "poll_seconds": settings.learning_loop_poll_seconds},
        )
    except Exception as error:
        record_failure(
            uow_factory, run_id, type(error).__name__, f"the run could not be started: {error}", context
        )
        raise
    return True


def list_runs(
    uow: UnitOfWork, *, schema_id: int | None, cursor: str | None, limit: int
) -> Page[LearningLoopRunOut]:
    access.require_researcher(uow.actor)
    query = sa.select(LearningLoopRun)
    if schema_id is not None:
        query = query.where(LearningLoopRun.keypoint_schema_id == schema_id)
    return keyset_page(
        uow.session,
        query,
        order_by=[LearningLoopRun.id.desc()],
        cursor=cursor,
        limit=limit,
        to_model=LearningLoopRunOut.model_validate,
    )


def get_run(uow: UnitOfWork, run_id: int) -> LearningLoopRunOut:
    access.require_researcher(uow.actor)
    return LearningLoopRunOut.model_validate(_require(uow, run_id))


def due_schemas(uow: UnitOfWork, now: dt.datetime) -> list[tuple[int, LoopTrigger]]:
    """Each enabled policy whose trigger is due now, with the trigger (the schedule function's read)."""
    access.require_admin(uow.actor)
    due = []
    for row in uow.session.scalars(
        sa.select(LearningLoopPolicy)
        .where(LearningLoopPolicy.enabled)
        .order_by(LearningLoopPolicy.keypoint_schema_id)
    ):
        last = _last_run(uow, row.keypoint_schema_id)
        trigger = due_trigger(
            _settings(row),
            verified_since_last_run=verified_count(uow, row.keypoint_schema_id)
            - (last.verified_at_start if last else 0),
            last_run_started_at=last.started_at if last else None,
            now=now,
            running=last is not None and last.status is LoopRunStatus.RUNNING,
        )
        if trigger is not None:
            due.append((row.keypoint_schema_id, trigger))
    return due


def end_overdue_runs(uow_factory: UnitOfWorkFactory, now: dt.datetime, context: RequestContext) -> list[int]:
    """End FAILED every run RUNNING for longer than its state machine may run (its TimeoutSeconds).

    An execution that times out (or is stopped) never reaches RecordFailure, so its run would stay
    RUNNING and block its schema's loop for good; the trigger calls this on every pass, whatever the
    state machine's own timeouts are. Runs of no execution here (no state machine configured) too."""
    timeout = dt.timedelta(seconds=get_settings().learning_loop_timeout_seconds)
    with uow_factory(SYSTEM, context) as uow:
        access.require_admin(uow.actor)
        overdue = list(
            uow.session.scalars(
                sa.select(LearningLoopRun.id)
                .where(
                    LearningLoopRun.status == LoopRunStatus.RUNNING,
                    LearningLoopRun.started_at < now - timeout,
                )
                .order_by(LearningLoopRun.id)
            )
        )
    for run_id in overdue:
        record_failure(
            uow_factory,
            run_id,
            "LearningLoopRunOverdue",
            f"still RUNNING {timeout.total_seconds():.0f} s after it started, longer than its state machine "
            "may run: its execution timed out or was stopped",
            context,
        )
    return overdue


# ------------------------------------------------------------------ the steps


class StepOutput(BaseModel):
    run_id: int
    step: str
    done: bool = True  # the Check steps: whether the jobs they wait for have finished
    status: LoopRunStatus


# A step that makes something (the dataset, jobs) works in three units of work: it reads the
# run; it finds or makes each thing in a unit of work of its own (the capability that makes it
# audits and commits it there, before the run names it); then it records what it found or made
# on the run, in a third. A step run twice finds what the first made, never makes it again.
FindOrMake = Callable[[UnitOfWork], int]  # the id of the thing, found or made


def _make_then_record(
    uow_factory: UnitOfWorkFactory,
    run_id: int,
    context: RequestContext,
    plan: Callable[[UnitOfWork, LearningLoopRun], list[FindOrMake] | None],
    record: Callable[[UnitOfWork, LearningLoopRun, list[int]], StepOutput],
) -> StepOutput:
    """`plan` reads the running run and answers what to find or make (None: the step's work is
    already recorded); `record` writes the ids, in the same order, on the run."""
    with uow_factory(SYSTEM, context) as uow:
        run = _require_running(uow, run_id)
        to_make = plan(uow, run)
        if to_make is None:
            return _output(run)
    made: list[int] = []
    for find_or_make in to_make:
        with uow_factory(SYSTEM, context) as uow:
            made.append(find_or_make(uow))
    with uow_factory(SYSTEM, context) as uow:
        return record(uow, _require_running(uow, run_id), made)


def snapshot(uow_factory: UnitOfWorkFactory, run_id: int, context: RequestContext) -> StepOutput:
    """The schema's verified images as a dataset: the held-out fraction is its test split, grouped by
    infant (never trained on). Found again by its name when the step runs twice."""

    def plan(uow: UnitOfWork, run: LearningLoopRun) -> list[FindOrMake] | None:
        if run.dataset_id is not None:
            return None
        policy = LoopPolicySettings.model_validate(run.policy)
        name = f"learning-loop-{run.keypoint_schema_id}-run-{run.id}"
        wanted = datasets.DatasetIn(
            name=name,
            description=f"Learning loop run {run_id}: the verified images, {policy.holdout_fraction:.0%} "
            "held out (test split, grouped by infant) for the gate.",
            keypoint_schema_id=run.keypoint_schema_id,
            fractions=holdout_fractions(policy.holdout_fraction),
            seed=run_id,
            group_by=SplitGrouping.SUBJECT,
        )

        def find_or_make(uow: UnitOfWork) -> int:
            existing = uow.datasets.by_name(name)
            if existing is not None:
                return existing.id
            try:
                return datasets.create_dataset(uow, wanted).id
            except ValidationFailed as error:
                raise LoopStepFailed(f"no verified images to learn from: {error}") from error

        return [find_or_make]

    def record(uow: UnitOfWork, run: LearningLoopRun, made: list[int]) -> StepOutput:
        (dataset_id,) = made
        dataset = uow.datasets.require(dataset_id)
        if dataset.train_count == 0 or dataset.test_count == 0:
            raise LoopStepFailed(
                f"dataset {dataset.id} has {dataset.train_count} training and {dataset.test_count} held-out "
                "images: the loop needs both (more verified images, or infants, are needed)"
            )
        run.dataset_id = dataset.id
        return _advance(uow, run, TRAIN, {"dataset_id": dataset.id, "train": dataset.train_count,
                                          "held_out": dataset.test_count})  # fmt: skip

    return _make_then_record(uow_factory, run_id, context, plan, record)


def train(uow_factory: UnitOfWorkFactory, run_id: int, context: RequestContext) -> StepOutput:
    """A training job from the base weights on the snapshot (the jobs worker runs it)."""

    def plan(uow: UnitOfWork, run: LearningLoopRun) -> list[FindOrMake] | None:
        if run.training_job_id is not None:
            return None
        assert run.dataset_id is not None
        assert run.base_model_id is not None
        policy = LoopPolicySettings.model_validate(run.policy)
        base = uow.model_configs.require(run.base_model_id)
        wanted = ml_jobs.TrainingJobIn(
            base_model_id=base.id,
            dataset_id=run.dataset_id,
            hyperparameters=TrainingHyperparameters(
                epochs=policy.epochs,
                imgsz=policy.imgsz,
                batch=policy.batch,
                lr0=policy.lr0,
                patience=policy.epochs,
                seed=run_id,
            ),
            result_model_name=f"{base.model_name}-loop"[:100],
            result_model_version=f"loop-{run_id}",
        )

        def find_or_make(uow: UnitOfWork) -> int:
            found = uow.session.scalar(
                sa.select(TrainingJob.id).where(TrainingJob.dataset_id == wanted.dataset_id)
            )
            return found if found is not None else ml_jobs.create_training_job(uow, wanted).id

        return [find_or_make]

    def record(uow: UnitOfWork, run: LearningLoopRun, made: list[int]) -> StepOutput:
        (job_id,) = made
        run.training_job_id = job_id
        return _advance(uow, run, CHECK_TRAINING, {"training_job_id": job_id})

    return _make_then_record(uow_factory, run_id, context, plan, record)


def check_training(uow_factory: UnitOfWorkFactory, run_id: int, context: RequestContext) -> StepOutput:
    """Whether the training job finished; a completed one names the candidate."""
    with uow_factory(SYSTEM, context) as uow:
        run = _require_running(uow, run_id)
        if run.candidate_model_id is not None:
            return _output(run)
        assert run.training_job_id is not None
        job = uow.training_jobs.require(run.training_job_id)
        if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise LoopStepFailed(
                f"training job {job.id} is {job.status.value}: {job.error_message or 'no reason given'}"
            )
        if job.status is not JobStatus.COMPLETED or job.result_model_id is None:
            return _output(run, done=False)
        run.candidate_model_id = job.result_model_id
        return _advance(uow, run, EVALUATE, {"candidate_model_id": job.result_model_id})


def evaluate(uow_factory: UnitOfWorkFactory, run_id: int, context: RequestContext) -> StepOutput:
    """Evaluations of the candidate and of the current default on the same held-out split."""

    def plan(uow: UnitOfWork, run: LearningLoopRun) -> list[FindOrMake] | None:
        if run.candidate_evaluation_id is not None:
            return None
        assert run.dataset_id is not None
        assert run.candidate_model_id is not None
        incumbent = model_configs.default_for_schema(uow, run.keypoint_schema_id)
        models = [run.candidate_model_id] + ([incumbent.id] if incumbent is not None else [])
        return [_evaluation_of(model_id, run.dataset_id) for model_id in models]

    def record(uow: UnitOfWork, run: LearningLoopRun, evaluations: list[int]) -> StepOutput:
        candidate, *incumbent = evaluations
        run.candidate_evaluation_id = candidate
        run.incumbent_evaluation_id = incumbent[0] if incumbent else None
        run.incumbent_model_id = uow.inference_jobs.require(incumbent[0]).model_id if incumbent else None
        return _advance(uow, run, CHECK_EVALUATION, {
            "incumbent_model_id": run.incumbent_model_id, "candidate_evaluation_id": candidate,
            "incumbent_evaluation_id": run.incumbent_evaluation_id,
        })  # fmt: skip

    return _make_then_record(uow_factory, run_id, context, plan, record)


def _evaluation_of(model_id: int, dataset_id: int) -> FindOrMake:
    """The model's evaluation on the dataset's held-out (test) split, found or asked for."""

    def find_or_make(uow: UnitOfWork) -> int:
        found = uow.session.scalar(
            sa.select(InferenceJob.id).where(
                InferenceJob.model_id == model_id,
                InferenceJob.dataset_id == dataset_id,
                InferenceJob.split == DatasetSplit.TEST,
            )
        )
        if found is not None:
            return found
        wanted = ml_jobs.EvaluationIn(dataset_id=dataset_id, split=DatasetSplit.TEST)
        return ml_jobs.create_inference_job(
            uow, ml_jobs.InferenceJobIn(model_id=model_id, evaluation=wanted)
        ).id

    return find_or_make


def check_evaluation(uow_factory: UnitOfWorkFactory, run_id: int, context: RequestContext) -> StepOutput:
    """Whether both evaluations finished."""
    with uow_factory(SYSTEM, context) as uow:
        run = _require_running(uow, run_id)
        if run.step not in (CHECK_EVALUATION,):
            return _output(run)
        ids = [i for i in (run.candidate_evaluation_id, run.incumbent_evaluation_id) if i is not None]
        jobs = [uow.inference_jobs.require(i) for i in ids]
        for job in jobs:
            if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
                raise LoopStepFailed(
                    f"evaluation {job.id} of model {job.model_id} is {job.status.value}: "
                    f"{job.error_message or 'no reason given'}"
                )
        if any(job.status is not JobStatus.COMPLETED for job in jobs):
            return _output(run, done=False)
        return _advance(uow, run, GATE, {"evaluations": ids})


def gate(uow_factory: UnitOfWorkFactory, run_id: int, context: RequestContext) -> StepOutput:
    """δ on AP, ε per keypoint OKS (domain.learning_loop.judge); promote through
    model_configs.promote_to_production with the evidence, or record why not."""
    with uow_factory(SYSTEM, context) as uow:
        run = _require(uow, run_id, for_update=True)
        if run.status is not LoopRunStatus.RUNNING:
            return _output(run)
        assert run.candidate_model_id is not None
        assert run.candidate_evaluation_id is not None
        policy = LoopPolicySettings.model_validate(run.policy)
        candidate_ap = model_metrics.evaluation_ap(uow, run.candidate_evaluation_id)
        incumbent_ap = (
            model_metrics.evaluation_ap(uow, run.incumbent_evaluation_id)
            if run.incumbent_evaluation_id
            else None
        )
        current = model_configs.default_for_schema(uow, run.keypoint_schema_id)
        evidence = LoopGateEvidence(
            candidate_id=run.candidate_model_id,
            candidate_ap=candidate_ap.metric_value if candidate_ap else None,
            incumbent_id=run.incumbent_model_id,
            incumbent_ap=incumbent_ap.metric_value if incumbent_ap else None,
            min_ap_gain=policy.min_ap_gain,
            max_keypoint_oks_drop=policy.max_keypoint_oks_drop,
            candidate_oks=model_metrics.keypoint_oks(uow, run.candidate_evaluation_id),
            incumbent_oks=model_metrics.keypoint_oks(uow, run.incumbent_evaluation_id)
            if run.incumbent_evaluation_id
            else {},
        )
        verdict = judge(evidence)
        if verdict.promote and (current.id if current else None) != run.incumbent_model_id:
            verdict = type(verdict)(
                False,
                "refused: the default model changed during the run "
                f"(now {current.id if current else 'none'}, "
                f"evaluated against {run.incumbent_model_id}); the next run compares with the new one",
                verdict.oks_drops,
            )
        run.candidate_ap, run.incumbent_ap = evidence.candidate_ap, evidence.incumbent_ap
        run.evidence = {**evidence.as_dict(), "dataset_id": run.dataset_id, "split": DatasetSplit.TEST.value,
                        "oks_drops": verdict.oks_drops, "rule": "learning-loop"}  # fmt: skip
        run.verdict = verdict.reason
        if verdict.promote:
            candidate = uow.model_configs.require(run.candidate_model_id, for_update=True)
            _promote(uow, candidate, run)
        change_status(
            uow,
            run,
            LoopRunStatus.PROMOTED if verdict.promote else LoopRunStatus.REFUSED,
            reason=verdict.reason,
        )
        run.step = DONE
        run.finished_at = dt.datetime.now(dt.UTC)
        _audit(
            uow,
            run,
            "LEARNING_LOOP_PROMOTED" if verdict.promote else "LEARNING_LOOP_REFUSED",
            new={"status": run.status.value, "evidence": run.evidence},
            summary=verdict.reason,
        )
        out = _output(run)
        uow.commit()
        return out


def _promote(uow: UnitOfWork, candidate: MLModelConfig, run: LearningLoopRun) -> None:
    """DEVELOPMENT → TESTING (recorded), then PRODUCTION through the registry's one way there."""
    reason = f"learning loop run {run.id}: {run.verdict}"
    if candidate.deployment_status is DeploymentStatus.DEVELOPMENT:
        change_status(uow, candidate, DeploymentStatus.TESTING, reason=f"learning loop run {run.id}")
        model_configs.record_deployment(uow, candidate, DeploymentStatus.DEVELOPMENT, reason=reason)
    model_configs.promote_to_production(uow, candidate, reason=reason[:2000], evidence=run.evidence)


def record_failure(
    uow_factory: UnitOfWorkFactory, run_id: int, error: str, cause: str, context: RequestContext
) -> StepOutput:
    """The run ends FAILED at the step it was in, with the reason (idempotent: a finished run stays)."""
    with uow_factory(SYSTEM, context) as uow:
        run = _require(uow, run_id, for_update=True)
        if run.status is not LoopRunStatus.RUNNING:
            return _output(run)
        message = f"{error}: {cause}" if cause else error
        change_status(uow, run, LoopRunStatus.FAILED, reason=message[:2000])
        run.error = message[:10_000]
        run.finished_at = dt.datetime.now(dt.UTC)
        _audit(uow, run, "LEARNING_LOOP_FAILED", new={"step": run.step, "error": run.error},
               status=AuditStatus.FAILED, error=run.error[:2000])  # fmt: skip
        out = _output(run)
        uow.commit()
        return out


# ------------------------------------------------------------------ rollback


def rollback(uow: UnitOfWork, schema_id: int, command: RollbackIn) -> model_configs.ModelConfigOut:
    """The model the current default replaced becomes the default again (the current one DEPRECATED),
    through the same promote_to_production, audited. 409 when there is none to go back to."""
    access.require_admin(uow.actor)
    uow.schemas.require(schema_id, for_update=True)
    current = model_configs.default_for_schema(uow, schema_id)
    if current is None:
        raise Conflict(f"schema {schema_id} has no default model to roll back")
    replaced_id = uow.session.scalar(
        sa.select(ModelDeployment.replaced_model_id)
        .where(
            ModelDeployment.model_id == current.id, ModelDeployment.to_status == DeploymentStatus.PRODUCTION
        )
        .order_by(ModelDeployment.id.desc())
        .limit(1)
    )
    if replaced_id is None:
        raise Conflict(
            f"model {current.id} replaced no earlier default of schema {schema_id}: nothing to roll back to"
        )
    previous = uow.model_configs.require(replaced_id, for_update=True)
    if not previous.is_active:
        raise Conflict(f"the previous default, model {previous.id}, is retired")
    reason = command.reason or f"rolled back from model {current.id}"
    if previous.deployment_status is DeploymentStatus.DEPRECATED:
        change_status(uow, previous, DeploymentStatus.TESTING, reason=reason)
        model_configs.record_deployment(uow, previous, DeploymentStatus.DEPRECATED, reason=reason)
    model_configs.promote_to_production(
        uow, previous, reason=reason, evidence={"rollback_from": current.id, "rule": "rollback"}
    )
    audit(
        uow, "LEARNING_LOOP_ROLLBACK", AuditCategory.SYSTEM, "MLModelConfig", previous.id,
        f"{previous.model_name} {previous.version}",
        old={"default_model_id": current.id}, new={"default_model_id": previous.id}, summary=reason,
    )  # fmt: skip
    uow.commit()
    return model_configs.get_model(uow, previous.id)


# ------------------------------------------------------------------ helpers


def _require(uow: UnitOfWork, run_id: int, *, for_update: bool = False) -> LearningLoopRun:
    run = uow.session.get(LearningLoopRun, run_id, with_for_update=for_update or None)
    if run is None:
        raise NotFound(RESOURCE, run_id)
    return run


def _require_running(uow: UnitOfWork, run_id: int) -> LearningLoopRun:
    run = _require(uow, run_id, for_update=True)
    if run.status is not LoopRunStatus.RUNNING:
        raise LoopStepFailed(f"learning loop run {run_id} is {run.status.value}: its steps are over")
    return run


def _advance(uow: UnitOfWork, run: LearningLoopRun, step: str, made: dict[str, Any]) -> StepOutput:
    old = run.step
    run.step = step
    _audit(uow, run, "LEARNING_LOOP_STEP", old={"step": old}, new={"step": step, **made})
    out = _output(run)
    uow.commit()
    return out


def _output(run: LearningLoopRun, *, done: bool = True) -> StepOutput:
    return StepOutput(run_id=run.id, step=run.step, done=done, status=run.status)


def _execution_arn(state_machine_arn: str, run_id: int) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{EXECUTION_PREFIX}{run_id}"


def _audit(uow: UnitOfWork, run: LearningLoopRun, action: str, **details: Any) -> None:
    audit(uow, action, AuditCategory.SYSTEM, RESOURCE, run.id, f"schema {run.keypoint_schema_id}", **details)
