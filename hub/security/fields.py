"""Protected identifiers at rest: AES-256-GCM field encryption and a keyed HMAC blind index.

Resident ID numbers and phone numbers are sensitive personal information (PIPL). In stored
resource JSON their ``value`` becomes ``enc:{key_id}:{base64url(nonce|ciphertext)}``; the key id
travels with the value so keys can rotate while old values stay readable. The search index holds
``bi:{hmac}`` instead of the number, so exact search still works without the plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.fhir.systems import RESIDENT_ID_SYSTEM
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


_AEADS: dict[bytes, AESGCM] = {}  # by key bytes: safe to share between cipher objects


@dataclass(frozen=True)
class FieldCipher:
    keys: dict[str, bytes]
    active_key_id: str
    blind_key: bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> FieldCipher:
        try:
            raw = json.loads(settings.field_keys)
            keys = {kid: _b64decode(value) for kid, value in raw.items()}
        except (ValueError, AttributeError) as exc:
            raise FieldKeyError("HUB_FIELD_KEYS must be a JSON object of base64url keys") from exc
        for kid, key in keys.items():
            if len(key) < 16 or ":" in kid:
                raise FieldKeyError(f"field key {kid!r} is too short or has ':' in its id")
        if settings.field_key_id not in keys:
            raise FieldKeyError("HUB_FIELD_KEY_ID names no key in HUB_FIELD_KEYS")
        # AES-256 needs exactly 32 bytes: derive them so operators may supply any long secret.
        derived = {
            kid: hashlib.sha256(b"hub-field-key|" + key).digest() for kid, key in keys.items()
        }
        blind = hashlib.sha256(b"hub-blind-index|" + settings.blind_index_key.encode()).digest()
        return cls(derived, settings.field_key_id, blind)

    def _aead(self, key_id: str) -> AESGCM:
        """One AESGCM object per key, built once (its key schedule costs more than a seal)."""
        key = self.keys.get(key_id)
        if key is None:
            raise FieldKeyError(f"no field key {key_id!r} configured to decrypt a stored value")
        aead = _AEADS.get(key)
        if aead is None:
            aead = _AEADS[key] = AESGCM(key)
        return aead

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        key_id = self.active_key_id
        sealed = self._aead(key_id).encrypt(nonce, plaintext.encode(), key_id.encode())
        return f"{ENC_PREFIX}{key_id}:{_b64encode(nonce + sealed)}"

    def decrypt(self, token: str) -> str:
        if not token.startswith(ENC_PREFIX):
            return token
        key_id, _, payload = token[len(ENC_PREFIX) :].partition(":")
        data = _b64decode(payload)
        return self._aead(key_id).decrypt(data[:12], data[12:], key_id.encode()).decode()

    def seal_bytes(self, data: bytes) -> bytes:
        """Encrypt a blob (raw messages): ``{key_id}:`` + nonce + ciphertext."""
        nonce = os.urandom(12)
        key_id = self.active_key_id
        sealed = self._aead(key_id).encrypt(nonce, data, key_id.encode())
        return key_id.encode() + b":" + nonce + sealed

    def open_bytes(self, blob: bytes) -> bytes:
        key_id_bytes, _, payload = blob.partition(b":")
        return self._aead(key_id_bytes.decode()).decrypt(payload[:12], payload[12:], key_id_bytes)

    def blind_index(self, kind: str, value: str) -> str:
        digest = hmac.new(self.blind_key, f"{kind}|{value}".encode(), hashlib.sha256)
        return BLIND_PREFIX + digest.hexdigest()[:40]


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


def _walk_protected(resource: dict[str, Any]) -> list[dict[str, Any]]:
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
    for element in _walk_protected(sealed):
        value = element.get("value")
        if isinstance(value, str) and not value.startswith(ENC_PREFIX):
            element["value"] = cipher.encrypt(value)
    return sealed


def unseal_resource(stored: dict[str, Any], cipher: FieldCipher) -> dict[str, Any]:
    """Decrypt protected values in place (the dict came fresh from the database)."""
    for element in _walk_protected(stored):
        value = element.get("value")
        if isinstance(value, str) and value.startswith(ENC_PREFIX):
            element["value"] = cipher.decrypt(value)
    return stored


def contains_sealed_values(stored_json: str) -> bool:
    return '"enc:' in stored_json
