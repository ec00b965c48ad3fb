"""The local gateway: HTTP in, API Gateway proxy events to the very same handler, HTTP out.

/api/...   the API: the token is verified as the Cognito authorizer would, the request becomes
           a REST proxy event with the claims in requestContext.authorizer, the API Lambda's
           `lambda_handler` answers it. /api/health, /api/openapi.json and /api/swagger are public.
/idp/...   the local identity provider (Cognito's JSON protocol) and its JWKS; its Admin*
           actions only when SigV4-signed with the stack's admin key (admin_signature).
/...       the web UI's static files, when there is a web UI.

Every request must name this machine in its Host header (by default a loopback name): a page on
another site whose DNS name was rebound to 127.0.0.1 sends its own name and is refused (421), so
it cannot drive the identity provider or the API from the victim's browser.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from cradle_workstation.devstack.admin_signature import (
    AdminCredentials,
    ReceivedRequest,
    is_admin_action,
    require_admin_signature,
)
from cradle_workstation.devstack.apigw import LambdaContext, proxy_event
from cradle_workstation.devstack.authorizer import TokenVerifier, Unauthorized
from cradle_workstation.devstack.identity_provider import IdentityError, LocalIdentityProvider

StartResponse = Callable[..., Any]
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

API_PREFIX = "/api"
IDP_PREFIX = "/idp"
PUBLIC_API_PATHS = frozenset({"/health", "/openapi.json", "/swagger"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MISDIRECTED_PROBLEM = json.dumps(
    {
        "type": "https://cradle.example.org/problems/misdirected",
        "title": "Unknown host",
        "status": 421,
        "detail": "this server answers only to the names it was configured with",
    }
).encode()
_TARGET = "AWSCognitoIdentityProviderService."
UNAUTHORIZED_PROBLEM = json.dumps(
    {
        "type": "https://cradle.example.org/problems/unauthenticated",
        "title": "Authentication required",
        "status": 401,
        "detail": "a valid identity token is required: Authorization: Bearer <ID token>",
    }
).encode()


class LocalGateway:
    def __init__(
        self,
        api_handler: Handler,
        verifier: TokenVerifier,
        identity: LocalIdentityProvider | None = None,
        web_root: Path | None = None,
        allowed_hosts: frozenset[str] = LOOPBACK_HOSTS,
    ) -> None:
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.api_handler = api_handler
        self.verifier = verifier
        self.identity = identity
        # The key Admin* requests must be signed with: the one this provider's state directory holds.
        self.admin_credentials = (
            AdminCredentials.load_or_create(identity.state_dir) if identity is not None else None
        )
        self.web_root = web_root

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = unquote(environ.get("PATH_INFO") or "/")
        if host_name(environ.get("HTTP_HOST", "")) not in self.allowed_hosts:
            status, headers, body = 421, [("Content-Type", "application/problem+json")], MISDIRECTED_PROBLEM
        elif path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            status, headers, body = self._api(environ, path.removeprefix(API_PREFIX) or "/")
        elif path.startswith(IDP_PREFIX) and self.identity is not None:
            status, headers, body = self._identity(environ, path.removeprefix(IDP_PREFIX))
        else:
            status, headers, body = self._static(path)
        start_response(f"{status} {_REASONS.get(status, '')}".strip(), headers)
        return [body]

    # ------------------------------------------------------------------ the API
    def _api(self, environ: dict[str, Any], path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = _request_headers(environ)
        claims = None
        if path not in PUBLIC_API_PATHS:
            try:
                claims = self.verifier.claims(headers.get("Authorization"))
            except Unauthorized:
                # What API Gateway answers when its authorizer refuses a token (the CDK app sets
                # its UNAUTHORIZED gateway response to this same problem document).
                return 401, [("Content-Type", "application/problem+json")], UNAUTHORIZED_PROBLEM
        raw_body = _read_body(environ)
        event = proxy_event(
            environ.get("REQUEST_METHOD", "GET"),
            path,
            raw_body=raw_body if raw_body else None,
            query=environ.get("QUERY_STRING", ""),
            headers=headers,
            claims=claims,
            source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
        )
        response = self.api_handler(event, LambdaContext())
        out_headers = dict(response.get("headers") or {})
        for key, values in (response.get("multiValueHeaders") or {}).items():
            out_headers.setdefault(key, values[-1])
        body = response.get("body") or ""
        data = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
        return int(response["statusCode"]), list(out_headers.items()), data

    # ------------------------------------------------------------------ the identity provider
    def _identity(self, environ: dict[str, Any], path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        assert self.identity is not None
        json_type = [("Content-Type", "application/x-amz-json-1.1")]
        if environ.get("REQUEST_METHOD") == "GET" and path.endswith("/.well-known/jwks.json"):
            return 200, [("Content-Type", "application/json")], json.dumps(self.identity.jwks()).encode()
        target = _request_headers(environ).get("X-Amz-Target", "")
        if environ.get("REQUEST_METHOD") != "POST" or not target.startswith(_TARGET):
            return (
                400,
                json_type,
                json.dumps({"__type": "InvalidAction", "message": "unknown request"}).encode(),
            )
        action, raw_body = target.removeprefix(_TARGET), _read_body(environ)
        try:
            if is_admin_action(action):
                # Cognito's Admin* actions are IAM calls: refused, before anything is read or
                # changed, unless signed with the stack's admin key (admin_signature).
                assert self.admin_credentials is not None
                require_admin_signature(_received(environ, raw_body), self.admin_credentials)
            body = json.loads(raw_body or b"{}")
            result = self.identity.handle(action, body)
        except IdentityError as error:
            return 400, json_type, json.dumps({"__type": error.code, "message": error.message}).encode()
        except (KeyError, ValueError) as error:
            problem = {"__type": "InvalidParameterException", "message": f"missing or bad parameter: {error}"}
            return 400, json_type, json.dumps(problem).encode()
        return 200, json_type, json.dumps(result).encode()

    # ------------------------------------------------------------------ the web UI
    def _static(self, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if self.web_root is None or not self.web_root.is_dir():
            return 404, [("Content-Type", "text/plain")], b"not found"
        root = self.web_root.resolve()
        target = (root / path.lstrip("/")).resolve()
        if not target.is_relative_to(root):
            return 404, [("Content-Type", "text/plain")], b"not found"
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            target = root / "index.html"  # the single-page app routes the rest itself
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        headers = [
            ("Content-Type", content_type),
            ("Cache-Control", "no-cache"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        return 200, headers, target.read_bytes()


def host_name(host: str) -> str:
    """The name in a Host header, without its port: `127.0.0.1:8000` → `127.0.0.1`, `[::1]:80` → `::1`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    if "X-Amz-Target" not in headers and "HTTP_X_AMZ_TARGET" in environ:
        headers["X-Amz-Target"] = environ["HTTP_X_AMZ_TARGET"]
    return headers


def _received(environ: dict[str, Any], body: bytes) -> ReceivedRequest:
    """The request as the client sent it: the path as it was on the wire (what it signed)."""
    path = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not path:
        path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "/"))
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
    url = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}{path}"
    return ReceivedRequest(environ.get("REQUEST_METHOD", "POST"), url, _request_headers(environ), body)


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length > 0 else b""


_REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 409: "Conflict", 412: "Precondition Failed", 413: "Content Too Large",
    421: "Misdirected Request", 422: "Unprocessable Content", 500: "Internal Server Error",
}  # fmt: skip
