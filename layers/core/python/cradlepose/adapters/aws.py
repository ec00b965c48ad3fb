"""boto3 clients, created lazily once per execution environment and pointed at moto locally."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from botocore.config import Config

from cradlepose.settings import get_settings

_lock = threading.Lock()


@cache
def client(service: str) -> Any:
    """A shared client for `service`, with the endpoint and region from settings."""
    # boto3 (with s3transfer) loads with the first client, not at import: a cold start that
    # calls no AWS API does not pay for it.
    import boto3  # noqa: PLC0415

    settings = get_settings()
    endpoint = settings.aws_endpoint_url
    if service == "cognito-idp" and settings.cognito_endpoint_url:
        endpoint = settings.cognito_endpoint_url  # the local stack's identity provider, not moto's
    with _lock:
        return boto3.session.Session().client(
            service,
            region_name=settings.aws_region,
            endpoint_url=endpoint,
            config=Config(retries={"mode": "standard", "max_attempts": 5}, signature_version="s3v4")
            if service == "s3"
            else Config(retries={"mode": "standard", "max_attempts": 5}),
        )


def reset_clients() -> None:
    """Forget the cached clients (tests and the local stack change endpoints)."""
    client.cache_clear()
