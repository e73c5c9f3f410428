"""The stack's secrets and TLS certificate, generated into the run dir at the first ``up``.

Kept across restarts (the data is encrypted and the audit chain keyed with them) and never
written into the repository. A backup of the database is useless without ``secrets/hub.json``.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from hub.audit.keys import new_checkpoint_key, new_hmac_key, public_key_text
from hub.auth.signing_keys import generate_signing_key
from hub.settings import ed25519_key_bytes
from hub.stack.layout import Layout

CERT_DAYS = 365


def new_hub_secrets() -> dict[str, str]:
    """Every secret production refuses to default (hub/settings.py), freshly made."""
    field_key_id = datetime.now(UTC).strftime("%Y-%m")
    checkpoint = new_checkpoint_key()
    public = public_key_text(Ed25519PrivateKey.from_private_bytes(ed25519_key_bytes(checkpoint)))
    return {
        "HUB_SIGNING_KEY": json.dumps(generate_signing_key()),
        "HUB_FIELD_KEYS": json.dumps({field_key_id: secrets.token_urlsafe(32)}),
        "HUB_FIELD_KEY_ID": field_key_id,
        "HUB_BLIND_INDEX_KEY": secrets.token_urlsafe(32),
        "HUB_AUDIT_HMAC_KEY": new_hmac_key(),
        "HUB_AUDIT_CHECKPOINT_KEY": checkpoint,
        "HUB_AUDIT_CHECKPOINT_PUBLIC_KEYS": public,
        "HUB_METRICS_TOKEN": secrets.token_urlsafe(32),
    }


def ensure_secrets(layout: Layout) -> dict[str, str]:
    """The stack's secrets: read from the run dir, or made and written there (mode 0600)."""
    path = layout.secrets_file
    if path.exists():
        values = json.loads(path.read_text())
        assert isinstance(values, dict)
        return {str(k): str(v) for k, v in values.items()}
    values = new_hub_secrets()
    _write_private(path, json.dumps(values, indent=1))
    _write_private(layout.metrics_token_file, values["HUB_METRICS_TOKEN"])
    return values


def ensure_certificate(layout: Layout) -> None:
    """A self-signed certificate for 127.0.0.1 and localhost (clients pin it: tls/cert.pem)."""
    if layout.tls_cert.exists() and layout.tls_key.exists():
        return
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub-stack")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CERT_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_private(
        layout.tls_key,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    )
    layout.tls_cert.write_text(cert.public_bytes(serialization.Encoding.PEM).decode())


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
