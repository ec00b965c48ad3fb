"""The whole local stack the browser drives, on 127.0.0.1 only (test-only code).

- a database (a copy of the migrated template in the session's embedded PostgreSQL);
- moto's S3 as a real HTTP server (ThreadedMotoServer), so presigned image URLs work in a browser;
- the local identity provider, speaking Cognito's JSON protocol at /idp/;
- the API Lambda's real entry point behind the LocalGateway at /api/, with the web UI's static
  files at /, all served by one werkzeug server in a thread.

`RunningStack` also seeds what a test needs through the services (people) or the tables
(a batch YOLO already pre-annotated, with synthetic pictures in moto's uploads bucket).
When `cradlepose.devstack.stack.LocalStack` lands in main this module can shrink to a wrapper.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import sqlalchemy as sa
from moto.server import ThreadedMotoServer
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from cradlepose.adapters.aws import reset_clients
from cradlepose.db.engine import create_engine, make_session_factory
from cradlepose.db.models import Image, ImageBatch
from cradlepose.db.unit_of_work import UnitOfWorkFactory, unit_of_work_factory
from cradlepose.devstack.authorizer import TokenVerifier
from cradlepose.devstack.gateway import LocalGateway
from cradlepose.devstack.identity_provider import CLIENT_ID, POOL_ID, LocalIdentityProvider
from cradlepose.domain.actor import Actor, Claims
from cradlepose.domain.enums import BatchStatus, ImageStatus, Role
from cradlepose.services import users
from cradlepose.settings import Settings, get_settings
from tests.browser import scene

ROOT = Path(__file__).resolve().parents[2]
WEB_ROOT = ROOT / "web"
PASSWORD = "Cradle-test-pass-42"


@dataclass(frozen=True)
class Person:
    username: str
    password: str
    user_id: int | None
    subject: str
    role: Role | None

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.username, self.role, is_approved=True, subject=self.subject)


@dataclass
class RunningStack:
    base_url: str
    idp: LocalIdentityProvider
    uow_factory: UnitOfWorkFactory
    session_factory: sessionmaker[Session]
    engine: sa.Engine
    s3_endpoint: str
    people: dict[str, Person] = field(default_factory=dict)

    # ------------------------------------------------------------------ people
    def sign_up(self, username: str, password: str = PASSWORD) -> str:
        """An identity-provider account (what the sign-up form does); returns its subject."""
        result = self.idp.handle(
            "SignUp",
            {
                "ClientId": CLIENT_ID,
                "Username": username,
                "Password": password,
                "UserAttributes": [{"Name": "email", "Value": f"{username}@example.org"}],
            },
        )
        return str(result["UserSub"])

    def admin(self, username: str = "ada") -> Person:
        subject = self.sign_up(username)
        self.idp.handle("AdminAddUserToGroup", {"Username": username, "GroupName": "ADMIN"})
        with self.uow_factory() as uow:
            created = users.create_admin(
                uow,
                users.NewAdmin(username=username, email=f"{username}@example.org", identity_subject=subject),
            )
        person = Person(username, PASSWORD, created.id, subject, Role.ADMIN)
        self.people[username] = person
        return person

    def worker(self, username: str, role: Role, approved_by: Person) -> Person:
        """Someone who signed up, registered with `role`, and was approved."""
        subject = self.sign_up(username)
        claims = Claims(subject=subject, username=username, email=f"{username}@example.org")
        with self.uow_factory() as uow:
            registered = users.register(uow, claims, users.Registration(role=role.value))
        with self.uow_factory(approved_by.actor) as uow:
            users.approve(uow, registered.id)
        person = Person(username, PASSWORD, registered.id, subject, role)
        self.people[username] = person
        return person

    # ------------------------------------------------------------------ batches
    def ready_batch(
        self, admin: Person, n: int = 3, name: str = "ward-b-session-01", priority: int = 5
    ) -> int:
        """A READY_FOR_ANNOTATION batch of `n` pictures in moto's uploads bucket, with YOLO's keypoints."""
        settings = get_settings()
        s3 = self.s3()
        with self.session_factory() as session:
            schema_id = session.scalar(
                sa.text("SELECT id FROM keypoint_schemas WHERE name = 'infant-pose-17'")
            )
            batch = ImageBatch(
                batch_name=name, keypoint_schema_id=schema_id, total_images=n, uploaded_by=admin.user_id,
                status=BatchStatus.READY_FOR_ANNOTATION, processing_priority=priority,
                yolo_model_version="yolo11n-pose", avg_yolo_confidence=0.84, quality_check_passed=True,
                yolo_processing_started=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=9),
                yolo_processing_completed=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=7),
            )  # fmt: skip
            session.add(batch)
            session.flush()
            for i in range(n):
                picture = scene.scene(batch.id * 100 + i)
                key, thumb = f"images/{batch.id}/{i}.jpg", f"thumbnails/{batch.id}/{i}.jpg"
                s3.put_object(
                    Bucket=settings.uploads_bucket, Key=key, Body=picture.jpeg, ContentType="image/jpeg"
                )
                s3.put_object(
                    Bucket=settings.derived_bucket, Key=thumb, Body=scene.thumbnail(picture.jpeg),
                    ContentType="image/jpeg",
                )  # fmt: skip
                session.add(
                    Image(
                        batch_id=batch.id, filename=f"{i}.jpg", original_filename=f"frame-{i:04d}.jpg",
                        storage_path=key, thumbnail_path=thumb, width=scene.WIDTH, height=scene.HEIGHT,
                        file_size=len(picture.jpeg), mime_type="image/jpeg", format="JPEG",
                        status=ImageStatus.YOLO_PROCESSED, yolo_keypoints=picture.yolo, yolo_confidence=0.84,
                        yolo_processing_time_ms=38, yolo_model_version="yolo11n-pose", image_quality_score=8.5,
                    )
                )  # fmt: skip
            session.commit()
            return batch.id

    def s3(self) -> Any:
        return boto3.client("s3", endpoint_url=self.s3_endpoint, region_name="us-east-1")

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.scalar(sa.text(sql), params)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).all())


def _locked(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """One request at a time through the API, as one Lambda execution environment does.

    Powertools' resolver keeps the current event on the app object, so a threaded server must
    not run it concurrently; a browser does send requests in parallel.
    """
    lock = threading.Lock()

    def call(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with lock:
            return handler(event, context)

    return call


@contextlib.contextmanager
def running_stack(database_url: str, state_dir: Path, web_root: Path = WEB_ROOT) -> Iterator[RunningStack]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    s3_endpoint = f"http://{host}:{port}"
    saved = {name: os.environ.get(name) for name in ("CRADLE_AWS_ENDPOINT_URL", "CRADLE_STAGE")}
    os.environ["CRADLE_AWS_ENDPOINT_URL"] = s3_endpoint
    os.environ["CRADLE_STAGE"] = "test"
    get_settings.cache_clear()
    reset_clients()
    engine = create_engine(Settings(database_url=SecretStr(database_url), db_pool_size=8, stage="test"))
    session_factory = make_session_factory(engine)
    factory = unit_of_work_factory(session_factory)

    from api import dependencies, handler  # noqa: PLC0415 - after the environment is set

    handler.app.dependency_overrides[dependencies.uow_factory] = lambda: factory
    holder: dict[str, LocalGateway] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        # The gateway is built once the server knows its port: the issuer URL contains it.
        return holder["gateway"](environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    idp = LocalIdentityProvider(state_dir / "identity", f"{base_url}/idp/{POOL_ID}")
    holder["gateway"] = LocalGateway(
        _locked(handler.lambda_handler), TokenVerifier(idp.issuer, CLIENT_ID, idp.jwks), idp, web_root
    )
    thread = threading.Thread(target=server.serve_forever, name="cradle-browser-gateway", daemon=True)
    thread.start()
    try:
        s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
        settings = get_settings()
        for bucket in (
            settings.uploads_bucket,
            settings.derived_bucket,
            settings.results_bucket,
            settings.exports_bucket,
        ):
            s3.create_bucket(Bucket=bucket)
        yield RunningStack(base_url, idp, factory, session_factory, engine, s3_endpoint)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        handler.app.dependency_overrides.clear()
        engine.dispose()
        moto.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
        reset_clients()
