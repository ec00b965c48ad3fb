"""Status tables of collections, imports, jobs, model deployment, pipeline runs, anomaly training
and learning-loop runs.

The same TransitionTable as the workflow's (domain.transitions): a change the table does not
allow raises IllegalTransition (409) naming the entity and both states, and never half-applies.
"""

from __future__ import annotations

from cradlepose.domain.enums import (
    AnomalyTrainingStatus,
    CollectionStatus,
    DeploymentStatus,
    ImportStatus,
    JobStatus,
    LoopRunStatus,
    PipelineRunStatus,
)
from cradlepose.domain.transitions import TransitionTable

C = CollectionStatus
COLLECTION = TransitionTable(
    "Collection",
    {
        C.PENDING: frozenset({C.READY, C.FAILED}),
        # After the retention period both a ready archive and a failed attempt are expired;
        # expiring a ready one deletes its object.
        C.READY: frozenset({C.EXPIRED}),
        C.FAILED: frozenset({C.EXPIRED}),
        C.EXPIRED: frozenset(),
    },
)

I = ImportStatus  # noqa: E741 - one letter, as the other tables
IMPORT = TransitionTable(
    "DatasetImport",
    {
        I.AWAITING_UPLOAD: frozenset({I.PENDING}),
        I.PENDING: frozenset({I.COMPLETED, I.FAILED}),
        I.COMPLETED: frozenset(),
        I.FAILED: frozenset(),
    },
)

J = JobStatus
JOB = TransitionTable(
    "Job",
    {
        # QUEUED -> FAILED: what the job needs (its dataset's export) could not be made.
        J.QUEUED: frozenset({J.RUNNING, J.CANCELLED, J.FAILED}),
        J.RUNNING: frozenset({J.COMPLETED, J.FAILED, J.CANCELLED}),
        J.COMPLETED: frozenset(),
        J.FAILED: frozenset(),
        J.CANCELLED: frozenset(),
    },
)

D = DeploymentStatus
DEPLOYMENT = TransitionTable(
    "MLModelConfig",
    {
        D.DEVELOPMENT: frozenset({D.TESTING}),
        D.TESTING: frozenset({D.PRODUCTION, D.DEVELOPMENT}),
        # PRODUCTION -> DEPRECATED happens when another model of the schema is promoted.
        D.PRODUCTION: frozenset({D.DEPRECATED}),
        # A deprecated model may be tested again (and promoted back through TESTING).
        D.DEPRECATED: frozenset({D.TESTING}),
    },
)

# Every move a model's deployment status makes, whichever path makes it: the promotion rules above
# (the only moves POST /models/{id}/promotions, POST /models/{id}/default and PATCH make) plus
# retire_model's (any model to DEPRECATED, its record kept). PRODUCTION is reached from TESTING only.
MODEL_DEPLOYMENT = TransitionTable(
    "MLModelConfig",
    {
        D.DEVELOPMENT: frozenset({D.TESTING, D.DEPRECATED}),
        D.TESTING: frozenset({D.PRODUCTION, D.DEVELOPMENT, D.DEPRECATED}),
        D.PRODUCTION: frozenset({D.DEPRECATED}),
        D.DEPRECATED: frozenset({D.TESTING}),
    },
)

P = PipelineRunStatus
# One run of a batch's state machine (docs/workflow.md, docs/local.md): requested in the
# transaction that triggers it, RUNNING once its execution started, then SUCCEEDED when the
# execution ends, or FAILED, from either open state, with its step and reason (the batch stays
# resumable and the next attempt is a new run).
PIPELINE_RUN = TransitionTable(
    "PipelineRun",
    {
        P.REQUESTED: frozenset({P.RUNNING, P.FAILED}),
        P.RUNNING: frozenset({P.SUCCEEDED, P.FAILED}),
        P.SUCCEEDED: frozenset(),
        P.FAILED: frozenset(),
    },
)

T = AnomalyTrainingStatus
# Seed 004's training_jobs.status (queued, running, then completed or failed; docs/anomaly.md):
# the worker takes the oldest QUEUED job, and a RUNNING job ends COMPLETED or FAILED (a job silent
# for 20 minutes is FAILED by the next worker run). There is no cancelling a queued job.
ANOMALY_TRAINING = TransitionTable(
    "AnomalyTrainingJob",
    {
        T.QUEUED: frozenset({T.RUNNING}),
        T.RUNNING: frozenset({T.COMPLETED, T.FAILED}),
        T.COMPLETED: frozenset(),
        T.FAILED: frozenset(),
    },
)

L = LoopRunStatus
# A learning-loop run (docs/learning-loop.md): RUNNING through its steps, then PROMOTED or REFUSED by
# the gate, or FAILED at the step that raised. A finished run never reopens; the next is a new run.
LOOP_RUN = TransitionTable(
    "LearningLoopRun",
    {
        L.RUNNING: frozenset({L.PROMOTED, L.REFUSED, L.FAILED}),
        L.PROMOTED: frozenset(),
        L.REFUSED: frozenset(),
        L.FAILED: frozenset(),
    },
)
