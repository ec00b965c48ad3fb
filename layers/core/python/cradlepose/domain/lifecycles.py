"""Status tables of collections, imports, training and inference jobs, and model deployment.

The same TransitionTable as the workflow's (domain.transitions): a change the table does not
allow raises IllegalTransition (409) naming the entity and both states, and never half-applies.
"""

from __future__ import annotations

from cradlepose.domain.enums import CollectionStatus, DeploymentStatus, ImportStatus, JobStatus
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
