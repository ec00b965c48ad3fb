"""Signing in with the identity provider (Cognito, or the local provider that speaks its protocol)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from cradle_workstation.cli.profiles import Profile, ProfileStore, Tokens


class SignInFailed(Exception):
    pass


def _cognito(profile: Profile) -> Any:
    # Sign-in calls are unauthenticated: the dummy credentials only satisfy botocore's signer.
    return boto3.client(
        "cognito-idp",
        region_name=profile.region,
        endpoint_url=profile.identity_url,
        aws_access_key_id="cradle-cli",
        aws_secret_access_key="cradle-cli",  # noqa: S106 - not a secret, see above
        config=Config(retries={"max_attempts": 2}),
    )


def sign_in(
    profile: Profile,
    store: ProfileStore,
    username: str,
    password: str,
    new_password: Callable[[], str] | None = None,
) -> Tokens:
    cognito = _cognito(profile)
    try:
        answer = cognito.initiate_auth(
            ClientId=profile.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        if answer.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
            if new_password is None:
                raise SignInFailed("a new password is required: sign in interactively once")
            answer = cognito.respond_to_auth_challenge(
                ClientId=profile.client_id,
                ChallengeName="NEW_PASSWORD_REQUIRED",
                Session=answer["Session"],
                ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": new_password()},
            )
    except ClientError as error:
        raise SignInFailed(error.response.get("Error", {}).get("Message", str(error))) from None
    tokens = _tokens(answer["AuthenticationResult"], username, None)
    store.save_tokens(profile.name, tokens)
    return tokens


def current_token(profile: Profile, store: ProfileStore) -> str:
    """A valid ID token for the profile, refreshed when it has expired."""
    tokens = store.tokens(profile.name)
    if tokens is None:
        raise SignInFailed(f"not signed in to {profile.name!r}: run `cradle login`")
    if not tokens.expired:
        return tokens.id_token
    if tokens.refresh_token is None:
        raise SignInFailed("the session expired: run `cradle login` again")
    try:
        answer = _cognito(profile).initiate_auth(
            ClientId=profile.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens.refresh_token},
        )
    except ClientError:
        raise SignInFailed("the session expired: run `cradle login` again") from None
    fresh = _tokens(answer["AuthenticationResult"], tokens.username, tokens.refresh_token)
    store.save_tokens(profile.name, fresh)
    return fresh.id_token


def _tokens(result: dict[str, Any], username: str, refresh: str | None) -> Tokens:
    return Tokens(
        id_token=result["IdToken"],
        refresh_token=result.get("RefreshToken", refresh),
        expires_at=time.time() + int(result.get("ExpiresIn", 3600)),
        username=username,
    )
