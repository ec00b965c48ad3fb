"""The identity provider (Cognito in the cloud, moto's Cognito locally): accounts and groups.

Cradle's database is the source of truth for roles, approval and activity; the provider's
groups mirror the role so other consumers of the tokens see it too.
"""

from __future__ import annotations

from typing import Any, Protocol

from botocore.exceptions import ClientError

from cradlepose.adapters.aws import client
from cradlepose.domain.errors import Conflict, DomainError, ValidationFailed

ROLE_GROUPS = ("ADMIN", "ANNOTATOR", "VERIFIER")


def refusal(code: str, message: str, username: str) -> DomainError | None:
    """The domain error for an identity provider's refusal of a new account (None: not a refusal).

    Cognito and the local provider answer with the same error codes.
    """
    if code == "UsernameExistsException":
        return Conflict(f"username {username!r} is taken in the identity provider")
    if code == "AliasExistsException":
        return Conflict(f"the identity provider already has an account with this e-mail address: {message}")
    if code in ("InvalidParameterException", "InvalidEmailRoleAccessPolicyException"):
        return ValidationFailed.single("email", f"the identity provider refused the account: {message}")
    return None


class IdentityProvider(Protocol):
    def create_user(self, username: str, email: str, *, temporary_password: str | None = None) -> str: ...

    def set_group(self, username: str, group: str) -> None: ...

    def disable(self, username: str) -> None: ...

    def enable(self, username: str) -> None: ...

    def delete_user(self, username: str) -> None: ...


class CognitoIdentityProvider:
    def __init__(self, user_pool_id: str, cognito: Any | None = None) -> None:
        self.user_pool_id = user_pool_id
        self._cognito = cognito

    @property
    def cognito(self) -> Any:
        if self._cognito is None:
            self._cognito = client("cognito-idp")
        return self._cognito

    def create_user(self, username: str, email: str, *, temporary_password: str | None = None) -> str:
        """Create the account; Cognito e-mails a temporary password unless one is given (local stack)."""
        params: dict[str, Any] = {
            "UserPoolId": self.user_pool_id,
            "Username": username,
            "UserAttributes": [
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
            ],
            "DesiredDeliveryMediums": ["EMAIL"],
        }
        if temporary_password is not None:
            params["TemporaryPassword"] = temporary_password
            params["MessageAction"] = "SUPPRESS"
        try:
            response = self.cognito.admin_create_user(**params)
        except ClientError as error:
            details = error.response.get("Error", {})
            domain_error = refusal(details.get("Code", ""), details.get("Message", ""), username)
            if domain_error is None:
                raise
            raise domain_error from None
        attributes = {a["Name"]: a["Value"] for a in response["User"].get("Attributes", [])}
        return str(attributes.get("sub", response["User"]["Username"]))

    def set_group(self, username: str, group: str) -> None:
        """Make `group` the user's only role group."""
        current = self.cognito.admin_list_groups_for_user(UserPoolId=self.user_pool_id, Username=username)
        for existing in current.get("Groups", []):
            name = existing["GroupName"]
            if name in ROLE_GROUPS and name != group:
                self.cognito.admin_remove_user_from_group(
                    UserPoolId=self.user_pool_id, Username=username, GroupName=name
                )
        self.cognito.admin_add_user_to_group(UserPoolId=self.user_pool_id, Username=username, GroupName=group)

    def disable(self, username: str) -> None:
        self.cognito.admin_disable_user(UserPoolId=self.user_pool_id, Username=username)

    def enable(self, username: str) -> None:
        self.cognito.admin_enable_user(UserPoolId=self.user_pool_id, Username=username)

    def delete_user(self, username: str) -> None:
        self.cognito.admin_delete_user(UserPoolId=self.user_pool_id, Username=username)
