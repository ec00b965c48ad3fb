"""Cognito: the user pool (groups ADMIN, ANNOTATOR, VERIFIER) and the web/CLI app client.

No self sign-up: administrators create users (AdminCreateUser e-mails a temporary password). Strong
passwords, TOTP MFA (optional in dev, required in prod), threat protection in enforcement mode (the
Plus feature plan), token revocation, no user-existence leaks.

The web UI signs in two ways: the Hosted UI (authorization code with PKCE; its domain is
`<prefix>-<account>.auth.<region>.amazoncognito.com`, and the only callback and sign-out URL is the
site's origin), or its own form over Cognito's JSON API (USER_PASSWORD_AUTH, as the CLI does).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.nag import acknowledge

GROUPS = ("ADMIN", "ANNOTATOR", "VERIFIER")


class Identity(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, web_origin: str) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"{config.prefix}-users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=14,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
                password_history_size=12,
            ),
            mfa=cognito.Mfa.REQUIRED if config.mfa_required else cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            user_invitation=cognito.UserInvitationConfig(
                email_subject="Your Cradle account",
                email_body=(
                    "An administrator created a Cradle account for you. User name: {username}. "
                    "Temporary password: {####} (valid for 3 days; you will choose your own at first "
                    "sign-in)."
                ),
            ),
            deletion_protection=config.deletion_protection,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        if not config.mfa_required:
            acknowledge(
                self.user_pool,
                "MFA is required in prod. Dev runs with MFA optional (TOTP offered to every user) so that "
                "test accounts and end-to-end scripts can sign in; dev holds no patient data.",
                "AwsSolutions-COG2",
            )
        for group in GROUPS:
            cognito.CfnUserPoolGroup(
                self,
                f"Group{group.capitalize()}",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=group,
                description=f"Cradle role {group}",
            )
        # Domain prefixes are global per region: the account number keeps two accounts' stages apart.
        self.domain = self.user_pool.add_domain(
            "HostedUi",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=f"{config.prefix}-{config.account}"),
        )
        # The Hosted UI sends the browser back to the site's root with ?code=…&state=… (web/js/auth.js).
        self.redirect_uri = f"{web_origin}/"
        self.client = self.user_pool.add_client(
            "WebClient",
            user_pool_client_name=f"{config.prefix}-web",
            generate_secret=False,
            # SRP for SDKs; USER_PASSWORD_AUTH (over TLS) for the CLI and the web UI's own sign-in
            # form, which speak Cognito's JSON protocol without an SRP library (docs/web.md).
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
                callback_urls=[self.redirect_uri],
                logout_urls=[self.redirect_uri],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            id_token_validity=Duration.minutes(60),
            access_token_validity=Duration.minutes(60),
            refresh_token_validity=Duration.hours(12),
        )
        stack = Stack.of(self)
        self.issuer = f"https://cognito-idp.{stack.region}.amazonaws.com/{self.user_pool.user_pool_id}"
