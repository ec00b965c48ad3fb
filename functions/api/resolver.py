"""The API's resolver: every router's routes, CORS, and what the OpenAPI document says of the API.

handler.py answers errors and is the Lambda's entry point; openapi.py writes the document from
these routes. Both import this module and neither imports the other's caller, so no cycle.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server

import cradlepose
from api.edge import DoorThenValidation
from api.routers import ALL as ROUTERS
from cradlepose.settings import get_settings

_origin = get_settings().web_origin
app = APIGatewayRestResolver(
    enable_validation=True,
    cors=CORSConfig(allow_origin=_origin, allow_headers=["Authorization", "Content-Type", "If-Match"],
                    expose_headers=["ETag"], max_age=600) if _origin else None,
)  # fmt: skip
# The door and the NUL check come before Powertools parses anything (api.edge); the resolver made
# its validation middleware in __init__ and puts whatever this attribute holds first in every
# route's chain. tests/integration/api/test_edge.py fails if a Powertools upgrade stops doing so.
app._request_validation_middleware = DoorThenValidation()
for module in ROUTERS:
    app.include_router(module.router)

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
