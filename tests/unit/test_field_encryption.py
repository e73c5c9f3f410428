"""Field encryption (AES-GCM with the key id carried), blind indexes, and the production guard."""

from __future__ import annotations

import copy
import json
import secrets
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from pydantic import ValidationError

from hub.audit.keys import new_checkpoint_key
from hub.auth.signing_keys import generate_signing_key
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.security.fields import (
    FieldCipher,
    FieldKeyError,
    contains_sealed_values,
    identifier_blind_index,
    normalise_phone,
    phone_blind_index,
    seal_resource,
    unseal_resource,
)
from hub.settings import DEMO_BLIND_INDEX_KEY, DEMO_FIELD_KEY, Environment, Settings

RESIDENT_ID = "42050219850601123X"
PHONE = "13800000000"
K1, K2 = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
BLIND = secrets.token_urlsafe(32)


def cipher(keys: dict[str, Any], active: str, blind: str = BLIND) -> FieldCipher:
    settings = Settings(
        environment=Environment.TEST,
        field_keys=json.dumps(keys),
        field_key_id=active,
        blind_index_key=blind,
    )
    return FieldCipher.from_settings(settings)


@pytest.fixture
def k1() -> FieldCipher:
    return cipher({"k1": K1}, "k1")


def test_roundtrip(k1: FieldCipher) -> None:
    sealed = k1.encrypt(RESIDENT_ID)
    assert sealed.startswith("enc:k1:")
    assert RESIDENT_ID not in sealed
    assert k1.decrypt(sealed) == RESIDENT_ID
    assert k1.encrypt(RESIDENT_ID) != sealed  # a fresh nonce every time
    assert k1.decrypt("not sealed") == "not sealed"
    assert k1.decrypt(k1.encrypt("张伟 ✓")) == "张伟 ✓"


def test_values_sealed_under_an_old_key_stay_readable(k1: FieldCipher) -> None:
    old = k1.encrypt(PHONE)
    rotated = cipher({"k1": K1, "k2": K2}, "k2")
    assert rotated.decrypt(old) == PHONE
    new = rotated.encrypt(PHONE)
    assert new.startswith("enc:k2:")
    assert rotated.decrypt(new) == PHONE
    with pytest.raises(FieldKeyError):
        cipher({"k2": K2}, "k2").decrypt(old)
    with pytest.raises(FieldKeyError):
        k1.decrypt(new)


def test_tampered_ciphertext_is_refused(k1: FieldCipher) -> None:
    sealed = k1.encrypt(RESIDENT_ID)
    prefix, payload = sealed[: len("enc:k1:")], sealed[len("enc:k1:") :]
    flipped = payload[:20] + ("A" if payload[20] != "A" else "B") + payload[21:]
    with pytest.raises(InvalidTag):
        k1.decrypt(prefix + flipped)
    # The key id is authenticated too: relabelling a value under another key fails.
    both = cipher({"k1": K1, "k2": K1}, "k1")
    with pytest.raises(InvalidTag):
        both.decrypt("enc:k2:" + payload)


def test_blind_index_is_deterministic_and_keyed(k1: FieldCipher) -> None:
    first = identifier_blind_index(k1, RESIDENT_ID)
    assert first.startswith("bi:")
    assert RESIDENT_ID not in first
    assert identifier_blind_index(k1, RESIDENT_ID) == first
    assert identifier_blind_index(cipher({"k9": K2}, "k9"), RESIDENT_ID) == first  # blind key only
    assert identifier_blind_index(k1, RESIDENT_ID.lower()) == first
    assert identifier_blind_index(k1, "420502198506011234") != first
    other_blind = cipher({"k1": K1}, "k1", blind=secrets.token_urlsafe(32))
    assert identifier_blind_index(other_blind, RESIDENT_ID) != first
    assert phone_blind_index(k1, RESIDENT_ID) != first  # kinds are separated


@pytest.mark.parametrize(
    "written",
    ["+86 138-0000-0000", "13800000000", "138 0000 0000", "+8613800000000", "0086 138 0000 0000"],
)
def test_phone_normalisation(k1: FieldCipher, written: str) -> None:
    assert normalise_phone(written) == PHONE
    assert phone_blind_index(k1, written) == phone_blind_index(k1, PHONE)


@pytest.mark.parametrize(
    "written", ["0717-6222222", "(0717) 622 2222", "+86 717 6222222", "+86 (0)717 6222222"]
)
def test_landline_normalisation(written: str) -> None:
    assert normalise_phone(written) == "07176222222"


def test_local_numbers_keep_their_digits() -> None:
    assert normalise_phone("8612 3456") == "86123456"
    assert normalise_phone("6222222") == "6222222"


def _patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": RESIDENT_ID_SYSTEM, "value": RESIDENT_ID},
            {"system": "urn:test:mrn", "value": "MRN-1"},
        ],
        "telecom": [
            {"system": "phone", "value": PHONE},
            {"system": "email", "value": "a@example.org"},
        ],
        "contact": [{"telecom": [{"system": "sms", "value": "13900000000"}]}],
        "link": [
            {
                "other": {"identifier": {"system": RESIDENT_ID_SYSTEM, "value": RESIDENT_ID}},
                "type": "seealso",
            }
        ],
    }


def test_seal_resource_encrypts_protected_values_only(k1: FieldCipher) -> None:
    original = _patient()
    before = copy.deepcopy(original)
    sealed = seal_resource(original, k1)
    assert original == before
    text = json.dumps(sealed)
    assert RESIDENT_ID not in text
    assert PHONE not in text
    assert "13900000000" not in text
    assert contains_sealed_values(text)
    assert sealed["identifier"][1]["value"] == "MRN-1"
    assert sealed["telecom"][1]["value"] == "a@example.org"
    assert seal_resource(sealed, k1) == sealed  # sealing twice changes nothing
    assert unseal_resource(sealed, k1) == before


def _production(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": Environment.PRODUCTION,
        "database_url": "postgresql+psycopg://hub@db.example/hub",
        "signing_key": json.dumps(generate_signing_key("ES256")),
        "field_keys": json.dumps({"2030-01": K1}),
        "field_key_id": "2030-01",
        "blind_index_key": BLIND,
        "audit_hmac_key": "an audit HMAC key of at least 32 characters",
        "audit_checkpoint_key": new_checkpoint_key(),
    }
    return Settings(**(values | overrides))


def test_production_accepts_real_keys() -> None:
    settings = _production()
    assert settings.environment is Environment.PRODUCTION
    assert FieldCipher.from_settings(settings).active_key_id == "2030-01"


@pytest.mark.parametrize(
    "overrides",
    [
        {"field_keys": json.dumps({"demo": DEMO_FIELD_KEY}), "field_key_id": "demo"},
        {"field_keys": json.dumps({"2030-01": DEMO_FIELD_KEY})},
        {"blind_index_key": DEMO_BLIND_INDEX_KEY},
        {"signing_key": ""},
        {"database_url": ""},
        {"database_url": "sqlite:///hub.db"},
    ],
)
def test_production_refuses_demo_secrets(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="refusing to start in production"):
        _production(**overrides)


def test_unusable_key_configuration_is_refused() -> None:
    with pytest.raises(FieldKeyError):
        cipher({"k1": K1}, "k2")
    with pytest.raises(FieldKeyError):
        cipher({"k1": "c2hvcnQ"}, "k1")
    with pytest.raises(FieldKeyError):
        cipher({"a:b": K1}, "a:b")


# --- algorithms: SM4-GCM fields and an HMAC-SM3 blind index -------------------------------


def sm4(key: str = K2, key_id: str = "s1") -> dict[str, Any]:
    return {key_id: {"key": key, "algorithm": "sm4-gcm"}}


def test_sm4_gcm_roundtrip() -> None:
    s1 = cipher(sm4(), "s1")
    sealed = s1.encrypt(RESIDENT_ID)
    assert sealed.startswith("enc:s1:") and RESIDENT_ID not in sealed
    assert s1.decrypt(sealed) == RESIDENT_ID
    assert s1.encrypt(RESIDENT_ID) != sealed  # fresh nonce each time
    blob = s1.seal_bytes(b"MSH|^~\\&|")
    assert blob.startswith(b"s1:") and s1.open_bytes(blob) == b"MSH|^~\\&|"


def test_sm4_gcm_is_standard_sm4_in_gcm_mode() -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from hub.security.algorithms import SM4GCM

    key, nonce = bytes(range(16)), bytes(12)
    sealed = SM4GCM(key).encrypt(nonce, b"hello", b"aad")
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, sealed[-16:])).decryptor()
    decryptor.authenticate_additional_data(b"aad")
    assert decryptor.update(sealed[:-16]) + decryptor.finalize() == b"hello"


def test_sm4_gcm_tampering_is_refused() -> None:
    s1 = cipher(sm4(), "s1")
    sealed = s1.encrypt(RESIDENT_ID)
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(InvalidTag):
        s1.decrypt(flipped)
    blob = bytearray(s1.seal_bytes(b"payload"))
    blob[-1] ^= 1
    with pytest.raises(InvalidTag):
        s1.open_bytes(bytes(blob))
    with pytest.raises(InvalidTag):  # the key id is authenticated: no relabelling
        cipher(sm4() | sm4(key_id="s2"), "s1").decrypt(sealed.replace("enc:s1:", "enc:s2:"))
    with pytest.raises(InvalidTag):  # the same secret as an AES key opens nothing
        cipher({"s1": K2}, "s1").decrypt(sealed)


def test_mixed_keys_and_algorithms_stay_readable() -> None:
    aes_value = cipher({"k1": K1}, "k1").encrypt(RESIDENT_ID)
    aes_blob = cipher({"k1": K1}, "k1").seal_bytes(b"raw")
    both = cipher({"k1": K1} | sm4(), "s1")
    sm4_value = both.encrypt(PHONE)
    assert both.decrypt(aes_value) == RESIDENT_ID and both.decrypt(sm4_value) == PHONE
    assert both.open_bytes(aes_blob) == b"raw"
    resealed = both.reseal(aes_value)
    assert resealed.startswith("enc:s1:") and both.decrypt(resealed) == RESIDENT_ID
    assert both.reseal(resealed) == resealed and both.reseal("plain") == "plain"
    assert both.reseal_bytes(aes_blob).startswith(b"s1:")
    back = cipher({"k1": K1} | sm4(), "k1")  # and back again, after switching the active key
    assert back.decrypt(sm4_value) == PHONE and back.reseal(sm4_value).startswith("enc:k1:")


def test_sm3_blind_index_is_deterministic_keyed_and_not_sha256() -> None:
    def blind(algorithm: str, key: str = BLIND) -> FieldCipher:
        settings = Settings(
            environment=Environment.TEST, field_keys=json.dumps({"k1": K1}), field_key_id="k1",
            blind_index_key=key, blind_index_algorithm=algorithm,
        )  # fmt: skip
        return FieldCipher.from_settings(settings)

    sm3, sha = blind("hmac-sm3"), blind("hmac-sha256")
    value = identifier_blind_index(sm3, RESIDENT_ID)
    assert value == identifier_blind_index(blind("hmac-sm3"), RESIDENT_ID.lower())
    assert value.startswith("bi:") and len(value) == len(identifier_blind_index(sha, RESIDENT_ID))
    assert value != identifier_blind_index(sha, RESIDENT_ID)
    assert value != identifier_blind_index(blind("hmac-sm3", K2), RESIDENT_ID)
    assert phone_blind_index(sm3, PHONE) == phone_blind_index(sm3, "+86 138 0000 0000")
    # the default is unchanged: HMAC-SHA-256, so existing indexes stay valid
    assert identifier_blind_index(sha, RESIDENT_ID) == identifier_blind_index(
        cipher({"k1": K1}, "k1"), RESIDENT_ID
    )
    with pytest.raises(FieldKeyError):
        blind("hmac-md5")


def test_key_specifications_are_checked() -> None:
    with pytest.raises(FieldKeyError):
        cipher({"s1": {"key": K1, "algorithm": "des"}}, "s1")
    with pytest.raises(FieldKeyError):
        cipher({"s1": {"algorithm": "sm4-gcm"}}, "s1")
    explicit = cipher({"k1": {"key": K1, "algorithm": "aes-256-gcm"}}, "k1")
    assert explicit.decrypt(cipher({"k1": K1}, "k1").encrypt(PHONE)) == PHONE
