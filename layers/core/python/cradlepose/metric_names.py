"""The custom CloudWatch metrics that the admin dashboard shows (infra/constructs/monitoring.py).

The code emits them with Powertools Metrics: namespace `POWERTOOLS_METRICS_NAMESPACE` (the CDK app
sets `Cradle/<stage>`), service `cradle` (POWERTOOLS_SERVICE_NAME, added as the `service` dimension).
The dashboard reads exactly these names and dimensions, so emit them from here, never as literals.
"""

from __future__ import annotations

from typing import Final

SERVICE: Final = "cradle"

# Gauges, emitted by the overdue sweep (every 15 minutes) from the current counts:
BATCHES_IN_STATUS: Final = "BatchesInStatus"  # Count; one metric per status, extra dimension STATUS_DIMENSION
STATUS_DIMENSION: Final = "status"  # a BatchStatus value
IMAGES_AWAITING_ANNOTATION: Final = "ImagesAwaitingAnnotation"  # Count: YOLO_PROCESSED, ASSIGNED, IN_PROGRESS
IMAGES_AWAITING_VERIFICATION: Final = "ImagesAwaitingVerification"  # Count: SUBMITTED, UNDER_REVIEW

# Events:
IMAGES_PRE_ANNOTATED: Final = "ImagesPreAnnotated"  # Count, by the ingest step, per loaded image
INFERENCE_MS_PER_IMAGE: Final = "InferenceMsPerImage"  # Milliseconds, by the ingest step, per chunk
VERIFICATIONS: Final = "Verifications"  # Count, by the API, per verification decision
APPROVALS: Final = "Approvals"  # Count, by the API, per APPROVED / APPROVED_WITH_CORRECTIONS decision
