"""The pipeline's task steps, each run as Step Functions would (and again, as it may)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.adapters.storage import S3Storage
from cradlepose.common.system import step_context
from cradlepose.db.models import Image, ImageBatch, MLModelConfig, PipelineRun
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.enums import BatchStatus, DeploymentStatus, ImageStatus, ModelType, PipelineRunStatus
from cradlepose.domain.inference import ChunkManifest
from cradlepose.domain.pipeline import ChunkItem
from cradlepose.domain.step_errors import describe_error
from cradlepose.preannotation import chunk_ingest
from cradlepose.preannotation import steps as preannotation
from cradlepose.preannotation.chunk_ingest import ChunkRequest
from cradlepose.settings import get_settings
from tests.pipeline_support import execution_id, make_batch, request_run, write_results
from tests.support import Persona

pytestmark = pytest.mark.integration

CTX = step_context("states:test")


def _audits(engine: sa.Engine, action: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(sa.text("SELECT count(*) FROM audit_logs WHERE action = :a"), {"a": action}) or 0
        )


def _batch(session_factory: sessionmaker[Session], batch_id: int) -> ImageBatch:
    with session_factory() as session:
        batch = session.get(ImageBatch, batch_id)
        assert batch is not None
        return batch


def _manifest(storage: S3Storage, item: ChunkItem) -> ChunkManifest:
    return ChunkManifest.model_validate_json(storage.get(item.manifest_bucket, item.manifest_key))


def _ingest(uow_factory: UnitOfWorkFactory, storage: S3Storage, item: ChunkItem) -> chunk_ingest.IngestResult:
    request = ChunkRequest(
        batch_id=item.batch_id, chunk_index=item.chunk_index,
        results_bucket=item.results_bucket, results_key=item.results_key,
    )  # fmt: skip
    return chunk_ingest.ingest_chunk(uow_factory, storage, request, CTX)


def _start(uow_factory: UnitOfWorkFactory, batch_id: int) -> str:
    _, name = request_run(uow_factory, batch_id)
    return execution_id(name)


def test_mark_processing_records_the_builtin_model_once(
    uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], admin: Persona, engine: sa.Engine
) -> None:
    # Given an uploaded batch whose schema has no production model, and its requested run
    assert admin.user_id is not None
    batch_id, _ = make_batch(session_factory, admin.user_id, 3)
    execution = _start(uow_factory, batch_id)

    # When the state machine marks it, twice
    first = preannotation.mark_processing(uow_factory, batch_id, execution, CTX)
    second = preannotation.mark_processing(uow_factory, batch_id, execution, CTX)

    # Then it is processing with the built-in model, and only the first call changed anything
    assert first.changed is True
    assert second.changed is False
    batch = _batch(session_factory, batch_id)
    assert batch.status is BatchStatus.YOLO_PROCESSING
    assert batch.yolo_model_version == "yolo11n-pose@8.4"
    assert batch.yolo_processing_started is not None
    assert _audits(engine, "BATCH_PROCESSING_STARTED") == 1
    with session_factory() as session:
        run = session.scalars(sa.select(PipelineRun).where(PipelineRun.batch_id == batch_id)).one()
        assert run.status is PipelineRunStatus.RUNNING  # the execution got there before start_run did
        assert run.model_spec is not None
        assert run.model_spec["name"] == "yolo11n-pose"


def test_mark_processing_uses_the_schemas_production_model(
    uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], admin: Persona
) -> None:
    assert admin.user_id is not None
    batch_id, _ = make_batch(session_factory, admin.user_id, 1)
    with session_factory() as session:
        schema_id = _batch(session_factory, batch_id).keypoint_schema_id
        session.add(
            MLModelConfig(
                model_name="infant-pose-s", version="2.1", model_type=ModelType.YOLO, keypoint_schema_id=schema_id,
                model_parameters={"conf": 0.4, "keypoint_map": list(range(17))},
                input_resolution={"width": 960, "height": 960}, model_path="s3://cradle-models/infant-pose-s.pt",
                deployment_status=DeploymentStatus.PRODUCTION, created_by=admin.user_id,
            )
        )  # fmt: skip
        session.commit()
    execution = _start(uow_factory, batch_id)

    preannotation.mark_processing(uow_factory, batch_id, execution, CTX)

    assert _batch(session_factory, batch_id).yolo_model_version == "infant-pose-s@2.1"
    with session_factory() as session:
        spec = session.scalars(
            sa.select(PipelineRun.model_spec).where(PipelineRun.batch_id == batch_id)
        ).one()
        assert spec is not None
        assert (spec["weights"], spec["input_size"], spec["conf_threshold"]) == (
            "s3://cradle-models/infant-pose-s.pt", 960, 0.4,
        )  # fmt: skip


def test_an_execution_that_is_not_the_batchs_open_run_changes_nothing(
    uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], admin: Persona
) -> None:
    assert admin.user_id is not None
    batch_id, _ = make_batch(session_factory, admin.user_id, 1)
    _start(uow_factory, batch_id)

    with pytest.raises(preannotation.NotThisRun):
        preannotation.mark_processing(uow_factory, batch_id, execution_id("started-by-hand"), CTX)

    assert _batch(session_factory, batch_id).status is BatchStatus.UPLOADED


def test_plan_writes_the_same_manifests_every_time(
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    storage: S3Storage,
    engine: sa.Engine,
) -> None:
    # Given a processing batch of five images (chunks of two)
    assert admin.user_id is not None
    batch_id, image_ids = make_batch(session_factory, admin.user_id, 5)
    execution = _start(uow_factory, batch_id)
    preannotation.mark_processing(uow_factory, batch_id, execution, CTX)

    # When it is planned twice
    first = preannotation.plan_chunks(uow_factory, storage, batch_id, execution, CTX)
    manifests = [storage.get(item.manifest_bucket, item.manifest_key) for item in first.chunks]
    second = preannotation.plan_chunks(uow_factory, storage, batch_id, execution, CTX)

    # Then both plans are the same three chunks covering every image once, with the same manifests
    assert first == second
    assert first.image_count == 5
    assert [item.image_count for item in first.chunks] == [2, 2, 1]
    assert [storage.get(item.manifest_bucket, item.manifest_key) for item in second.chunks] == manifests
    covered = [image.image_id for item in first.chunks for image in _manifest(storage, item).images]
    assert covered == image_ids
    manifest = _manifest(storage, first.chunks[0])
    assert manifest.bucket == "cradle-uploads"
    assert manifest.images[0].key.startswith(f"images/{batch_id}/")
    assert manifest.output_key == first.chunks[0].results_key == f"results/{batch_id}/run-1/chunk-00000.jsonl"
    assert _audits(engine, "PIPELINE_PLANNED") == 1


def test_ingest_loads_keypoints_and_records_failures_once(
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    storage: S3Storage,
    engine: sa.Engine,
) -> None:
    # Given a planned batch whose first chunk's inference failed for its second image
    assert admin.user_id is not None
    batch_id, image_ids = make_batch(session_factory, admin.user_id, 3)
    execution = _start(uow_factory, batch_id)
    preannotation.mark_processing(uow_factory, batch_id, execution, CTX)
    plan = preannotation.plan_chunks(uow_factory, storage, batch_id, execution, CTX)
    write_results(storage, _manifest(storage, plan.chunks[0]), failing=frozenset({image_ids[1]}))

    # When its results are loaded twice
    first = _ingest(uow_factory, storage, plan.chunks[0])
    second = _ingest(uow_factory, storage, plan.chunks[0])

    # Then one image is pre-annotated, one failed, and the second load changed nothing
    assert (first.loaded, first.failed, first.already_loaded) == (1, 1, False)
    assert (second.loaded, second.failed, second.already_loaded) == (1, 1, True)
    assert _audits(engine, "CHUNK_INGESTED") == 1
    # The chunk's processing time is the inference task's own measure: 40 ms + 3 ms (the failure)
    with engine.connect() as conn:
        chunk_ms = conn.scalar(
            sa.text("SELECT processing_time_ms FROM pipeline_chunks WHERE results_key = :k"),
            {"k": plan.chunks[0].results_key},
        )
        audited_ms = conn.scalar(
            sa.text("SELECT processing_time_ms FROM audit_logs WHERE action = 'CHUNK_INGESTED'")
        )
    assert chunk_ms == audited_ms == 43
    with session_factory() as session:
        good, bad, untouched = (session.get(Image, i) for i in image_ids)
        assert good is not None
        assert bad is not None
        assert untouched is not None
        assert good.status is ImageStatus.YOLO_PROCESSED
        assert good.yolo_keypoints is not None
        keypoints = good.yolo_keypoints["keypoints"]
        assert len(keypoints) == 17
        assert keypoints[0] == {
            "id": 0,
            "name": "nose",
            "x": 100.0,
            "y": 50.0,
            "confidence": 0.9,
            "visible": 2,
        }
        assert float(good.yolo_confidence or 0) == 0.87
        assert good.yolo_processing_time_ms == 40
        assert good.yolo_model_version == "yolo11n-pose@8.4"
        assert good.yolo_error is None
        assert bad.status is ImageStatus.UPLOADED
        assert bad.yolo_keypoints is None
        assert bad.yolo_error == "cannot decode: truncated JPEG"
        assert untouched.status is ImageStatus.UPLOADED  # in the second chunk, not loaded yet
        assert untouched.yolo_error is None


def test_results_that_do_not_match_the_chunk_are_refused(
    uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], admin: Persona, storage: S3Storage
) -> None:
    assert admin.user_id is not None
    batch_id, _ = make_batch(session_factory, admin.user_id, 4)
    execution = _start(uow_factory, batch_id)
    preannotation.mark_processing(uow_factory, batch_id, execution, CTX)
    plan = preannotation.plan_chunks(uow_factory, storage, batch_id, execution, CTX)
    # the second chunk's results written where the first chunk's belong
    other = _manifest(storage, plan.chunks[1])
    write_results(storage, other.model_copy(update={"output_key": plan.chunks[0].results_key}))

    with pytest.raises(chunk_ingest.ResultsUnusable, match="does not have"):
        _ingest(uow_factory, storage, plan.chunks[0])
    with pytest.raises(chunk_ingest.ResultsUnusable, match="no results"):
        _ingest(uow_factory, storage, plan.chunks[1])


def test_summarize_opens_the_batch_for_annotation(
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    storage: S3Storage,
    engine: sa.Engine,
) -> None:
    # Given a batch of four whose images scored 9, 8, 8 and 3 (minimum 7), with one inference failure
    assert admin.user_id is not None
    batch_id, image_ids = make_batch(
        session_factory, admin.user_id, 4, quality=[9, 8, 8, 3], upload_metadata={"auto_assign": True}
    )
    execution = _start(uow_factory, batch_id)
    preannotation.mark_processing(uow_factory, batch_id, execution, CTX)
    plan = preannotation.plan_chunks(uow_factory, storage, batch_id, execution, CTX)

    # Summarize refuses while a chunk is not loaded
    with pytest.raises(preannotation.ChunksPending):
        preannotation.summarize(uow_factory, batch_id, CTX)

    for item in plan.chunks:
        write_results(storage, _manifest(storage, item), failing=frozenset({image_ids[3]}))
        _ingest(uow_factory, storage, item)

    # When it is summarized twice
    first = preannotation.summarize(uow_factory, batch_id, CTX)
    second = preannotation.summarize(uow_factory, batch_id, CTX)

    # Then the batch is ready, with its numbers, and the transitions happened once
    assert first == second == preannotation.Summary(auto_assign=True, status=BatchStatus.READY_FOR_ANNOTATION)
    batch = _batch(session_factory, batch_id)
    assert batch.status is BatchStatus.READY_FOR_ANNOTATION
    assert float(batch.avg_yolo_confidence or 0) == 0.87
    assert batch.failed_yolo_count == 1
    assert batch.quality_check_passed is False  # 3 of 4 reach the minimum: under 90 %
    assert batch.yolo_processing_completed is not None
    assert _audits(engine, "BATCH_PRE_ANNOTATED") == 1
    assert _audits(engine, "BATCH_READY_FOR_ANNOTATION") == 1
    with engine.connect() as conn:  # one image failed inference: the step succeeded in part
        status = "SELECT status FROM audit_logs WHERE action = 'BATCH_PRE_ANNOTATED'"
        assert conn.scalar(sa.text(status)) == "PARTIAL"


def test_a_failure_midway_is_recorded_and_a_new_run_resumes_only_what_is_left(
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    storage: S3Storage,
    engine: sa.Engine,
) -> None:
    # Given a batch of five whose first chunk was loaded (one image failed) before inference broke
    assert admin.user_id is not None
    batch_id, image_ids = make_batch(session_factory, admin.user_id, 5)
    execution = _start(uow_factory, batch_id)
    preannotation.mark_processing(uow_factory, batch_id, execution, CTX)
    plan = preannotation.plan_chunks(uow_factory, storage, batch_id, execution, CTX)
    write_results(storage, _manifest(storage, plan.chunks[0]), failing=frozenset({image_ids[0]}))
    _ingest(uow_factory, storage, plan.chunks[0])
    error = {"Error": "States.HeartbeatTimeout", "Cause": "no heartbeat from the GPU task"}

    # When the failure is recorded (twice: the task is retried)
    first = preannotation.record_failure(uow_factory, batch_id, execution, error, CTX)
    second = preannotation.record_failure(uow_factory, batch_id, execution, error, CTX)

    # Then the run failed at RunInference, the batch can be completed again, and nothing twice
    assert first.recorded is True
    assert second.recorded is False
    assert first.failed_step == "PreAnnotate/RunInference (chunks 1, 2 not loaded)"
    assert _batch(session_factory, batch_id).status is BatchStatus.UPLOADED
    with session_factory() as session:
        run = session.scalars(sa.select(PipelineRun).where(PipelineRun.batch_id == batch_id)).one()
        assert run.status is PipelineRunStatus.FAILED
        assert run.error == "States.HeartbeatTimeout: no heartbeat from the GPU task"
    assert _audits(engine, "PIPELINE_FAILED") == 1

    # And a new run plans only the images without a result: the failed one and the unloaded chunks
    resumed = _start(uow_factory, batch_id)
    assert resumed.endswith("run-2")
    preannotation.mark_processing(uow_factory, batch_id, resumed, CTX)
    replan = preannotation.plan_chunks(uow_factory, storage, batch_id, resumed, CTX)
    planned = [image.image_id for item in replan.chunks for image in _manifest(storage, item).images]
    assert planned == [image_ids[0], *image_ids[2:]]
    assert replan.chunks[0].results_key == f"results/{batch_id}/run-2/chunk-00000.jsonl"
    for item in replan.chunks:
        write_results(storage, _manifest(storage, item))
        _ingest(uow_factory, storage, item)
    preannotation.summarize(uow_factory, batch_id, CTX)
    with session_factory() as session:
        statuses = session.scalars(sa.select(Image.status).where(Image.batch_id == batch_id)).all()
        assert statuses == [ImageStatus.YOLO_PROCESSED] * 5
    assert _batch(session_factory, batch_id).failed_yolo_count == 0


def test_a_lambda_error_is_stored_as_its_type_and_message() -> None:
    cause = json.dumps(
        {"errorType": "ResultsUnusable", "errorMessage": "no results at s3://b/k", "stackTrace": []}
    )
    assert describe_error({"Error": "ResultsUnusable", "Cause": cause}) == (
        "ResultsUnusable: no results at s3://b/k"
    )
    assert describe_error(None) == "unknown error"


POSTGRES_MAX_PARAMETERS = 65_535


def test_plan_of_more_images_than_a_statement_has_parameters(
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    storage: S3Storage,
    engine: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a batch of 70,001 uploaded images (made in the database) planned in chunks of 1,000
    assert admin.user_id is not None
    images = POSTGRES_MAX_PARAMETERS + 4_466
    monkeypatch.setenv("CRADLE_PIPELINE_CHUNK_SIZE", "1000")
    get_settings.cache_clear()
    batch_id, image_ids = _batch_of_uploaded_images(engine, session_factory, admin.user_id, images)
    execution = _start(uow_factory, batch_id)
    preannotation.mark_processing(uow_factory, batch_id, execution, CTX)
    parameters: list[int] = []

    def count(
        conn: object, cursor: object, statement: str, params: Sequence[Any], context: object, many: bool
    ) -> None:
        rows: Sequence[Sequence[Any]] = params if many else [params]
        parameters.append(sum(len(row) for row in rows))

    # When it is planned
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        plan = preannotation.plan_chunks(uow_factory, storage, batch_id, execution, CTX)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)

    # Then every image is in exactly one chunk, in id order, 1,000 to a chunk
    assert plan.image_count == images
    assert [item.image_count for item in plan.chunks] == [1000] * 70 + [1]
    assert [item.chunk_index for item in plan.chunks] == list(range(71))
    assert plan.chunks[70].results_key == f"results/{batch_id}/run-1/chunk-00070.jsonl"
    covered = [image.image_id for item in plan.chunks for image in _manifest(storage, item).images]
    assert covered == image_ids
    # and the plan took a fixed number of statements, none with parameters in proportion to the
    # images or the chunks (the 71 chunks are one INSERT … SELECT, not one INSERT per chunk)
    assert len(parameters) <= 20, len(parameters)
    assert max(parameters) <= 64, parameters  # the audit row's 24 is the most
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT chunk_index, manifest_key, cardinality(image_ids) FROM pipeline_chunks WHERE batch_id = :b "
                    "ORDER BY chunk_index"), {"b": batch_id}
        ).all()  # fmt: skip
    assert stored[0] == (0, f"manifests/{batch_id}/run-1/chunk-00000.json", 1000)
    assert len(stored) == 71


def test_a_chunk_of_5000_results_loads_in_a_bounded_number_of_statements(
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    storage: S3Storage,
    engine: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a batch of 5,000 uploaded images planned as one chunk, whose results fail for 3 images
    assert admin.user_id is not None
    images = 5_000
    monkeypatch.setenv("CRADLE_PIPELINE_CHUNK_SIZE", str(images))
    get_settings.cache_clear()
    batch_id, image_ids = _batch_of_uploaded_images(engine, session_factory, admin.user_id, images)
    execution = _start(uow_factory, batch_id)
    preannotation.mark_processing(uow_factory, batch_id, execution, CTX)
    plan = preannotation.plan_chunks(uow_factory, storage, batch_id, execution, CTX)
    assert [item.image_count for item in plan.chunks] == [images]
    failing = frozenset(image_ids[i] for i in (0, 2_500, 4_999))
    write_results(storage, _manifest(storage, plan.chunks[0]), failing=failing)
    statements: list[tuple[str, int, bool]] = []

    def record(
        conn: object, cursor: object, statement: str, params: Sequence[Any], context: object, many: bool
    ) -> None:
        rows: Sequence[Sequence[Any]] = params if many else [params]
        values = [value for row in rows for value in row]
        lists = any(isinstance(value, list | tuple) and len(value) > 1_000 for value in values)
        statements.append((statement, len(values), lists))

    # When its results are loaded, twice
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        first = _ingest(uow_factory, storage, plan.chunks[0])
        first_statements = len(statements)
        second = _ingest(uow_factory, storage, plan.chunks[0])
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)

    # Then all 5,000 are accounted for, by a fixed number of statements with a fixed number of
    # parameters each: the rows travel as one JSON document, not one parameter (or one UPDATE)
    # per image
    assert (first.loaded, first.failed, first.already_loaded) == (images - 3, 3, False)
    assert first_statements <= 20, [s for s, _, _ in statements]
    assert max(n for _, n, _ in statements) <= 64, statements
    updates = [s for s, _, _ in statements if s.lstrip().upper().startswith("UPDATE IMAGES")]
    assert len(updates) == 1, updates
    # only the manifest's id list read back to find the images' sizes is an array; the rows
    # themselves go as text
    assert sum(1 for _, _, lists in statements if lists) <= 1, statements
    # and the second load changed nothing and wrote nothing
    assert (second.loaded, second.failed, second.already_loaded) == (images - 3, 3, True)
    assert not any(
        s.lstrip().upper().startswith(("UPDATE", "INSERT")) for s, _, _ in statements[first_statements:]
    )
    assert _audits(engine, "CHUNK_INGESTED") == 1
    with engine.connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                sa.text("SELECT status::text, count(*) FROM images WHERE batch_id = :b GROUP BY status"),
                {"b": batch_id},
            ).all()
        )
        failed_errors = conn.scalar(
            sa.text("SELECT count(*) FROM images WHERE batch_id = :b AND yolo_error IS NOT NULL"),
            {"b": batch_id},
        )
    assert counts == {"YOLO_PROCESSED": images - 3, "UPLOADED": 3}
    assert failed_errors == 3


def _batch_of_uploaded_images(
    engine: sa.Engine, session_factory: sessionmaker[Session], admin_id: int, images: int
) -> tuple[int, list[int]]:
    """A batch of `images` uploaded images made in the database in one statement (too many for
    the upload path in a test), and their ids in order."""
    batch_id, _ = make_batch(session_factory, admin_id, 0)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO images (batch_id, filename, original_filename, storage_path, thumbnail_path, "
                "width, height, file_size, mime_type, format, image_quality_score) "
                "SELECT :b, g || '.jpg', 'f-' || g || '.jpg', 'images/' || :b || '/' || g, "
                "'thumbnails/' || :b || '/' || g || '.jpg', 640, 480, 1000, 'image/jpeg', 'JPEG', 8 "
                "FROM generate_series(1, :n) g"
            ),
            {"b": batch_id, "n": images},
        )
        conn.execute(
            sa.text("UPDATE image_batches SET total_images = :n WHERE id = :b"), {"n": images, "b": batch_id}
        )
        image_ids = list(
            conn.scalars(sa.text("SELECT id FROM images WHERE batch_id = :b ORDER BY id"), {"b": batch_id})
        )
    return batch_id, image_ids
