"""One chunk of a batch: read its images, run the engine, write one JSON line per image.

A rerun of the same chunk (Step Functions retries a task whose container wrote its results but
died before reporting) finds the complete output already there and leaves it untouched, so a
chunk's output object is written once per manifest: re-inferring could not reproduce it byte for
byte anyway, since every line carries its own measured processing time.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from cradle_inference.batching import Item
from cradle_inference.engine import PoseEngine
from cradle_inference.results import failed_result
from cradle_inference.store import READ_POOL, ObjectMissing, ObjectStore
from cradlepose.domain.inference import ChunkImage, ChunkManifest, ImageResult

RESULTS_CONTENT_TYPE = "application/x-ndjson"
READ_AHEAD = 2 * READ_POOL  # images read before the engine asks for them


class OutputUnwritable(Exception):
    """The results could not be stored: the chunk as a whole failed."""


class ImageFailure(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    image_id: int
    key: str
    error: str


class ChunkSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    batch_id: int
    chunk_index: int
    images: int
    ok: int
    failed: int
    persons: int
    seconds: float
    images_per_second: float
    output_bucket: str | None
    output_key: str
    model_version: str
    device: str | None  # None when the output was reused and nothing ran
    reused_existing_output: bool
    failures: list[ImageFailure]

    def task_output(self) -> dict[str, Any]:
        """What the task answers Step Functions with: the counts and the failed images' ids, not
        every failure's text (the results hold those), so the output stays small."""
        output: dict[str, Any] = self.model_dump(mode="json", exclude={"failures"})
        output["failed_image_ids"] = [failure.image_id for failure in self.failures]
        return output


def run_chunk(
    manifest: ChunkManifest,
    store: ObjectStore,
    engine: PoseEngine | None = None,
    *,
    force: bool = False,
) -> ChunkSummary:
    """Infer every image of `manifest` and write the results; `force` re-infers even when a
    complete output for this manifest exists."""
    started = time.perf_counter()
    if not force and (existing := existing_output(manifest, store)) is not None:
        return _summary(manifest, existing, time.perf_counter() - started, device=None, reused=True)
    if engine is None:
        engine = PoseEngine(manifest.model)
    elif engine.spec != manifest.model:
        raise ValueError("the engine runs a different model spec than the manifest asks for")
    results = infer_chunk(manifest, store, engine)
    lines = "".join(result.model_dump_json() + "\n" for result in results)
    try:
        store.put(manifest.output_bucket, manifest.output_key, lines.encode(), RESULTS_CONTENT_TYPE)
    except Exception as error:  # any store: permissions, missing bucket, full disk
        where = f"{manifest.output_bucket or ''}/{manifest.output_key}"
        raise OutputUnwritable(
            f"could not write results to {where}: {type(error).__name__}: {error}"
        ) from error
    return _summary(manifest, results, time.perf_counter() - started, device=str(engine.device), reused=False)


def infer_chunk(manifest: ChunkManifest, store: ObjectStore, engine: PoseEngine) -> list[ImageResult]:
    """One result per manifest image, in manifest order. A missing object fails its image alone."""
    results: list[ImageResult | None] = [None] * len(manifest.images)
    fed: deque[int] = deque()  # positions handed to the engine, whose results come back in order

    def engine_items() -> Iterator[Item]:
        for position, image, data in _read_ahead(manifest, store):
            if isinstance(data, ObjectMissing):
                results[position] = failed_result(image.image_id, image.key, str(data), 0.0, manifest.model)
                continue
            fed.append(position)
            yield image.image_id, image.key, data

    for result in engine.predict(engine_items()):
        position = fed.popleft()
        if result.image_id != manifest.images[position].image_id:  # a broken ordering promise
            raise RuntimeError(f"engine returned image {result.image_id} for position {position}")
        results[position] = result
    missing = [position for position, result in enumerate(results) if result is None]
    if missing:
        raise RuntimeError(f"no result for manifest positions {missing[:10]}")
    return [result for result in results if result is not None]


def _read_ahead(
    manifest: ChunkManifest, store: ObjectStore
) -> Iterator[tuple[int, ChunkImage, bytes | ObjectMissing]]:
    """The manifest's images with their bytes, in order, fetched concurrently a window ahead."""

    def read(image: ChunkImage) -> bytes | ObjectMissing:
        try:
            return store.get(manifest.bucket, image.key)
        except ObjectMissing as missing:
            return missing

    with ThreadPoolExecutor(READ_POOL, thread_name_prefix="cradle-read") as readers:
        window: deque[tuple[int, ChunkImage, Future[bytes | ObjectMissing]]] = deque()
        for position, image in enumerate(manifest.images):
            window.append((position, image, readers.submit(read, image)))
            if len(window) >= READ_AHEAD:
                done_position, done_image, future = window.popleft()
                yield done_position, done_image, future.result()
        while window:
            done_position, done_image, future = window.popleft()
            yield done_position, done_image, future.result()


def existing_output(manifest: ChunkManifest, store: ObjectStore) -> list[ImageResult] | None:
    """The results already written for exactly this manifest's images and model version, if any."""
    try:
        data = store.get(manifest.output_bucket, manifest.output_key)
    except Exception:  # missing, or unreadable: either way nothing to reuse, and writing will
        return None  # report a location that is really broken
    try:
        results = [ImageResult.model_validate_json(line) for line in data.splitlines() if line.strip()]
    except ValidationError:
        return None
    expected = [(image.image_id, image.key) for image in manifest.images]
    if [(result.image_id, result.key) for result in results] != expected:
        return None
    if any(result.model_version != manifest.model.version for result in results):
        return None
    return results


def _summary(
    manifest: ChunkManifest, results: list[ImageResult], seconds: float, *, device: str | None, reused: bool
) -> ChunkSummary:
    ok = sum(result.ok for result in results)
    return ChunkSummary(
        batch_id=manifest.batch_id,
        chunk_index=manifest.chunk_index,
        images=len(results),
        ok=ok,
        failed=len(results) - ok,
        persons=sum(len(result.persons) for result in results),
        seconds=round(seconds, 3),
        # Throughput of this run's inference; a reused output ran none.
        images_per_second=0.0 if reused or seconds <= 0 else round(len(results) / seconds, 2),
        output_bucket=manifest.output_bucket,
        output_key=manifest.output_key,
        model_version=manifest.model.version,
        device=device,
        reused_existing_output=reused,
        failures=[
            ImageFailure(image_id=result.image_id, key=result.key, error=result.error or "unknown")
            for result in results
            if not result.ok
        ],
    )
