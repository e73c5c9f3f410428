"""TLS for MLLP: server and client contexts, and the identity a client certificate carries.

Facilities authenticate with client certificates; the listener hands the verified subject's CN
and O to the message handler so it can check that MSH-4 names the certificate's facility.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

StrPath = str | Path


@dataclass(frozen=True, slots=True)
class CertificateIdentity:
    """The subject of a verified peer certificate."""

    common_name: str | None
    organization: str | None


def server_context(
    *,
    cert_file: StrPath,
    key_file: StrPath,
    client_ca_file: StrPath | None = None,
    key_password: str | None = None,
) -> ssl.SSLContext:
    """A TLS 1.2+ server context; with ``client_ca_file``, clients must present a certificate
    signed by that CA (``CERT_REQUIRED``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file), password=key_password)
    if client_ca_file is not None:
        context.load_verify_locations(cafile=str(client_ca_file))
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(
    *,
    ca_file: StrPath | None = None,
    cert_file: StrPath | None = None,
    key_file: StrPath | None = None,
    key_password: str | None = None,
    check_hostname: bool = True,
) -> ssl.SSLContext:
    """A TLS 1.2+ client context that verifies the server (against ``ca_file``, else the system
    store) and, with ``cert_file``, presents a client certificate."""
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(ca_file) if ca_file is not None else None
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = check_hostname
    if cert_file is not None:
        context.load_cert_chain(
            str(cert_file), str(key_file) if key_file is not None else None, key_password
        )
    return context


def certificate_identity(peercert: Mapping[str, Any] | None) -> CertificateIdentity | None:
    """Read CN and O from ``SSLObject.getpeercert()``; None when no certificate was verified."""
    if not peercert:
        return None
    common_name: str | None = None
    organization: str | None = None
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName" and common_name is None:
                common_name = str(value)
            elif key == "organizationName" and organization is None:
                organization = str(value)
    return CertificateIdentity(common_name, organization)
