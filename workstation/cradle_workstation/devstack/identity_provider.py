"""A local identity provider that speaks the part of Amazon Cognito's protocol Cradle uses.

It keeps accounts on disk (scrypt password hashes, a persistent RS256 signing key), issues ID
and access tokens shaped like Cognito's, and publishes its JWKS at
`<issuer>/.well-known/jwks.json`. The CLI, the web UI and the identity adapter call it with
boto3's `cognito-idp` client (endpoint_url pointed here), exactly as they call Cognito in the
cloud. Supported actions: SignUp (awaiting AdminConfirmSignUp unless the provider was started
with auto_confirm_sign_up), AdminConfirmSignUp, InitiateAuth (USER_PASSWORD_AUTH,
REFRESH_TOKEN_AUTH), RespondToAuthChallenge (NEW_PASSWORD_REQUIRED), AdminCreateUser,
AdminSetUserPassword, AdminGetUser, AdminDeleteUser, AdminAddUserToGroup, AdminRemoveUserFromGroup,
AdminListGroupsForUser, AdminDisableUser, AdminEnableUser, GetUser.

Over HTTP, the Admin* actions need a SigV4 signature made with the state directory's admin key
(admin_signature, checked by the gateway), as Cognito needs IAM credentials for them.

This is for one laptop: it has no rate limiting, MFA or e-mail (the message with a temporary
password is written to `<state-dir>/identity/outbox/<username>.json` instead). Never expose it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cradlepose.adapters.identity import refusal
from cradlepose.domain.actor import is_reserved_username

POOL_ID = "local_cradle"
CLIENT_ID = "cradle-local-client"
ROLE_GROUPS = ("ADMIN", "ANNOTATOR", "VERIFIER")
ID_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 30 * 24 * 3600
# What Cognito accepts as an e-mail attribute, near enough: one @, no spaces, a dot in the domain.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# An action of Cognito's protocol, as the X-Amz-Target header names it: AdminGetUser, SignUp, …
_ACTION_NAME = re.compile(r"[A-Z][A-Za-z]+")


class IdentityError(Exception):
    """An error Cognito would answer with `__type` = code and HTTP 400."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Account:
    username: str
    sub: str
    email: str
    password_hash: str
    groups: list[str] = field(default_factory=list)
    enabled: bool = True
    must_change_password: bool = False
    created: float = field(default_factory=time.time)
    confirmed: bool = True  # False after a self sign-up, until an admin confirms it


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file that is 0600 from its first byte: a fresh temporary file created with
    that mode (never chmod after the write, when others could already have opened it), then an
    atomic rename over the old one, so a reader sees the old file or the new, never a part."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _refuse_reserved(username: str) -> None:
    if is_reserved_username(username):
        raise IdentityError("InvalidParameterException", f"the username {username!r} is reserved")


def _hash(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _check(password: str, stored: str) -> bool:
    _, salt, digest = stored.split("$")
    expected = _hash(password, base64.b64decode(salt)).split("$")[2]
    return hmac.compare_digest(expected, digest)


def _password_problems(password: str) -> str | None:
    if len(password) < 12:
        return "Password must be at least 12 characters"
    if not any(c.islower() for c in password) or not any(c.isupper() for c in password):
        return "Password must have upper and lower case letters"
    if not any(c.isdigit() for c in password):
        return "Password must have a number"
    return None


def generate_password() -> str:
    """A password that satisfies the policy (local accounts created by the CLI)."""
    return secrets.token_urlsafe(18) + "aA1"


@dataclass(frozen=True)
class _SignIn:
    """One sign-in, as Cognito keeps it behind a refresh token: every ID token refreshed from it
    carries the same `origin_jti` and `auth_time` (the API's audit rows name the session by them)."""

    username: str
    origin_jti: str
    auth_time: int


class LocalIdentityProvider:
    def __init__(self, state_dir: Path, issuer: str, *, auto_confirm_sign_up: bool = False) -> None:
        self.state_dir = state_dir
        self.issuer = issuer.rstrip("/")
        # Cognito's pool setting: without it a self sign-up waits for AdminConfirmSignUp.
        self.auto_confirm_sign_up = auto_confirm_sign_up
        self._lock = threading.Lock()
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._key = self._load_key()
        self._kid = hashlib.sha256(self._public_pem()).hexdigest()[:16]
        self._refresh: dict[str, _SignIn] = {}
        self._sessions: dict[str, str] = {}

    # ------------------------------------------------------------------ persistence
    @property
    def _accounts_path(self) -> Path:
        return self.state_dir / "accounts.json"

    def _load_key(self) -> rsa.RSAPrivateKey:
        path = self.state_dir / "signing-key.pem"
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            return key
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        write_private(
            path,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        return key

    def _public_pem(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def _accounts(self) -> dict[str, Account]:
        if not self._accounts_path.exists():
            return {}
        raw = json.loads(self._accounts_path.read_text())
        return {name: Account(**value) for name, value in raw.items()}

    def _save(self, accounts: dict[str, Account]) -> None:
        data = json.dumps({k: asdict(v) for k, v in accounts.items()}, indent=2).encode()
        write_private(self._accounts_path, data)

    # ------------------------------------------------------------------ keys and tokens
    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**jwk, "kid": self._kid, "alg": "RS256", "use": "sig"}]}

    def _tokens(self, account: Account, *, refreshing: _SignIn | None = None) -> dict[str, Any]:
        """Tokens for a new sign-in (with a refresh token), or refreshed ones of `refreshing`."""
        now = int(time.time())
        sign_in = refreshing or _SignIn(account.username, str(uuid.uuid4()), now)
        common = {
            "iss": self.issuer,
            "sub": account.sub,
            "iat": now,
            "auth_time": sign_in.auth_time,
            "exp": now + ID_TOKEN_SECONDS,
            "origin_jti": sign_in.origin_jti,
        }
        id_claims = {
            **common,
            "aud": CLIENT_ID,
            "token_use": "id",
            "cognito:username": account.username,
            "email": account.email,
            "email_verified": True,
            "jti": str(uuid.uuid4()),
        }
        if account.groups:
            id_claims["cognito:groups"] = list(account.groups)
        access_claims = {
            **common,
            "client_id": CLIENT_ID,
            "token_use": "access",
            "username": account.username,
            "scope": "aws.cognito.signin.user.admin",
            "jti": str(uuid.uuid4()),
        }
        headers = {"kid": self._kid}
        result: dict[str, Any] = {
            "IdToken": jwt.encode(id_claims, self._key, algorithm="RS256", headers=headers),
            "AccessToken": jwt.encode(access_claims, self._key, algorithm="RS256", headers=headers),
            "ExpiresIn": ID_TOKEN_SECONDS,
            "TokenType": "Bearer",
        }
        if refreshing is None:
            refresh = secrets.token_urlsafe(32)
            self._refresh[refresh] = sign_in
            result["RefreshToken"] = refresh
        return result

    # ------------------------------------------------------------------ the protocol
    def handle(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """Answer one action of the protocol. Over HTTP the gateway has already checked the
        signature of Admin* actions; a caller in this process holds the state directory anyway."""
        # Only Cognito's action names (capitalised) reach a method: never a helper such as _save.
        method = getattr(self, f"_{action}", None) if _ACTION_NAME.fullmatch(action) else None
        if method is None:
            raise IdentityError(
                "InvalidParameterException", f"{action} is not supported by the local provider"
            )
        with self._lock:
            result: dict[str, Any] = method(body)
            return result

    def _require(self, accounts: dict[str, Account], username: str) -> Account:
        account = accounts.get(username) or next((a for a in accounts.values() if a.email == username), None)
        if account is None:
            raise IdentityError("UserNotFoundException", "User does not exist.")
        return account

    def _SignUp(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - Cognito's action names
        accounts = self._accounts()
        username, password = body["Username"], body["Password"]
        _refuse_reserved(username)
        if username in accounts:
            raise IdentityError("UsernameExistsException", "User already exists")
        if problem := _password_problems(password):
            raise IdentityError("InvalidPasswordException", problem)
        attributes = {a["Name"]: a["Value"] for a in body.get("UserAttributes", [])}
        email = attributes.get("email")
        if not email:
            raise IdentityError("InvalidParameterException", "email is required")
        account = Account(
            username=username,
            sub=str(uuid.uuid4()),
            email=email,
            password_hash=_hash(password),
            confirmed=self.auto_confirm_sign_up,
        )
        accounts[username] = account
        self._save(accounts)
        return {"UserConfirmed": account.confirmed, "UserSub": account.sub}

    def _AdminConfirmSignUp(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        accounts = self._accounts()
        self._require(accounts, body["Username"]).confirmed = True
        self._save(accounts)
        return {}

    @staticmethod
    def _may_sign_in(account: Account) -> None:
        """What every flow that issues tokens checks, the refresh flow included."""
        if not account.enabled:
            raise IdentityError("NotAuthorizedException", "User is disabled.")
        if not account.confirmed:
            raise IdentityError("UserNotConfirmedException", "User is not confirmed.")

    def _InitiateAuth(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        flow, params = body.get("AuthFlow"), body.get("AuthParameters", {})
        accounts = self._accounts()
        if flow == "REFRESH_TOKEN_AUTH":
            sign_in = self._refresh.get(params.get("REFRESH_TOKEN", ""))
            if sign_in is None:
                raise IdentityError("NotAuthorizedException", "Invalid Refresh Token")
            holder = self._require(accounts, sign_in.username)
            self._may_sign_in(holder)  # a disabled account's refresh token is worth nothing
            return {"AuthenticationResult": self._tokens(holder, refreshing=sign_in)}
        if flow != "USER_PASSWORD_AUTH":
            raise IdentityError("InvalidParameterException", f"AuthFlow {flow} is not supported locally")
        account = accounts.get(params.get("USERNAME", ""))
        if account is None or not _check(params.get("PASSWORD", ""), account.password_hash):
            raise IdentityError("NotAuthorizedException", "Incorrect username or password.")
        self._may_sign_in(account)
        if account.must_change_password:
            session = secrets.token_urlsafe(32)
            self._sessions[session] = account.username
            return {
                "ChallengeName": "NEW_PASSWORD_REQUIRED",
                "Session": session,
                "ChallengeParameters": {"USER_ID_FOR_SRP": account.username},
            }
        return {"AuthenticationResult": self._tokens(account)}

    def _RespondToAuthChallenge(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        if body.get("ChallengeName") != "NEW_PASSWORD_REQUIRED":
            raise IdentityError(
                "InvalidParameterException", "only NEW_PASSWORD_REQUIRED is supported locally"
            )
        responses = body.get("ChallengeResponses", {})
        username = self._sessions.pop(body.get("Session", ""), None)
        if username is None or username != responses.get("USERNAME"):
            raise IdentityError("NotAuthorizedException", "Invalid session for the user.")
        accounts = self._accounts()
        account = self._require(accounts, username)
        if problem := _password_problems(responses.get("NEW_PASSWORD", "")):
            raise IdentityError("InvalidPasswordException", problem)
        account.password_hash = _hash(responses["NEW_PASSWORD"])
        account.must_change_password = False
        self._save(accounts)
        return {"AuthenticationResult": self._tokens(account)}

    def _AdminCreateUser(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        accounts = self._accounts()
        username = body["Username"]
        _refuse_reserved(username)
        if username in accounts:
            raise IdentityError("UsernameExistsException", "User account already exists")
        attributes = {a["Name"]: a["Value"] for a in body.get("UserAttributes", [])}
        email = attributes.get("email", "")
        if not _EMAIL.fullmatch(email):
            raise IdentityError("InvalidParameterException", "Invalid email address format.")
        password = body.get("TemporaryPassword") or generate_password()
        account = Account(
            username=username,
            sub=str(uuid.uuid4()),
            email=email,
            password_hash=_hash(password),
            must_change_password=True,
        )
        accounts[username] = account
        self._save(accounts)
        if body.get("MessageAction") != "SUPPRESS":
            self._deliver(account, password)
        return {"User": self._user(account)}

    def _deliver(self, account: Account, temporary_password: str) -> None:
        """Cognito e-mails the temporary password; locally the message lands in `outbox/` (0600)."""
        outbox = self.outbox_dir
        outbox.mkdir(mode=0o700, exist_ok=True)
        path = outbox / f"{account.username}.json"
        message = {
            "to": account.email,
            "username": account.username,
            "temporary_password": temporary_password,
        }
        write_private(path, json.dumps(message, indent=2).encode())

    @property
    def outbox_dir(self) -> Path:
        """Where the messages Cognito would e-mail are written instead."""
        return self.state_dir / "outbox"

    def _AdminDeleteUser(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        accounts = self._accounts()
        del accounts[self._require(accounts, body["Username"]).username]
        self._save(accounts)
        return {}

    def _AdminSetUserPassword(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        accounts = self._accounts()
        account = self._require(accounts, body["Username"])
        if problem := _password_problems(body["Password"]):
            raise IdentityError("InvalidPasswordException", problem)
        account.password_hash = _hash(body["Password"])
        account.must_change_password = not body.get("Permanent", False)
        self._save(accounts)
        return {}

    def _AdminGetUser(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        account = self._require(self._accounts(), body["Username"])
        user = self._user(account)
        return {
            "Username": user["Username"],
            "UserAttributes": user["Attributes"],
            "Enabled": account.enabled,
            "UserStatus": user["UserStatus"],
        }

    def _GetUser(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        claims = self.verify_access_token(body.get("AccessToken", ""))
        return self._AdminGetUser({"Username": claims["username"]})

    def _group_change(self, body: dict[str, Any], add: bool) -> dict[str, Any]:
        accounts = self._accounts()
        account = self._require(accounts, body["Username"])
        group = body["GroupName"]
        if group not in ROLE_GROUPS:
            raise IdentityError("ResourceNotFoundException", "Group not found.")
        if add and group not in account.groups:
            account.groups.append(group)
        if not add and group in account.groups:
            account.groups.remove(group)
        self._save(accounts)
        return {}

    def _AdminAddUserToGroup(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self._group_change(body, add=True)

    def _AdminRemoveUserFromGroup(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self._group_change(body, add=False)

    def _AdminListGroupsForUser(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        account = self._require(self._accounts(), body["Username"])
        return {"Groups": [{"GroupName": g, "UserPoolId": POOL_ID} for g in account.groups]}

    def _set_enabled(self, body: dict[str, Any], enabled: bool) -> dict[str, Any]:
        accounts = self._accounts()
        self._require(accounts, body["Username"]).enabled = enabled
        self._save(accounts)
        return {}

    def _AdminDisableUser(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self._set_enabled(body, False)

    def _AdminEnableUser(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self._set_enabled(body, True)

    @staticmethod
    def _user(account: Account) -> dict[str, Any]:
        return {
            "Username": account.username,
            "Attributes": [
                {"Name": "sub", "Value": account.sub},
                {"Name": "email", "Value": account.email},
                {"Name": "email_verified", "Value": "true"},
            ],
            "Enabled": account.enabled,
            "UserStatus": "FORCE_CHANGE_PASSWORD" if account.must_change_password else "CONFIRMED",
        }

    def verify_access_token(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._key.public_key(), algorithms=["RS256"], issuer=self.issuer
            )
        except jwt.PyJWTError as error:
            raise IdentityError("NotAuthorizedException", f"Invalid Access Token: {error}") from None
        if claims.get("token_use") != "access":
            raise IdentityError("NotAuthorizedException", "Invalid Access Token")
        return claims


class LocalIdentityAdapter:
    """The identity adapter (cradlepose.adapters.identity.IdentityProvider) over the local provider."""

    def __init__(self, provider: LocalIdentityProvider) -> None:
        self.provider = provider

    def create_user(self, username: str, email: str, *, temporary_password: str | None = None) -> str:
        body: dict[str, Any] = {"Username": username, "UserAttributes": [{"Name": "email", "Value": email}]}
        if temporary_password is not None:
            body["TemporaryPassword"] = temporary_password
        try:
            user = self.provider.handle("AdminCreateUser", body)["User"]
        except IdentityError as error:
            domain_error = refusal(error.code, error.message, username)
            if domain_error is None:
                raise
            raise domain_error from None
        return str(next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub"))

    def set_group(self, username: str, group: str) -> None:
        current = self.provider.handle("AdminListGroupsForUser", {"Username": username})["Groups"]
        for existing in current:
            if existing["GroupName"] != group:
                self.provider.handle(
                    "AdminRemoveUserFromGroup", {"Username": username, "GroupName": existing["GroupName"]}
                )
        self.provider.handle("AdminAddUserToGroup", {"Username": username, "GroupName": group})

    def disable(self, username: str) -> None:
        self.provider.handle("AdminDisableUser", {"Username": username})

    def enable(self, username: str) -> None:
        self.provider.handle("AdminEnableUser", {"Username": username})

    def delete_user(self, username: str) -> None:
        self.provider.handle("AdminDeleteUser", {"Username": username})

    def set_password(self, username: str, password: str) -> None:
        self.provider.handle(
            "AdminSetUserPassword", {"Username": username, "Password": password, "Permanent": True}
        )
