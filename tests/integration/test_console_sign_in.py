"""The console's sign-in, sessions and CSRF over HTTP against the live hub: wrong password,
lockout, the second factor, an expired session, a missing CSRF token, a disabled account, the
cookie's flags; each refusal a clear message, audited, nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fastapi import Response
from sqlalchemy import select, update

from hub.console import sign_in
from hub.console.accounts import disable_user
from hub.console.models import StaffSessionRow
from hub.console.staff import StaffRole
from hub.db import session_scope
from hub.settings import Environment, get_settings
from tests.browser.staff import new_staff
from tests.integration.console_client import (
    browser_like,
    console_audit,
    csrf_of,
    post_sign_in,
    signed_in,
)
from tests.live import LiveHub

pytestmark = pytest.mark.integration
WORKLIST = "/console/doctor/referrals"


def _sessions(username: str) -> int:
    with session_scope() as session:
        rows = session.scalars(select(StaffSessionRow).where(StaffSessionRow.username == username))
        return len(list(rows))


def test_a_sign_in_opens_a_session_with_a_strict_httponly_cookie(live_hub: LiveHub) -> None:
    doctor = new_staff(StaffRole.practitioner)
    with browser_like(live_hub) as client:
        response = post_sign_in(client, doctor)
        assert (response.status_code, response.headers["location"]) == (303, WORKLIST)
        cookie = next(c for c in response.headers.get_list("set-cookie") if "hub_console=" in c)
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/console"} <= flags
        assert "secure" not in flags  # not production
        assert client.get(WORKLIST).status_code == 200
    assert _sessions(doctor.username) == 1
    assert console_audit(doctor.username)[0] == ("console-login", "0", "signed in")


def test_the_cookie_is_secure_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    production = SimpleNamespace(environment=Environment.PRODUCTION)
    monkeypatch.setattr(sign_in, "get_settings", lambda: production)
    response = Response()
    sign_in.set_cookie(response, "hub_console", "token")
    assert "secure" in response.headers["set-cookie"].lower()


def test_a_wrong_password_is_refused_and_repeated_failures_lock_the_account(
    live_hub: LiveHub,
) -> None:
    doctor = new_staff(StaffRole.practitioner)
    threshold = get_settings().console_lockout_threshold
    with browser_like(live_hub) as client:
        for _ in range(threshold):
            refused = post_sign_in(client, doctor, password="not-the-password")
            assert refused.status_code == 401
            assert "hub_console=" not in refused.headers.get("set-cookie", "")
        assert "用户名或密码错误" in refused.text  # the failure that locks it
        locked = post_sign_in(client, doctor)  # the right password, but locked
        assert locked.status_code == 401 and "账户已锁定" in locked.text
        assert client.get(WORKLIST).status_code == 303  # no session
    assert _sessions(doctor.username) == 0
    records = console_audit(doctor.username)
    assert [r[1] for r in records] == ["4"] * (threshold + 1)
    assert records[threshold - 1][2] == "sign-in refused: bad-credentials (locked)"
    assert records[threshold][2] == "sign-in refused: locked"


def test_an_unknown_name_gets_the_same_answer_as_a_wrong_password(live_hub: LiveHub) -> None:
    ghost = new_staff(StaffRole.practitioner)
    ghost = type(ghost)("nobody.here", ghost.password, "H001", ghost.role, None)
    with browser_like(live_hub) as client:
        refused = post_sign_in(client, ghost)
    assert refused.status_code == 401 and "用户名或密码错误" in refused.text
    assert console_audit("nobody.here")[-1][:2] == ("console-login", "4")


def test_an_auditor_needs_the_authenticator_code(live_hub: LiveHub) -> None:
    auditor = new_staff(StaffRole.auditor, "YB420500")
    assert auditor.totp_secret
    with browser_like(live_hub) as client:
        asked = post_sign_in(client, auditor, code="")
        assert asked.status_code == 200 and "请输入动态验证码" in asked.text
        wrong = post_sign_in(client, auditor, code="000000" if auditor.code() != "000000" else "1")
        assert wrong.status_code == 401 and "动态验证码错误" in wrong.text
        assert _sessions(auditor.username) == 0
        assert post_sign_in(client, auditor).status_code == 303
    assert _sessions(auditor.username) == 1
    texts = [r[2] for r in console_audit(auditor.username)]
    assert texts[:3] == [
        "sign-in refused: code-required", "sign-in refused: bad-code", "signed in"
    ]  # fmt: skip


def test_the_sign_in_form_without_its_csrf_token_is_refused(live_hub: LiveHub) -> None:
    doctor = new_staff(StaffRole.practitioner)
    with browser_like(live_hub) as client:
        client.get("/console/login")
        form = {"username": doctor.username, "password": doctor.password}
        refused = client.post("/console/login", data=form)
    assert refused.status_code == 403 and "表单已失效" in refused.text
    assert _sessions(doctor.username) == 0
    assert console_audit(doctor.username)[-1][:2] == ("console-refused", "4")


def test_an_idle_session_expires_and_the_browser_goes_to_sign_in(live_hub: LiveHub) -> None:
    doctor = new_staff(StaffRole.practitioner)
    idle = timedelta(minutes=get_settings().console_idle_timeout_minutes, seconds=1)
    with browser_like(live_hub) as client:
        signed_in(client, doctor)
        with session_scope() as session:
            session.execute(
                update(StaffSessionRow)
                .where(StaffSessionRow.username == doctor.username)
                .values(last_seen=datetime.now(UTC) - idle)
            )
        expired = client.get(WORKLIST)
        assert expired.status_code == 303
        assert expired.headers["location"].startswith("/console/login?reason=login.expired")
        page = client.get(expired.headers["location"])
        assert "会话已过期" in page.text
    assert _sessions(doctor.username) == 0
    expired_record = ("console-refused", "4", "401: console session expired")
    assert console_audit(doctor.username)[-1] == expired_record


def test_a_disabled_account_loses_its_session(live_hub: LiveHub) -> None:
    doctor = new_staff(StaffRole.practitioner)
    with browser_like(live_hub) as client:
        signed_in(client, doctor)
        with session_scope() as session:
            disable_user(session, doctor.username)
        assert client.get(WORKLIST).status_code == 303
        assert post_sign_in(client, doctor).status_code == 401
    assert _sessions(doctor.username) == 0


def test_sign_out_ends_the_session_and_needs_the_csrf_token(live_hub: LiveHub) -> None:
    doctor = new_staff(StaffRole.practitioner)
    with browser_like(live_hub) as client:
        token = signed_in(client, doctor)
        assert client.post("/console/logout", data={}).status_code == 403
        assert client.get(WORKLIST).status_code == 200  # still signed in
        out = client.post("/console/logout", data={"csrf_token": token})
        assert out.status_code == 303
        assert client.get(WORKLIST).status_code == 303
    assert _sessions(doctor.username) == 0
    events = [r[0] for r in console_audit(doctor.username) if r[0].startswith("console-")]
    assert events == ["console-login", "console-refused", "console-logout"]


def test_the_language_switch_keeps_the_page_and_speaks_english(live_hub: LiveHub) -> None:
    doctor = new_staff(StaffRole.practitioner)
    with browser_like(live_hub) as client:
        signed_in(client, doctor)
        switched = client.get(
            "/console/language?to=en", headers={"referer": f"{live_hub.base_url}{WORKLIST}"}
        )
        assert switched.headers["location"] == WORKLIST
        page = client.get(WORKLIST)
        assert "Referrals" in page.text and "Sign out" in page.text
        assert csrf_of(page)
