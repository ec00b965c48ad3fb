"""The API's resolver: every router's routes, CORS, and what the OpenAPI document says of the API.

handler.py answers errors and is the Lambda's entry point; openapi.py writes the document from
these routes. Both import this module and neither imports the other's caller, so no cycle.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, OpenAPI, Server
from aws_lambda_powertools.utilities.typing import LambdaContext

import cradlepose
from api import dependency_cache
from api.edge import DoorThenValidation
from api.routers import ALL as ROUTERS
from api.routers import BY_SEGMENT
from cradlepose.settings import get_settings


class LazyRoutersResolver(APIGatewayRestResolver):
    """A REST resolver that imports and includes a router on the first request under its paths.

    A cold start imports no router: the first request under /batches imports the routers that serve
    paths beginning with /batches (api.routers.BY_SEGMENT), and the OpenAPI document includes them
    all first. Routes of different routers never match the same path unless they share the first
    segment, so a request sees every route that could answer it, as if all were included.
    """

    def __init__(
        self, routers: Sequence[str], by_segment: Mapping[str, Sequence[str]], **options: Any
    ) -> None:
        super().__init__(**options)
        self._routers = tuple(routers)
        self._by_segment = dict(by_segment)
        self._included: set[str] = set()
        self._ready_segments: set[str] = set()
        self._including = threading.Lock()  # the local stack serves requests from several threads

    def _include(self, names: Sequence[str]) -> None:
        for name in names:
            if name not in self._included:
                module = importlib.import_module(f"api.routers.{name}")
                self.include_router(module.router)
                self._included.add(name)

    def include_routers_for(self, path: str) -> None:
        """Include the routers that serve paths beginning with this one's first segment."""
        segment = path.strip("/").split("/", 1)[0]
        if segment in self._ready_segments or segment not in self._by_segment:
            return
        with self._including:
            self._include(self._by_segment[segment])
            self._ready_segments.add(segment)

    def include_all_routers(self) -> None:
        with self._including:
            self._include(self._routers)
            self._ready_segments.update(self._by_segment)

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        self.include_routers_for(str(event.get("path") or "/"))
        return super().resolve(event, context)

    def get_openapi_schema(self, **options: Any) -> OpenAPI:
        self.include_all_routers()
        return super().get_openapi_schema(**options)


_origin = get_settings().web_origin
app = LazyRoutersResolver(
    ROUTERS,
    BY_SEGMENT,
    enable_validation=True,
    cors=CORSConfig(allow_origin=_origin, allow_headers=["Authorization", "Content-Type", "If-Match"],
                    expose_headers=["ETag"], max_age=600) if _origin else None,
)  # fmt: skip
# The door and the NUL check come before Powertools parses anything (api.edge); the resolver made
# its validation middleware in __init__ and puts whatever this attribute holds first in every
# route's chain. tests/integration/api/test_edge.py fails if a Powertools upgrade stops doing so.
app._request_validation_middleware = DoorThenValidation()
dependency_cache.install()  # type hints and dependency trees read once per function, not per request

OPENAPI = {
    "title": "Cradle API",
    "version": cradlepose.__version__,
    "summary": "Medical-grade infant keypoint datasets: batches, images, people, audit.",
    "description": (
        "Every route but /health, /openapi.json and /swagger needs a Cognito ID token "
        "(`Authorization: Bearer <token>`). Errors are RFC 9457 problem documents."
    ),
    # Relative to where the document is served (/prod/openapi.json in the cloud, /api/openapi.json
    # locally), so "Try it out" in the Swagger page calls the right place in both.
    "servers": [Server(url=".", description="this API")],
    "security_schemes": {"cognito": HTTPBearer(bearerFormat="JWT", description="Cognito ID token")},
    "security": [{"cognito": []}],
}
app.configure_openapi(**OPENAPI)  # type: ignore[arg-type]
app.enable_swagger(path="/swagger", **OPENAPI)  # type: ignore[arg-type]
