"""The audit chain's keys, none of them kept in the database.

- the HMAC key of the record hashes (``HUB_AUDIT_HMAC_KEY``): whoever holds it can write records
  that verify, so it lives with the hub processes only;
- the Ed25519 key signing checkpoints (``HUB_AUDIT_CHECKPOINT_KEY``), and the public keys that
  verify them (``HUB_AUDIT_CHECKPOINT_PUBLIC_KEYS``; by default the private key's public half).
  An auditor can verify checkpoints with the public keys alone.

Outside production an unset key is generated into ``HUB_VAR_DIR``, as the token signing key is
(:func:`hub.auth.service.load_signing_key`); production refuses to start without them
(:class:`hub.settings.Settings`). Each key is loaded once per process.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.settings import Settings, ed25519_key_bytes, get_settings

HMAC_KEY_FILE = "audit_hmac.key"
CHECKPOINT_KEY_FILE = "audit_checkpoint.key"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_hmac_key() -> str:
    return secrets.token_urlsafe(32)


def new_checkpoint_key() -> str:
    """A new Ed25519 private key: base64url of its 32 raw bytes."""
    return b64url(secrets.token_bytes(32))


def public_key_text(private: Ed25519PrivateKey) -> str:
    return b64url(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def key_id(public: Ed25519PublicKey) -> str:
    """A public key's id: the first 16 hex digits of the SHA-256 of its raw bytes."""
    return hashlib.sha256(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def _generated(path: Path, make: Callable[[], str]) -> str:
    """The key in ``path``, generated on first use; processes starting together agree on one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        draft.write_text(make())
        draft.chmod(0o600)
        try:
            os.link(draft, path)  # atomic: the first process's key wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def load_hmac_key(settings: Settings) -> bytes:
    text = settings.audit_hmac_key or _generated(settings.var_dir / HMAC_KEY_FILE, new_hmac_key)
    return text.encode()


def load_checkpoint_key(settings: Settings) -> Ed25519PrivateKey:
    text = settings.audit_checkpoint_key or _generated(
        settings.var_dir / CHECKPOINT_KEY_FILE, new_checkpoint_key
    )
    return Ed25519PrivateKey.from_private_bytes(ed25519_key_bytes(text))


def load_public_keys(settings: Settings) -> dict[str, Ed25519PublicKey]:
    """The keys trusted to have signed checkpoints, by key id."""
    texts = [t.strip() for t in settings.audit_checkpoint_public_keys.split(",") if t.strip()]
    if texts:
        keys = [Ed25519PublicKey.from_public_bytes(ed25519_key_bytes(t)) for t in texts]
    else:
        keys = [load_checkpoint_key(settings).public_key()]
    return {key_id(key): key for key in keys}


@lru_cache
def audit_hmac_key() -> bytes:
    return load_hmac_key(get_settings())


@lru_cache
def checkpoint_signing_key() -> Ed25519PrivateKey:
    return load_checkpoint_key(get_settings())


@lru_cache
def checkpoint_public_keys() -> dict[str, Ed25519PublicKey]:
    return load_public_keys(get_settings())
