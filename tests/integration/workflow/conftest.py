"""A batch ready for annotation (pre-annotated images) and the people who work on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.db.models import Image, ImageBatch
from cradlepose.domain.enums import BatchStatus, ImageStatus, Role
from cradlepose.domain.events import Event
from cradlepose.domain.keypoint_schema import infant_pose_17
from tests.support import ApiClient, Persona, make_user

WIDTH, HEIGHT = 640, 480


def yolo_keypoints(seed: int = 0) -> dict[str, Any]:
    """A plausible infant lying supine: 17 keypoints inside the image, all visible."""
    names = [k.name for k in infant_pose_17().schema_definition.keypoints]
    base = [(320, 120), (310, 110), (330, 110), (300, 115), (340, 115), (280, 170), (360, 170), (260, 220),
            (380, 220), (250, 270), (390, 270), (295, 280), (345, 280), (290, 350), (350, 350), (288, 420),
            (352, 420)]  # fmt: skip
    return {
        "keypoints": [
            {"id": i, "name": names[i], "x": x + seed, "y": y, "confidence": 0.9, "visible": 2}
            for i, (x, y) in enumerate(base)
        ]
    }


def moved(keypoints: dict[str, Any], dx: float, ids: set[int] | None = None) -> dict[str, Any]:
    return {
        "keypoints": [
            {**k, "x": k["x"] + dx} if ids is None or k["id"] in ids else dict(k)
            for k in keypoints["keypoints"]
        ]
    }


@dataclass
class Team:
    admin: Persona
    annotator: Persona
    other_annotator: Persona
    verifier: Persona
    second_verifier: Persona


@pytest.fixture
def team(
    session_factory: sessionmaker[Session], admin: Persona, annotator: Persona, verifier: Persona
) -> Team:
    return Team(
        admin=admin,
        annotator=annotator,
        other_annotator=make_user(session_factory, Role.ANNOTATOR, name="bea"),
        verifier=verifier,
        second_verifier=make_user(session_factory, Role.VERIFIER, name="vera"),
    )


@pytest.fixture
def ready_batch(session_factory: sessionmaker[Session], admin: Persona) -> Callable[..., int]:
    """Make a READY_FOR_ANNOTATION batch of `n` pre-annotated images; returns its id."""

    def make(
        n: int = 3, name: str = "session", priority: int = 5, metadata: dict[str, Any] | None = None
    ) -> int:
        with session_factory() as session:
            schema_id = session.scalar(
                sa.text("SELECT id FROM keypoint_schemas WHERE name = 'infant-pose-17'")
            )
            batch = ImageBatch(
                batch_name=name, keypoint_schema_id=schema_id, total_images=n, uploaded_by=admin.user_id,
                status=BatchStatus.READY_FOR_ANNOTATION, processing_priority=priority, upload_metadata=metadata,
            )  # fmt: skip
            session.add(batch)
            session.flush()
            for i in range(n):
                session.add(
                    Image(
                        batch_id=batch.id, filename=f"{i}.jpg", original_filename=f"frame-{i}.jpg",
                        storage_path=f"images/{batch.id}/{i}", thumbnail_path=f"thumbnails/{batch.id}/{i}.jpg",
                        width=WIDTH, height=HEIGHT, file_size=1000, mime_type="image/jpeg", format="JPEG",
                        status=ImageStatus.YOLO_PROCESSED, yolo_keypoints=yolo_keypoints(i), yolo_confidence=0.9,
                    )
                )  # fmt: skip
            session.commit()
            return batch.id

    return make


@pytest.fixture
def published(api: ApiClient) -> Iterator[list[Event]]:
    """Every event the API publishes after a commit, in order."""
    from api import dependencies, handler  # noqa: PLC0415
    from cradlepose.common.bus import MessageBus  # noqa: PLC0415

    events: list[Event] = []

    class Recorder(MessageBus):
        def publish(self, batch: Any) -> None:
            events.extend(batch)

    # Called with the real dependency's own dependencies (the unit-of-work factory, the workflow).
    handler.app.dependency_overrides[dependencies.message_bus] = lambda **_: Recorder()
    yield events
    handler.app.dependency_overrides.pop(dependencies.message_bus, None)


def etag(response: Any) -> dict[str, str]:
    return {"If-Match": response.headers["etag"]}
