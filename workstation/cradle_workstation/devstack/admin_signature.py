"""Cognito's Admin* actions are IAM calls: the local identity provider wants them SigV4-signed.

In the cloud, AdminConfirmSignUp, AdminSetUserPassword, AdminCreateUser, … are refused unless
the request carries a Signature Version 4 made with an IAM principal's key that may call them.
The local provider has one such principal: a key pair made once per state directory
(`<state-dir>/identity/admin-credentials.json`, 0600), which the local stack gives its own
process as its AWS credentials (the API Lambda's identity adapter signs with them, as it signs
with its role's credentials in AWS). A process that can merely reach the port cannot call them.

The signature is recomputed with botocore's own SigV4 signer over the request as received and
compared in constant time; the request's date must be within five minutes of now (AWS's window),
and the headers that name the action (X-Amz-Target), the host and the date must be among those
signed, so a captured signature cannot be moved to another action or body.
"""

from __future__ import annotations

import calendar
import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cradle_workstation.devstack.identity_provider import IdentityError, write_private

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "cognito-idp"
MAX_CLOCK_SKEW_S = 300  # AWS refuses a signature more than 5 minutes from its own clock
CREDENTIALS_FILE = "admin-credentials.json"
# Headers a signature must cover: which action, on which host, when.
REQUIRED_SIGNED_HEADERS = frozenset({"host", "x-amz-date", "x-amz-target"})
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed_headers>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)


def is_admin_action(action: str) -> bool:
    """Cognito's IAM-authorized actions of the user-pool API are exactly the Admin* ones."""
    return action.startswith("Admin")


@dataclass(frozen=True)
class AdminCredentials:
    access_key_id: str
    secret_access_key: str = ""

    def __repr__(self) -> str:  # never print the secret
        return f"AdminCredentials(access_key_id={self.access_key_id!r})"

    @classmethod
    def load_or_create(cls, identity_dir: Path) -> AdminCredentials:
        """This state directory's admin key; made (0600 from its first byte) on first use."""
        path = identity_dir / CREDENTIALS_FILE
        if path.exists():
            raw = json.loads(path.read_text())
            return cls(raw["access_key_id"], raw["secret_access_key"])
        identity_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        made = cls("CRADLELOCAL" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
        write_private(
            path,
            json.dumps(
                {"access_key_id": made.access_key_id, "secret_access_key": made.secret_access_key}
            ).encode(),
        )
        return made

    def client_kwargs(self) -> dict[str, str]:
        """For `boto3.client("cognito-idp", endpoint_url=..., **credentials.client_kwargs())`."""
        return {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}


@dataclass(frozen=True)
class ReceivedRequest:
    """An HTTP request as the server received it (the URL with the Host header's name)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


def require_admin_signature(
    request: ReceivedRequest, credentials: AdminCredentials, *, now: float | None = None
) -> None:
    """Raise IdentityError (Cognito's error shape) unless `request` is SigV4-signed with `credentials`."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    authorization = headers.get("authorization", "")
    if not authorization.startswith(ALGORITHM):
        # Cognito's modelled refusal (boto3 raises client.exceptions.NotAuthorizedException).
        raise IdentityError(
            "NotAuthorizedException", "Admin actions need a request signed with AWS credentials."
        )
    parsed = _AUTHORIZATION.fullmatch(authorization.strip())
    if parsed is None:
        raise IdentityError(
            "IncompleteSignatureException", "The Authorization header is not a valid SigV4 header."
        )
    scope = parsed["credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise IdentityError("IncompleteSignatureException", "The credential scope is malformed.")
    access_key_id, scope_date, region, service, _ = scope
    if not hmac.compare_digest(access_key_id.encode(), credentials.access_key_id.encode()):
        raise IdentityError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    signed = parsed["signed_headers"].split(";")
    if not set(signed) >= REQUIRED_SIGNED_HEADERS or any(name not in headers for name in signed):
        raise IdentityError(
            "IncompleteSignatureException",
            "The signature must cover host, x-amz-date and x-amz-target, and every header it names.",
        )
    stamp = headers["x-amz-date"]
    try:
        signed_at = calendar.timegm(time.strptime(stamp, SIGV4_TIMESTAMP))
    except ValueError:
        raise IdentityError("IncompleteSignatureException", "X-Amz-Date is not a SigV4 timestamp.") from None
    current = time.time() if now is None else now
    if abs(current - signed_at) > MAX_CLOCK_SKEW_S:
        raise IdentityError(
            "InvalidSignatureException", f"Signature expired: {stamp} is more than 5 minutes from now."
        )
    if service != SERVICE or scope_date != stamp[:8]:
        raise IdentityError("InvalidSignatureException", "The credential scope does not match the request.")
    expected = _signature(request, headers, signed, stamp, credentials, region)
    if not hmac.compare_digest(expected.encode(), parsed["signature"].encode()):
        raise IdentityError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )


def _signature(
    request: ReceivedRequest,
    headers: Mapping[str, str],
    signed: list[str],
    stamp: str,
    credentials: AdminCredentials,
    region: str,
) -> str:
    """botocore's signer over the request as received, limited to the headers the client signed."""
    aws_request = AWSRequest(
        method=request.method,
        url=request.url,
        data=request.body,
        headers={name: headers[name] for name in signed},
    )
    aws_request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(credentials.access_key_id, credentials.secret_access_key), SERVICE, region)
    canonical = signer.canonical_request(aws_request)
    return str(signer.signature(signer.string_to_sign(aws_request, canonical), aws_request))
