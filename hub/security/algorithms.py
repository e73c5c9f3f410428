"""The algorithms behind field encryption and the blind index.

Two families are supported: the international AES-256-GCM with an HMAC-SHA-256 blind index, and
the Chinese commercial algorithms (GB/T 32907 SM4 in GCM mode, GB/T 32905 SM3 in an HMAC), both
from ``cryptography`` over OpenSSL. Each field key is bound to one algorithm for its whole life
(``HUB_FIELD_KEYS``); the blind index has one algorithm for the deployment.

Operators may supply any secret of 16 bytes or more: the cipher key is derived from it with a
hash of the same family (SHA-256 for AES, SM3 for SM4), labelled with the algorithm so the same
secret never yields the same key bytes for two algorithms.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
TAG_BYTES = 16


class FieldAlgorithm(StrEnum):
    AES_256_GCM = "aes-256-gcm"
    SM4_GCM = "sm4-gcm"


class BlindIndexAlgorithm(StrEnum):
    HMAC_SHA256 = "hmac-sha256"
    HMAC_SM3 = "hmac-sm3"


class Aead(Protocol):
    """``encrypt`` returns ciphertext + 16-byte tag; ``decrypt`` raises ``InvalidTag``."""

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


class SM4GCM:
    """SM4 in GCM mode with the AESGCM calling convention (``cryptography`` has no SM4 AEAD
    class, so this drives the streaming Cipher API and appends or checks the tag)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 16:
            raise ValueError("SM4 keys are 16 bytes")
        self._key = key

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        encryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        if associated_data:
            encryptor.authenticate_additional_data(associated_data)
        sealed = encryptor.update(data) + encryptor.finalize()
        return sealed + encryptor.tag

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        if len(data) < TAG_BYTES:
            raise InvalidTag
        body, tag = data[:-TAG_BYTES], data[-TAG_BYTES:]
        decryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce, tag)).decryptor()
        if associated_data:
            decryptor.authenticate_additional_data(associated_data)
        return decryptor.update(body) + decryptor.finalize()  # finalize checks the tag


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def derive_field_key(algorithm: FieldAlgorithm, secret: bytes) -> bytes:
    if algorithm is FieldAlgorithm.SM4_GCM:
        return sm3(b"hub-field-key|sm4-gcm|" + secret)[:16]
    # AES-256 needs exactly 32 bytes (unchanged since the first release: stored values depend on it)
    return hashlib.sha256(b"hub-field-key|" + secret).digest()


def make_aead(algorithm: FieldAlgorithm, key: bytes) -> Aead:
    return SM4GCM(key) if algorithm is FieldAlgorithm.SM4_GCM else AESGCM(key)


def derive_blind_key(algorithm: BlindIndexAlgorithm, secret: bytes) -> bytes:
    if algorithm is BlindIndexAlgorithm.HMAC_SM3:
        return sm3(b"hub-blind-index|" + secret)
    return hashlib.sha256(b"hub-blind-index|" + secret).digest()


def keyed_digest(algorithm: BlindIndexAlgorithm, key: bytes, message: bytes) -> str:
    """The hex HMAC of ``message`` (64 hex digits for both SHA-256 and SM3)."""
    if algorithm is BlindIndexAlgorithm.HMAC_SM3:
        mac = crypto_hmac.HMAC(key, hashes.SM3())
        mac.update(message)
        return mac.finalize().hex()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
