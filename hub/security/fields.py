"""Protected identifiers at rest: AEAD field encryption and a keyed HMAC blind index.

Resident ID numbers and phone numbers are sensitive personal information (PIPL). In stored
resource JSON their ``value`` becomes ``enc:{key_id}:{base64url(nonce|ciphertext|tag)}``; blobs
(raw HL7 messages, outbound payloads) become ``{key_id}:`` + nonce + ciphertext + tag. The key id
travels with the value so keys can rotate while old values stay readable; each key id is bound to
one algorithm in ``HUB_FIELD_KEYS`` (AES-256-GCM or SM4-GCM, see ``hub.security.algorithms``),
which is how a value is opened: the envelope is the same for both. The search index holds
``bi:{hmac}`` (HMAC-SHA-256 or HMAC-SM3) instead of the number, so exact search still works
without the plaintext.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.security.algorithms import (
    NONCE_BYTES,
    Aead,
    BlindIndexAlgorithm,
    FieldAlgorithm,
    derive_blind_key,
    derive_field_key,
    keyed_digest,
    make_aead,
)
from hub.settings import Settings, get_settings

ENC_PREFIX = "enc:"
BLIND_PREFIX = "bi:"
PROTECTED_IDENTIFIER_SYSTEMS = frozenset({RESIDENT_ID_SYSTEM})
PROTECTED_TELECOM_SYSTEMS = frozenset({"phone", "sms"})
_NON_DIGITS = re.compile(r"\D")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FieldKeyError(ValueError):
    pass


_AEADS: dict[tuple[FieldAlgorithm, bytes], Aead] = {}  # safe to share between cipher objects


def parse_field_keys(text: str) -> dict[str, tuple[FieldAlgorithm, bytes]]:
    """``HUB_FIELD_KEYS``: ``{"id": "secret"}`` (AES-256-GCM, the original form) or
    ``{"id": {"key": "secret", "algorithm": "sm4-gcm"}}``; secrets are base64url."""
    try:
        raw = json.loads(text)
        keys: dict[str, tuple[FieldAlgorithm, bytes]] = {}
        for kid, spec in raw.items():
            if isinstance(spec, str):
                keys[kid] = (FieldAlgorithm.AES_256_GCM, _b64decode(spec))
            else:
                algorithm = FieldAlgorithm(spec.get("algorithm", FieldAlgorithm.AES_256_GCM))
                keys[kid] = (algorithm, _b64decode(spec["key"]))
    except (ValueError, AttributeError, KeyError, TypeError) as exc:
        raise FieldKeyError(
            "HUB_FIELD_KEYS must be a JSON object of base64url keys or "
            '{"key": ..., "algorithm": "aes-256-gcm|sm4-gcm"} objects'
        ) from exc
    for kid, (_, key) in keys.items():
        if len(key) < 16 or ":" in kid or not kid:
            raise FieldKeyError(f"field key {kid!r} is too short or has ':' in its id")
    return keys


@dataclass(frozen=True)
class FieldCipher:
    keys: dict[str, bytes]  # derived cipher keys by key id
    active_key_id: str
    blind_key: bytes
    algorithms: Mapping[str, FieldAlgorithm] = field(default_factory=dict)  # absent: AES-256-GCM
    blind_algorithm: BlindIndexAlgorithm = BlindIndexAlgorithm.HMAC_SHA256

    @classmethod
    def from_settings(cls, settings: Settings) -> FieldCipher:
        keys = parse_field_keys(settings.field_keys)
        if settings.field_key_id not in keys:
            raise FieldKeyError("HUB_FIELD_KEY_ID names no key in HUB_FIELD_KEYS")
        try:
            blind_algorithm = BlindIndexAlgorithm(settings.blind_index_algorithm)
        except ValueError as exc:
            raise FieldKeyError(
                "HUB_BLIND_INDEX_ALGORITHM must be hmac-sha256 or hmac-sm3"
            ) from exc
        derived = {kid: derive_field_key(alg, key) for kid, (alg, key) in keys.items()}
        algorithms = {kid: alg for kid, (alg, _) in keys.items()}
        blind = derive_blind_key(blind_algorithm, settings.blind_index_key.encode())
        return cls(derived, settings.field_key_id, blind, algorithms, blind_algorithm)

    def algorithm_of(self, key_id: str) -> FieldAlgorithm:
        return self.algorithms.get(key_id, FieldAlgorithm.AES_256_GCM)

    def _aead(self, key_id: str) -> Aead:
        """One AEAD object per key, built once (its key schedule costs more than a seal)."""
        key = self.keys.get(key_id)
        if key is None:
            raise FieldKeyError(f"no field key {key_id!r} configured to decrypt a stored value")
        algorithm = self.algorithm_of(key_id)
        aead = _AEADS.get((algorithm, key))
        if aead is None:
            aead = _AEADS[(algorithm, key)] = make_aead(algorithm, key)
        return aead

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        key_id = self.active_key_id
        sealed = self._aead(key_id).encrypt(nonce, plaintext.encode(), key_id.encode())
        return f"{ENC_PREFIX}{key_id}:{_b64encode(nonce + sealed)}"

    def decrypt(self, token: str) -> str:
        if not token.startswith(ENC_PREFIX):
            return token
        key_id, _, payload = token[len(ENC_PREFIX) :].partition(":")
        data = _b64decode(payload)
        aead = self._aead(key_id)
        return aead.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id.encode()).decode()

    def seal_bytes(self, data: bytes) -> bytes:
        """Encrypt a blob (raw messages): ``{key_id}:`` + nonce + ciphertext."""
        nonce = os.urandom(NONCE_BYTES)
        key_id = self.active_key_id
        sealed = self._aead(key_id).encrypt(nonce, data, key_id.encode())
        return key_id.encode() + b":" + nonce + sealed

    def open_bytes(self, blob: bytes) -> bytes:
        key_id_bytes, _, payload = blob.partition(b":")
        aead = self._aead(key_id_bytes.decode())
        return aead.decrypt(payload[:NONCE_BYTES], payload[NONCE_BYTES:], key_id_bytes)

    def reseal(self, token: str) -> str:
        """``token`` under the active key (unchanged when it already is, or is not sealed)."""
        if key_id_of(token) in (None, self.active_key_id):
            return token
        return self.encrypt(self.decrypt(token))

    def reseal_bytes(self, blob: bytes) -> bytes:
        if key_id_of_bytes(blob) == self.active_key_id:
            return blob
        return self.seal_bytes(self.open_bytes(blob))

    def blind_index(self, kind: str, value: str) -> str:
        digest = keyed_digest(self.blind_algorithm, self.blind_key, f"{kind}|{value}".encode())
        return BLIND_PREFIX + digest[:40]


def key_id_of(token: str) -> str | None:
    """The key id of a sealed string value; None for a plain value."""
    if not token.startswith(ENC_PREFIX):
        return None
    return token[len(ENC_PREFIX) :].partition(":")[0]


def key_id_of_bytes(blob: bytes) -> str:
    return blob.partition(b":")[0].decode(errors="replace")


@lru_cache
def get_cipher() -> FieldCipher:
    return FieldCipher.from_settings(get_settings())


def normalise_phone(value: str) -> str:
    """The number as dialled inside China: digits only, without the country code.

    ``+86`` or ``0086`` is dropped; a landline then gets back the trunk prefix ``0`` of its
    area code (``+86 717 6222222`` -> ``07176222222``), a mobile number keeps its 11 digits.
    Numbers written without a country code (7-8 digit local numbers too) keep their digits.
    """
    digits = _NON_DIGITS.sub("", value)
    if digits.startswith("0086") and len(digits) >= 13:
        national = digits[4:]
    elif digits.startswith("86") and len(digits) >= 11:
        national = digits[2:]
    else:
        return digits
    return national if national.startswith(("0", "1")) else "0" + national


def normalise_identifier(value: str) -> str:
    return value.strip().upper()


def identifier_blind_index(cipher: FieldCipher, value: str) -> str:
    return cipher.blind_index("id", normalise_identifier(value))


def phone_blind_index(cipher: FieldCipher, value: str) -> str:
    return cipher.blind_index("phone", normalise_phone(value))


def _is_protected_identifier(item: Any) -> bool:
    return isinstance(item, dict) and item.get("system") in PROTECTED_IDENTIFIER_SYSTEMS


def _is_protected_telecom(item: Any) -> bool:
    return isinstance(item, dict) and item.get("system") in PROTECTED_TELECOM_SYSTEMS


def walk_protected(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The Identifier and ContactPoint elements holding protected values, at any depth."""
    found: list[dict[str, Any]] = []
    stack: list[Any] = [resource]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                items = value if isinstance(value, list) else [value]
                if key == "identifier":
                    found.extend(i for i in items if _is_protected_identifier(i))
                elif key == "telecom":
                    found.extend(i for i in items if _is_protected_telecom(i))
                stack.extend(v for v in items if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(node)
    return found


def seal_resource(resource: dict[str, Any], cipher: FieldCipher) -> dict[str, Any]:
    """A deep copy of the resource with protected values encrypted, for storage."""
    sealed: dict[str, Any] = orjson.loads(orjson.dumps(resource))
    for element in walk_protected(sealed):
        value = element.get("value")
        if isinstance(value, str) and not value.startswith(ENC_PREFIX):
            element["value"] = cipher.encrypt(value)
    return sealed


def unseal_resource(stored: dict[str, Any], cipher: FieldCipher) -> dict[str, Any]:
    """Decrypt protected values in place (the dict came fresh from the database)."""
    for element in walk_protected(stored):
        value = element.get("value")
        if isinstance(value, str) and value.startswith(ENC_PREFIX):
            element["value"] = cipher.decrypt(value)
    return stored


def contains_sealed_values(stored_json: str) -> bool:
    return '"enc:' in stored_json
