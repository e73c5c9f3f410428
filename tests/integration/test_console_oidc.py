"""Staff sign-in through a region's OpenID Connect provider (a small one run by the test):
the claims map the person to a facility and a console role; a forged state, a token signed by
another key, a role the console does not know, an auditor without a second factor and a
disabled account are refused and audited, and no session opens."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from hub.console.accounts import disable_user
from hub.console.models import StaffSessionRow
from hub.console.oidc import username_of
from hub.db import session_scope
from tests.integration.console_client import console_audit
from tests.integration.oidc_provider import Provider
from tests.live import LiveHub

pytestmark = pytest.mark.integration


def _browser(hub: LiveHub) -> httpx.Client:
    return httpx.Client(base_url=hub.base_url, timeout=30, follow_redirects=True)


def _sign_in(client: httpx.Client, oidc_provider: Provider, **claims: object) -> str:
    """Through the provider and back; the page it ended on."""
    oidc_provider.claims = dict(claims)
    login = client.get("/console/login")
    assert "/console/login/oidc" in login.text
    return client.get("/console/login/oidc").text


def _sessions(username: str) -> int:
    with session_scope() as session:
        rows = session.scalars(select(StaffSessionRow).where(StaffSessionRow.username == username))
        return len(list(rows))


def test_a_doctor_signs_in_with_the_regions_identity_provider(
    oidc_hub: LiveHub, oidc_provider: Provider
) -> None:
    claims = {"sub": "doctor-7", "name": "周医生", "facility": "H001", "hub_role": "practitioner"}
    with _browser(oidc_hub) as client:
        page = _sign_in(client, oidc_provider, **claims)
        assert "登录成功" in page and "/console/doctor/referrals" in page
        worklist = client.get("/console/doctor/referrals")
        assert worklist.status_code == 200 and "周医生" in worklist.text
        account = client.get("/console/account").text
        assert "H001" in account and "医生" in account
    username = username_of(oidc_provider.issuer, "doctor-7")
    assert _sessions(username) == 1
    assert console_audit(username)[0] == ("console-login", "0", "signed in (OIDC)")
    with session_scope() as session:
        disable_user(session, username)  # hub users disable works for these accounts too
    with _browser(oidc_hub) as client:
        page = _sign_in(client, oidc_provider, **claims)
        assert "该账户已停用" in page
    assert console_audit(username)[-1][2] == "OIDC sign-in refused: disabled"


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"sub": "p-1", "facility": "H001", "hub_role": "surgeon"}, "no console role"),
        ({"sub": "p-2", "hub_role": "practitioner"}, "no facility"),
        ({"sub": "p-3", "facility": "HUB", "hub_role": "operator"}, "second factor"),
        (
            {"sub": "p-4", "facility": "HUB", "hub_role": "operator", "amr": ["pwd"]},
            "second factor",
        ),
    ],
)
def test_claims_that_name_no_facility_role_or_second_factor_are_refused(
    oidc_hub: LiveHub, oidc_provider: Provider, claims: dict[str, object], why: str
) -> None:
    with _browser(oidc_hub) as client:
        page = _sign_in(client, oidc_provider, **claims)
        assert "统一身份认证登录未成功" in page
        assert client.get("/console/doctor/referrals").url.path == "/console/login"
    assert _sessions(username_of(oidc_provider.issuer, str(claims["sub"]))) == 0
    assert why in console_audit("oidc")[-1][2]


def test_an_operator_with_a_second_factor_signs_in(
    oidc_hub: LiveHub, oidc_provider: Provider
) -> None:
    claims = {"sub": "op-1", "facility": "HUB", "hub_role": "operator", "amr": ["pwd", "otp"]}
    with _browser(oidc_hub) as client:
        page = _sign_in(client, oidc_provider, **claims)
        assert "登录成功" in page
    assert _sessions(username_of(oidc_provider.issuer, "op-1")) == 1


def test_a_token_signed_by_another_key_or_a_forged_state_is_refused(
    oidc_hub: LiveHub, oidc_provider: Provider
) -> None:
    oidc_provider.tamper = True
    try:
        with _browser(oidc_hub) as client:
            page = _sign_in(
                client, oidc_provider, sub="t-1", facility="H001", hub_role="practitioner"
            )
    finally:
        oidc_provider.tamper = False
    assert "统一身份认证登录未成功" in page
    assert "signature" in console_audit("oidc")[-1][2]
    with httpx.Client(base_url=oidc_hub.base_url, timeout=30) as client:
        forged = client.get("/console/login/oidc/callback", params={"code": "x", "state": "y"})
        assert forged.status_code == 401
    assert "state" in console_audit("oidc")[-1][2]
    assert _sessions(username_of(oidc_provider.issuer, "t-1")) == 0


def test_without_a_provider_configured_there_is_no_oidc_sign_in(live_hub: LiveHub) -> None:
    with httpx.Client(base_url=live_hub.base_url, timeout=30) as client:
        assert "/console/login/oidc" not in client.get("/console/login").text
        assert client.get("/console/login/oidc").status_code == 404
