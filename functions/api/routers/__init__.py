"""One router per resource; each route is a thin call into a capability package (cradlepose.<capability>).

The routers are named here, not imported: the API imports a router on the first request under a
path it serves (api.resolver), so a cold start pays for the routers its request needs, not for all
twenty. BY_SEGMENT says which routers serve paths that begin with a segment;
tests/unit/test_api_routers.py checks it against the routes the routers declare.
"""

# Every router, in the order the API includes them when it needs them all (the OpenAPI document).
ALL = (
    "health",
    "users",
    "schemas",
    "sigma_calibrations",
    "models",
    "training_jobs",
    "inference_jobs",
    "batches",
    "images",
    "assignments",
    "annotations",
    "verifications",
    "metrics",
    "datasets",
    "vocabulary",
    "collections",
    "dataset_imports",
    "analyses",
    "audit",
    "anomaly",
    "learning_loop",
)

# The first segment of a route's path → the routers with routes under it, in ALL's order.
BY_SEGMENT: dict[str, tuple[str, ...]] = {
    "health": ("health",),
    "me": ("users",),
    "users": ("users", "metrics"),
    "invitations": ("users",),
    "schemas": ("schemas", "sigma_calibrations", "learning_loop"),
    "sigma-calibrations": ("sigma_calibrations",),
    "models": ("models",),
    "training-jobs": ("training_jobs",),
    "inference-jobs": ("inference_jobs",),
    "batches": ("batches", "images", "assignments", "metrics"),
    "images": ("images", "annotations"),
    "auto-assignments": ("assignments",),
    "assignments": ("assignments",),
    "verifications": ("verifications",),
    "annotations": ("verifications",),
    "claims": ("verifications",),
    "flags": ("annotations",),
    "metrics": ("metrics",),
    "datasets": ("datasets",),
    "vocabulary-terms": ("vocabulary",),
    "collections": ("collections",),
    "dataset-imports": ("dataset_imports",),
    "analyses": ("analyses",),
    "audit-logs": ("audit",),
    "anomaly": ("anomaly",),
    "learning-loop": ("learning_loop",),
}
