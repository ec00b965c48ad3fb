"""The custom CloudWatch metrics that the admin dashboard shows (infra/constructs/monitoring.py).

The code emits them with Powertools Metrics in namespace `NAMESPACE`, each from its service (the
`service` dimension Powertools adds): the API Lambda as `API`, the trigger Lambdas as `TRIGGERS`
(functions/api/observability.py, functions/triggers/observability.py). The dashboard reads exactly
these names, services and dimensions, so emit them from here rather than as literals.
"""

from __future__ import annotations

from typing import Final

NAMESPACE: Final = "Cradle"
API: Final = "cradle-api"
TRIGGERS: Final = "cradle-triggers"

# Gauges, emitted by the overdue sweep (TRIGGERS, every 15 minutes) from the current counts:
BATCHES_IN_STATUS: Final = "BatchesInStatus"  # Count; one metric per status, extra dimension STATUS_DIMENSION
STATUS_DIMENSION: Final = "status"  # a BatchStatus value
IMAGES_AWAITING_ANNOTATION: Final = "ImagesAwaitingAnnotation"  # Count: YOLO_PROCESSED, ASSIGNED, IN_PROGRESS
IMAGES_AWAITING_VERIFICATION: Final = "ImagesAwaitingVerification"  # Count: SUBMITTED, UNDER_REVIEW

# Events from the triggers (TRIGGERS):
IMAGES_REGISTERED: Final = "ImagesRegistered"  # Count, upload trigger, per registered image
UPLOADS_REJECTED: Final = "UploadsRejected"  # Count, upload trigger, per rejected file
IMAGES_PRE_ANNOTATED: Final = "ImagesPreAnnotated"  # Count, ingest step, per loaded image
INFERENCE_MS_PER_IMAGE: Final = "InferenceMsPerImage"  # Milliseconds, ingest step, per chunk

# Events from the API (API):
VERIFICATIONS: Final = "Verifications"  # Count, per verification decision
APPROVALS: Final = "Approvals"  # Count, per APPROVED / APPROVED_WITH_CORRECTIONS decision
