"""One router per resource; each route is a thin call into cradlepose.services."""

from api.routers import (
    analyses,
    annotations,
    anomaly,
    assignments,
    audit,
    batches,
    health,
    images,
    metrics,
    models,
    schemas,
    users,
    verifications,
)

ALL = (
    health,
    users,
    schemas,
    models,
    batches,
    images,
    assignments,
    annotations,
    verifications,
    metrics,
    analyses,
    audit,
    anomaly,
)
