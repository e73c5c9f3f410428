"""``hub users add|list|disable`` as a user runs them, and ``hub demo``'s console accounts."""

from __future__ import annotations

import json
import os
import uuid

import pyotp
import pytest

from hub.console.accounts import AccountError, Refusal, add_user, check_sign_in, disable_user
from hub.console.models import StaffUserRow
from hub.console.staff import StaffRole
from hub.db import session_scope
from hub.demo.console_accounts import DEMO_ACCOUNTS, ensure_demo_accounts, sign_in_text
from tests.integration.hub_cli import run_hub

pytestmark = pytest.mark.integration


def test_users_add_list_and_disable(database: str) -> None:
    name = f"desk.{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, HUB_USER_PASSWORD="a-long-password-1", HUB_QUIET="1")
    added = run_hub("users", "add", name, "--facility", "H001", "--role", "referral-desk",
                    "--name", "王护士", env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    with session_scope() as session:  # refusals in-process: the CLI prints them (exit 2)
        with pytest.raises(AccountError, match="already exists"):
            add_user(session, username=name, password="x" * 12, facility="H001",
                     role=StaffRole.referral_desk)  # fmt: skip
        with pytest.raises(AccountError, match="at least 10 characters"):
            add_user(session, username=f"{name}x", password="short", facility="H001",
                     role=StaffRole.auditor)  # fmt: skip
        with pytest.raises(AccountError, match="no user"):
            disable_user(session, "nobody.at.all")
    listed = run_hub("users", "list", "--facility", "H001", "--format", "json", env=env)
    row = next(r for r in json.loads(listed.stdout) if r["username"] == name)
    assert (row["role"], row["state"], row["second_factor"]) == ("referral-desk", "active", "-")
    assert run_hub("users", "disable", name, env=env).returncode == 0
    with session_scope() as session:
        result = check_sign_in(session, name, "a-long-password-1", "")
    assert result.refusal is Refusal.DISABLED


def test_an_operator_gets_a_totp_secret_printed_for_the_authenticator(database: str) -> None:
    name = f"op.{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, HUB_USER_PASSWORD="a-long-password-2", HUB_QUIET="1")
    added = run_hub("users", "add", name, "--facility", "HUB", "--role", "operator", env=env)
    assert added.returncode == 0, added.stderr
    uri = next(line for line in added.stdout.splitlines() if "otpauth://" in line)
    secret = pyotp.parse_uri(uri[uri.index("otpauth://") :]).secret
    with session_scope() as session:
        assert check_sign_in(session, name, "a-long-password-2", "").refusal is (
            Refusal.CODE_REQUIRED
        )
        ok = check_sign_in(session, name, "a-long-password-2", pyotp.TOTP(secret).now())
    assert ok.refusal is None


def test_the_demo_makes_one_account_per_role_once(database: str) -> None:
    with session_scope() as session:
        first = ensure_demo_accounts(session)
    with session_scope() as session:
        second = ensure_demo_accounts(session)
        count = (
            session.query(StaffUserRow)
            .filter(StaffUserRow.username.in_([a.username for a in DEMO_ACCOUNTS]))
            .count()
        )
    assert count == len(DEMO_ACCOUNTS) == len(set(StaffRole))
    assert {each.account.role for each in first} == set(StaffRole)
    assert [s.totp_secret for s in first] == [s.totp_secret for s in second]
    text = sign_in_text("http://127.0.0.1:8000", second)
    for each in second:
        assert each.account.password in text
        with session_scope() as session:
            code = pyotp.TOTP(each.totp_secret).now() if each.totp_secret else ""
            result = check_sign_in(session, each.account.username, each.account.password, code)
        assert result.refusal is None, each.account.username
        assert (each.totp_secret is not None) == (each.account.role in ("auditor", "operator"))
