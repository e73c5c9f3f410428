"""The console's pure parts: the actor each staff role acts as, the languages, the safe
redirect after sign-in, Argon2id hashes, the refusal pages' messages."""

from __future__ import annotations

import pytest

from hub.auth.purpose import ALLOWED_PURPOSES, DEFAULT_PURPOSE
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.auth.scopes import parse_scopes
from hub.console.accounts import hash_password
from hub.console.errors import MESSAGE_BY_STATUS
from hub.console.i18n import pick_language, register_messages, translator
from hub.console.navigation import NAV, home_page
from hub.console.sign_in import _safe_next
from hub.console.staff import API_ROLE, TOTP_REQUIRED, StaffRole, actor_for


@pytest.mark.parametrize(
    ("staff_role", "api_role", "purpose"),
    [
        (StaffRole.practitioner, Role.practitioner, "TREAT"),
        (StaffRole.referral_desk, Role.practitioner, "TREAT"),
        (StaffRole.data_steward, Role.data_steward, None),
        (StaffRole.auditor, Role.insurance_auditor, "HPAYMT"),
        (StaffRole.operator, Role.operator, None),
    ],
)
def test_each_staff_role_acts_with_the_apis_role_scopes_and_purpose(
    staff_role: StaffRole, api_role: Role, purpose: str | None
) -> None:
    actor = actor_for("someone", "H001", staff_role, source_address="10.0.0.9")
    assert (actor.role, actor.purpose_of_use) == (api_role, purpose)
    assert actor.scope == DEFAULT_SCOPES[api_role]
    assert actor.scopes == parse_scopes(DEFAULT_SCOPES[api_role])
    assert (actor.client_id, actor.facility, actor.source_address) == (
        "console:someone", "H001", "10.0.0.9"
    )  # fmt: skip


def test_the_data_steward_role_reads_patients_only() -> None:
    assert DEFAULT_SCOPES[Role.data_steward] == "system/Patient.rs"
    assert ALLOWED_PURPOSES[Role.data_steward] == frozenset()
    assert DEFAULT_PURPOSE[Role.data_steward] is None


def test_auditors_and_operators_need_a_second_factor() -> None:
    assert frozenset({StaffRole.auditor, StaffRole.operator}) == TOTP_REQUIRED
    assert set(API_ROLE) == set(StaffRole) == set(NAV)
    assert home_page(StaffRole.practitioner) == "/console/doctor/referrals"


@pytest.mark.parametrize(
    ("asked", "accept", "chosen"),
    [
        ("en", None, "en"),
        ("zh-CN", "en-US,en;q=0.9", "zh-CN"),
        (None, "en-GB,en;q=0.9", "en"),
        (None, "zh-TW,en;q=0.5", "zh-CN"),
        ("fr", "fr-FR", "zh-CN"),
        (None, None, "zh-CN"),
    ],
)
def test_the_language_is_the_one_asked_else_the_browsers_else_chinese(
    asked: str | None, accept: str | None, chosen: str
) -> None:
    assert pick_language(asked, accept) == chosen


def test_messages_translate_and_a_key_cannot_change_its_words() -> None:
    register_messages({"test.hello": ("你好，{name}", "Hello, {name}")})
    assert translator("zh-CN")("test.hello", name="王") == "你好，王"
    assert translator("en")("test.hello", name="Wang") == "Hello, Wang"
    assert translator("en")("test.unknown") == "test.unknown"
    register_messages({"test.hello": ("你好，{name}", "Hello, {name}")})  # the same words again
    with pytest.raises(ValueError, match="registered twice"):
        register_messages({"test.hello": ("您好", "Hi")})


def test_every_refusal_status_has_words_in_both_languages() -> None:
    for key in {*MESSAGE_BY_STATUS.values(), "error.failed", "error.csrf"}:
        assert translator("zh-CN")(key) != key
        assert translator("en")(key) != key


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("/console/doctor/referrals", True),
        ("/console//evil.example", False),
        ("//evil.example/console/", False),
        ("https://evil.example/console/x", False),
        ("/console/\\evil", False),
        ("/fhir/Patient", False),
    ],
)
def test_after_sign_in_only_a_console_page_is_gone_back_to(target: str, kept: bool) -> None:
    assert (_safe_next(target) == target) is kept


def test_passwords_are_hashed_with_argon2id_and_salted() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("$argon2id$") and first != second
