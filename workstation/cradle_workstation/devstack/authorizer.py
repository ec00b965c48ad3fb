"""Verifying identity tokens the way API Gateway's Cognito authorizer does.

The local gateway checks every request's `Authorization: Bearer <ID token>` with this before it
builds the proxy event: RS256 signature against the issuer's JWKS, expiry, issuer, audience
(the app client id) and `token_use` = id. On success the claims go into the event as
`requestContext.authorizer.claims`, every value a string, as API Gateway passes them.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import jwt

JwksSource = Callable[[], dict[str, Any]]


class Unauthorized(Exception):
    """The token is missing, malformed, badly signed, expired, or for another audience."""


def jwks_from_url(url: str, ttl_seconds: int = 300) -> JwksSource:
    cache: dict[str, Any] = {}
    lock = threading.Lock()

    def fetch() -> dict[str, Any]:
        with lock:
            if cache.get("until", 0) < time.monotonic():
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a configured http(s) URL
                    cache["keys"] = json.loads(response.read())
                cache["until"] = time.monotonic() + ttl_seconds
            keys: dict[str, Any] = cache["keys"]
            return keys

    return fetch


class TokenVerifier:
    def __init__(self, issuer: str, audience: str, jwks: JwksSource) -> None:
        self.issuer = issuer
        self.audience = audience
        self._jwks = jwks

    def claims(self, authorization: str | None) -> dict[str, str]:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthorized("no bearer token")
        token = authorization.split(" ", 1)[1].strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise Unauthorized(f"malformed token: {error}") from None
        key = self._key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError as error:
            raise Unauthorized(str(error)) from None
        if claims.get("token_use") != "id":
            raise Unauthorized("an ID token is required")
        return {k: ",".join(v) if isinstance(v, list) else str(v) for k, v in claims.items()}

    def _key(self, kid: str | None) -> Any:
        for candidate in self._jwks().get("keys", []):
            if candidate.get("kid") == kid:
                return jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(candidate))
        raise Unauthorized("the token was signed with an unknown key")
