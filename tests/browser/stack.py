"""The local stack the browser drives: `cradle dev`'s own LocalStack, plus what a test seeds (test-only).

The stack is the one `cradle dev` runs (cradle_workstation.devstack.stack): moto's server on 127.0.0.1
(S3 over HTTP, so presigned image URLs work in a browser), the local identity provider at /idp/,
the API Lambda's entry point behind the gateway at /api/, and the web UI's files at /. The browser
tests run it on a database of their own, without schedules (nothing assigns or sweeps behind a
test's back), without an administrator of its own (each test makes its people), and without
inference: batches are seeded as YOLO left them.

`RunningStack` seeds what a test needs through the services (people) or the tables (a batch YOLO
already pre-annotated, with synthetic pictures in the uploads bucket).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from cradle_workstation.devstack.identity_provider import CLIENT_ID, LocalIdentityProvider
from cradle_workstation.devstack.stack import LocalStack, LocalStackConfig
from cradlepose.accounts import users
from cradlepose.db.engine import create_engine, make_session_factory
from cradlepose.db.models import Image, ImageBatch
from cradlepose.db.unit_of_work import UnitOfWorkFactory, unit_of_work_factory
from cradlepose.domain.actor import Actor, Claims
from cradlepose.domain.enums import BatchStatus, ImageStatus, Role
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
    local: LocalStack
    uow_factory: UnitOfWorkFactory
    session_factory: sessionmaker[Session]
    engine: sa.Engine
    people: dict[str, Person] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.local.base_url

    @property
    def idp(self) -> LocalIdentityProvider:
        assert self.local.identity is not None
        return self.local.identity

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
        # The administrator's confirmation the provider waits for (as the admin console would).
        self.idp.handle("AdminConfirmSignUp", {"Username": username})
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
        return self.local.aws.client("s3")

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.scalar(sa.text(sql), params)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).all())


@contextlib.contextmanager
def running_stack(database_url: str, state_dir: Path, web_root: Path = WEB_ROOT) -> Iterator[RunningStack]:
    config = LocalStackConfig(
        state_dir=state_dir,
        database_url=database_url,
        web_root=web_root,
        schedules=False,
        create_admin=False,
        auto_confirm_sign_up=True,  # the pages under test include the self sign-up form
    )
    with LocalStack(config) as local:
        engine = create_engine(Settings(database_url=SecretStr(database_url), db_pool_size=8, stage="test"))
        session_factory = make_session_factory(engine)
        try:
            yield RunningStack(local, unit_of_work_factory(session_factory), session_factory, engine)
        finally:
            engine.dispose()
