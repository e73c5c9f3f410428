"""Who may send for a facility: the decision on each message's MSH-4, pure, no I/O.

MSH-4 is only a claim. The listener knows two things that are not: the client certificate TLS
verified (its CN and O) and the connection's source address. The hub believes MSH-4 when

- the connection presented a client certificate naming that facility (code or HL7 name), or
- the connection has no certificate and its source address is allow-listed for that facility
  (``HUB_MLLP_PLAINTEXT_SOURCES``), or
- nothing is configured to identify senders at all, which only development and test allow:
  any client can then claim any facility, and the listener says so when it starts.

:func:`sender_policy` turns the settings into a :class:`SenderPolicy` once, when the listener
starts, and refuses a configuration that would let anyone speak for a facility in production;
:func:`authenticate_sender` decides each message.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from hub.region.facilities import Facility
from hub.settings import Environment, Network, Settings

HOW_TO_AUTHENTICATE = (
    "set HUB_MLLP_TLS_CERT, HUB_MLLP_TLS_KEY and HUB_MLLP_TLS_CLIENT_CA (client certificates "
    'naming the facility), or HUB_MLLP_PLAINTEXT_SOURCES (JSON {"H001": ["10.1.2.0/24"]}: '
    "the source addresses each facility may send from)"
)
UNAUTHENTICATED_WARNING = (
    "the MLLP listener runs WITHOUT sender authentication: any client can claim any facility "
    f"in MSH-4; to authenticate senders, {HOW_TO_AUTHENTICATE}"
)


class SenderConfigError(ValueError):
    """The listener's settings cannot identify senders safely; it must not start."""


class Basis(StrEnum):
    """What a decision rested on."""

    CERTIFICATE = "certificate"
    SOURCE_ADDRESS = "source-address"
    NONE = "none"  # nothing identifies senders (development and test only)


@dataclass(frozen=True)
class SenderPolicy:
    """How this listener identifies senders. The default trusts MSH-4 (development, tests)."""

    certificates_required: bool = False  # TLS with a client CA: every connection has one
    # facility code -> the networks a connection without a certificate may send it from
    plaintext_sources: Mapping[str, tuple[Network, ...]] = field(default_factory=dict)
    allow_unauthenticated: bool = True

    @property
    def authenticates(self) -> bool:
        return self.certificates_required or bool(self.plaintext_sources)

    def describe(self) -> str:
        if self.certificates_required:
            unused = (
                "; HUB_MLLP_PLAINTEXT_SOURCES is not used: every connection presents a certificate"
                if self.plaintext_sources
                else ""
            )
            return (
                f"senders authenticated by client certificate (CN or O names the facility){unused}"
            )
        if self.plaintext_sources:
            count = len(self.plaintext_sources)
            return f"senders authenticated by source address ({count} facilities allow-listed)"
        return UNAUTHENTICATED_WARNING


@dataclass(frozen=True)
class SenderDecision:
    accepted: bool
    basis: Basis
    reason: str = ""  # why refused, for the ERR segment and the logs: no personal data


def authenticate_sender(
    *,
    peer_host: str,
    certificate_names: tuple[str, ...],
    facility: Facility,
    policy: SenderPolicy,
) -> SenderDecision:
    """May the connection from ``peer_host`` (with the verified certificate's CN and O, if any)
    send messages whose MSH-4 names ``facility``?"""
    if certificate_names:
        if facility.code in certificate_names or facility.hl7_sending_facility in certificate_names:
            return SenderDecision(True, Basis.CERTIFICATE)
        return SenderDecision(
            False,
            Basis.CERTIFICATE,
            "MSH-4 does not match the facility named by the client certificate",
        )
    if policy.certificates_required:
        return SenderDecision(
            False, Basis.CERTIFICATE, "the client certificate names no facility (CN or O)"
        )
    if policy.plaintext_sources:
        if _address_in(peer_host, policy.plaintext_sources.get(facility.code, ())):
            return SenderDecision(True, Basis.SOURCE_ADDRESS)
        return SenderDecision(
            False,
            Basis.SOURCE_ADDRESS,
            f"source address {peer_host[:64]} may not send for the facility named in MSH-4",
        )
    if policy.allow_unauthenticated:
        return SenderDecision(True, Basis.NONE)
    return SenderDecision(False, Basis.NONE, "this listener cannot identify senders")


def _address_in(host: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # an IPv4 client of a dual-stack listener
    return any(address in network for network in networks)


def sender_policy(settings: Settings, facilities: Mapping[str, Facility]) -> SenderPolicy:
    """The policy of a listener started with ``settings``; ``facilities`` by code and HL7 name.

    Raises :class:`SenderConfigError` naming every problem: a client CA without TLS, an
    allow-list naming no registered facility, or (production) no way to identify senders.
    """
    problems = []
    if settings.mllp_tls_client_ca is not None and settings.mllp_tls_cert is None:
        problems.append(
            "HUB_MLLP_TLS_CLIENT_CA is set without HUB_MLLP_TLS_CERT: TLS would be off and no "
            "client certificate checked"
        )
    sources: dict[str, tuple[Network, ...]] = {}
    for name, networks in settings.mllp_plaintext_sources.items():
        facility = facilities.get(name)
        if facility is None:
            problems.append(f"HUB_MLLP_PLAINTEXT_SOURCES names {name!r}, not a registered facility")
            continue
        sources[facility.code] = (*sources.get(facility.code, ()), *networks)
    policy = SenderPolicy(
        certificates_required=(
            settings.mllp_tls_cert is not None and settings.mllp_tls_client_ca is not None
        ),
        plaintext_sources=sources,
        allow_unauthenticated=settings.environment is not Environment.PRODUCTION,
    )
    if not policy.allow_unauthenticated and not policy.authenticates:
        problems.append(
            f"in production the MLLP listener must authenticate senders: {HOW_TO_AUTHENTICATE}"
        )
    if problems:
        raise SenderConfigError("refusing to start the MLLP listener: " + "; ".join(problems))
    return policy
