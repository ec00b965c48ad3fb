"""The real chunk runner of the local stack: the inference container's code, on the CPU.

`cradle_inference` (and through it torch and Ultralytics) is imported when the first chunk
runs, never by a Lambda's import path. Engines are kept per model spec, so the weights load once.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from cradlepose import function_table
from cradlepose.adapters.aws import client
from cradlepose.devstack.local_inference import ChunkRunner
from cradlepose.domain.inference import ChunkManifest

# The container's code, as the local stack finds the functions' code: in the checkout.
CONTAINER_CODE = function_table.DEFAULT_PATH.parents[1] / "containers" / "inference"


def engine_chunk_runner(s3: Any | None = None, device: str = "cpu") -> ChunkRunner:
    engines: dict[str, Any] = {}
    lock = threading.Lock()

    def run(manifest: ChunkManifest) -> dict[str, Any]:
        # Imported here, not at the top: this is the one place that loads torch.
        if str(CONTAINER_CODE) not in sys.path:
            sys.path.append(str(CONTAINER_CODE))
        from cradle_inference.chunk import run_chunk  # noqa: PLC0415
        from cradle_inference.engine import PoseEngine  # noqa: PLC0415
        from cradle_inference.store import S3ObjectStore  # noqa: PLC0415

        key = manifest.model.model_dump_json()
        with lock:
            if key not in engines:
                engines[key] = PoseEngine(manifest.model, device=device)
            engine = engines[key]
        summary = run_chunk(manifest, S3ObjectStore(client=s3 or client("s3")), engine)
        result: dict[str, Any] = summary.model_dump(mode="json", exclude={"failures"})
        result["failed_image_ids"] = [failure.image_id for failure in summary.failures]
        return result

    return run
