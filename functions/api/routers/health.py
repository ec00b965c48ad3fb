"""Liveness and the API's own description: the routes that need no sign-in."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel

import cradlepose

router = Router()


class Health(BaseModel):
    status: str
    version: str


@router.get("/health", tags=["health"], summary="Is the API up?")
def health() -> Health:
    return Health(status="ok", version=cradlepose.__version__)
