"""Signing in through Cognito's Hosted UI, as the cloud's config.json offers it.

The machine has no internet, so Playwright stands in for the Hosted UI's two endpoints: /authorize
checks what the page sent (client, callback URL, S256 challenge) and sends the browser back with a
code; /token checks that the verifier matches the challenge and answers with the local identity
provider's tokens for that person. What is under test is the page's side: PKCE, the state check,
the callback, signing out through /logout.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from cradle_workstation.devstack.identity_provider import CLIENT_ID
from cradlepose.domain.enums import Role
from tests.browser.browser import Watched
from tests.browser.stack import PASSWORD, WEB_ROOT, RunningStack

pytestmark = pytest.mark.browser

DOMAIN = "https://cradle-test-111111111111.auth.eu-central-1.amazoncognito.com"


@dataclass
class FakeHostedUi:
    """The Hosted UI's /oauth2/authorize, /oauth2/token and /logout, for one person."""

    stack: RunningStack
    username: str
    redirect_uri: str
    codes: dict[str, str] = field(default_factory=dict)  # code → code_challenge
    authorize_queries: list[dict[str, str]] = field(default_factory=list)
    token_forms: list[dict[str, str]] = field(default_factory=list)
    logout_queries: list[dict[str, str]] = field(default_factory=list)

    def install(self, page: Page) -> None:
        config = json.loads((WEB_ROOT / "config.json").read_text())
        config["hostedUi"] = {"domain": DOMAIN, "redirectUri": self.redirect_uri, "scopes": "openid email"}
        page.route("**/config.json", lambda route: route.fulfill(json=config))
        page.route(f"{DOMAIN}/oauth2/authorize?*", self._authorize)
        page.route(f"{DOMAIN}/oauth2/token", self._token)
        page.route(f"{DOMAIN}/logout?*", self._logout)

    def _authorize(self, route: Route) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(route.request.url).query).items()}
        self.authorize_queries.append(query)
        code = secrets.token_urlsafe(16)
        self.codes[code] = query["code_challenge"]
        back = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        route.fulfill(status=302, headers={"Location": back})

    def _token(self, route: Route) -> None:
        form = {k: v[0] for k, v in parse_qs(route.request.post_data or "").items()}
        self.token_forms.append(form)
        cors = {"Access-Control-Allow-Origin": self.stack.base_url}
        challenge = self.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge is None or digest != challenge or form.get("redirect_uri") != self.redirect_uri:
            route.fulfill(status=400, headers=cors, json={"error": "invalid_grant"})
            return
        tokens = self.stack.idp.handle(
            "InitiateAuth",
            {
                "ClientId": CLIENT_ID,
                "AuthFlow": "USER_PASSWORD_AUTH",
                "AuthParameters": {"USERNAME": self.username, "PASSWORD": PASSWORD},
            },
        )["AuthenticationResult"]
        route.fulfill(
            headers=cors,
            json={
                "id_token": tokens["IdToken"],
                "access_token": tokens["AccessToken"],
                "refresh_token": tokens["RefreshToken"],
                "expires_in": tokens["ExpiresIn"],
                "token_type": "Bearer",
            },
        )

    def _logout(self, route: Route) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(route.request.url).query).items()}
        self.logout_queries.append(query)
        route.fulfill(status=302, headers={"Location": query["logout_uri"]})


@pytest.fixture(scope="module")
def annotator(stack: RunningStack) -> str:
    admin = stack.admin("ada")
    stack.worker("hana", Role.ANNOTATOR, admin)
    return "hana"


@pytest.fixture
def hosted(stack: RunningStack, annotator: str) -> FakeHostedUi:
    return FakeHostedUi(stack, annotator, f"{stack.base_url}/")


def test_sign_in_and_out_through_the_hosted_ui(
    stack: RunningStack, hosted: FakeHostedUi, open_page: Callable[[], Watched]
) -> None:
    page = open_page().page
    hosted.install(page)
    page.goto("/")
    page.get_by_test_id("hosted-sign-in").click()

    expect(page.locator("#topbar .who-name")).to_have_text("hana")
    assert urlsplit(page.url).query == "", "the single-use code stays in the address bar"
    [query] = hosted.authorize_queries
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == hosted.redirect_uri
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert query["scope"] == "openid email"
    [form] = hosted.token_forms
    assert form["grant_type"] == "authorization_code"
    assert form["client_id"] == CLIENT_ID
    assert len(form["code_verifier"]) >= 43  # RFC 7636: 43 to 128 characters
    assert page.evaluate("sessionStorage.getItem('cradle.oauth')") is None

    # A reload keeps the session (it is this tab's), and knows it came from the Hosted UI.
    page.reload()
    expect(page.locator("#topbar .who-name")).to_have_text("hana")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_test_id("hosted-sign-in")).to_be_visible()
    assert hosted.logout_queries == [{"client_id": CLIENT_ID, "logout_uri": hosted.redirect_uri}]
    assert page.evaluate("sessionStorage.getItem('cradle.session')") is None


def test_a_callback_this_tab_did_not_start_is_refused(
    stack: RunningStack, hosted: FakeHostedUi, open_page: Callable[[], Watched]
) -> None:
    page = open_page().page
    hosted.install(page)
    page.goto("/?code=stolen&state=forged")

    expect(page.get_by_role("alert")).to_contain_text("did not start in this tab")
    expect(page.get_by_test_id("hosted-sign-in")).to_be_visible()
    assert hosted.token_forms == [], "a forged callback never reaches the token endpoint"
    assert urlsplit(page.url).query == ""
