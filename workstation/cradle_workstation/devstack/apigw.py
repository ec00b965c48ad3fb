"""API Gateway REST proxy events, as API Gateway builds them after its Cognito authorizer.

The local gateway turns each HTTP request into one of these and calls the API Lambda's own
handler; tests and benchmarks use the same builder, so all three exercise the real entry point.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl


def claims_for(
    subject: str, username: str, email: str | None, groups: tuple[str, ...] = ()
) -> dict[str, str]:
    """Claims as the Cognito authorizer hands them to the Lambda (every value a string)."""
    claims = {
        "sub": subject,
        "cognito:username": username,
        "token_use": "id",
        "auth_time": str(int(time.time())),
    }
    if email:
        claims["email"] = email
    if groups:
        claims["cognito:groups"] = ",".join(groups)
    return claims


def proxy_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    raw_body: bytes | str | None = None,
    query: dict[str, Any] | str | None = None,
    headers: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    stage: str = "local",
) -> dict[str, Any]:
    """The event API Gateway sends for `{proxy+}` with Lambda proxy integration."""
    all_headers = {"Host": "localhost", "User-Agent": "cradle-local", "Accept": "application/json"}
    all_headers.update(headers or {})
    is_base64 = False
    if raw_body is not None:
        if isinstance(raw_body, bytes):
            try:
                text: str | None = raw_body.decode("utf-8")
            except UnicodeDecodeError:
                text, is_base64 = base64.b64encode(raw_body).decode(), True
        else:
            text = raw_body
    elif body is not None:
        text = json.dumps(body, default=str)
        all_headers.setdefault("Content-Type", "application/json")
    else:
        text = None
    if isinstance(query, str):
        pairs = parse_qsl(query, keep_blank_values=True)
    else:
        pairs = [
            (k, str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in (query or {}).items()
            if v is not None
        ]
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value
        multi.setdefault(key, []).append(value)
    request_id = str(uuid.uuid4())
    now = time.time()
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method.upper(),
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": single or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": "/{proxy+}",
            "httpMethod": method.upper(),
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{stage}{path}",
            "accountId": "000000000000",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {"sourceIp": source_ip, "userAgent": all_headers.get("User-Agent")},
            "domainName": "localhost",
            "apiId": "local",
            "authorizer": {"claims": claims} if claims else None,
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


@dataclass(frozen=True)
class LambdaContext:
    """The parts of the Lambda context object that Powertools reads."""

    function_name: str = "cradle-local"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:cradle-local"
    aws_request_id: str = "local"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/cradle-local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
