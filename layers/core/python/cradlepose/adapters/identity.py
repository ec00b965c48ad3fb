"""The identity provider (Cognito in the cloud, moto's Cognito locally): accounts and groups.

Cradle's database is the source of truth for roles, approval and activity; the provider's
groups mirror the role so other consumers of the tokens see it too.
"""

from __future__ import annotations

from typing import Any, Protocol

from cradlepose.adapters.aws import client

ROLE_GROUPS = ("ADMIN", "ANNOTATOR", "VERIFIER")


class IdentityProvider(Protocol):
    def create_user(self, username: str, email: str, *, temporary_password: str | None = None) -> str: ...

    def set_group(self, username: str, group: str) -> None: ...

    def disable(self, username: str) -> None: ...

    def enable(self, username: str) -> None: ...


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
        response = self.cognito.admin_create_user(**params)
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
