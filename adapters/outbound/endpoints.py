"""Where a facility receives: its FHIR ``Endpoint`` resources in the store.

Operators register a facility's receiving system as an Endpoint managed by the facility's
Organization (``managingOrganization = Organization/<code>``), ``status = active`` and a
``connectionType`` code from the HL7 endpoint-connection-type code system:

- ``hl7v2-mllp``, ``address = mllp://host:port`` (``mllps://host:port`` for TLS): HL7 v2;
- ``hl7-fhir-rest``, ``address = https://...``: the base of the facility's FHIR rest-hook
  receivers; a Subscription's ``channel.endpoint`` must lie under it to be delivered, so the hub
  only ever calls addresses an operator registered for the facility.

Keeping destinations as data in the store (not settings) lets operators change an address
while messages wait: delivery looks the endpoint up again before each round.

A facility may write Endpoints only for itself (``hub.fhir.write_access``); as a second line,
delivery trusts an Endpoint for a facility only when that facility recorded it or the hub did
(an operator): one claiming another facility's Organization is never used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from adapters.outbound.models import Channel
from adapters.outbound.resources import reference_of, referencing
from hub.fhir.origin import origin_facility
from hub.fhir.system_reads import StoreSystemReads
from hub.security.fields import FieldCipher

CONNECTION_TYPES: dict[Channel, str] = {
    Channel.HL7V2: "hl7v2-mllp",
    Channel.FHIR_REST_HOOK: "hl7-fhir-rest",
}


class EndpointError(ValueError):
    """An Endpoint's address cannot be used (the message names the problem, not the values)."""


@dataclass(frozen=True)
class FacilityEndpoint:
    facility: str
    channel: Channel
    endpoint_id: str
    address: str

    def mllp_target(self) -> tuple[str, int, bool]:
        """(host, port, tls) of an ``mllp://`` or ``mllps://`` address."""
        parts = urlsplit(self.address)
        if parts.scheme not in ("mllp", "mllps") or not parts.hostname:
            raise EndpointError(f"Endpoint/{self.endpoint_id}: address must be mllp://host:port")
        try:
            port = parts.port
        except ValueError:
            port = None
        if port is None:
            raise EndpointError(f"Endpoint/{self.endpoint_id}: address needs a port")
        return parts.hostname, port, parts.scheme == "mllps"

    def covers(self, url: str) -> bool:
        """True when ``url`` lies under this (FHIR) endpoint's address."""
        base = self.address.rstrip("/")
        return url == base or url.startswith(base + "/") or url.startswith(base + "?")


def trusted_for(endpoint: dict[str, Any], facility: str) -> bool:
    """Whether ``endpoint`` may carry ``facility``'s messages: written by it or by the hub."""
    return origin_facility(endpoint) in (None, facility)


def _connection_code(endpoint: dict[str, Any]) -> str:
    connection = endpoint.get("connectionType") or {}
    return str(connection.get("code") or "") if isinstance(connection, dict) else ""


def facility_endpoints(
    session: Session, cipher: FieldCipher, facility: str, channel: Channel
) -> list[FacilityEndpoint]:
    """The facility's active endpoints of one channel, oldest first."""
    code = CONNECTION_TYPES[channel]
    return [
        FacilityEndpoint(facility, channel, str(e.get("id")), str(e.get("address") or ""))
        for e in referencing(
            session, cipher, "Endpoint", "organization", f"Organization/{facility}"
        )
        if e.get("status") == "active"
        and _connection_code(e) == code
        and e.get("address")
        and trusted_for(e, facility)
    ]


def facility_endpoint(
    session: Session, cipher: FieldCipher, facility: str, channel: Channel
) -> FacilityEndpoint | None:
    """The endpoint a channel's messages for ``facility`` go to (the oldest active one)."""
    found = facility_endpoints(session, cipher, facility, channel)
    return found[0] if found else None


def has_endpoint(session: Session, cipher: FieldCipher, facility: str, channel: Channel) -> bool:
    return facility_endpoint(session, cipher, facility, channel) is not None


def fhir_endpoint_for_url(
    session: Session, cipher: FieldCipher, url: str
) -> FacilityEndpoint | None:
    """The registered ``hl7-fhir-rest`` endpoint ``url`` lies under (its facility receives)."""
    rest_hooks = StoreSystemReads(session, cipher).with_tokens(
        "Endpoint", {"connection-type": CONNECTION_TYPES[Channel.FHIR_REST_HOOK]}
    )
    for endpoint in rest_hooks:
        endpoint_id = str(endpoint.get("id"))
        kind, _, facility = reference_of(endpoint.get("managingOrganization")).partition("/")
        if endpoint.get("status") != "active" or kind != "Organization":
            continue
        if not trusted_for(endpoint, facility):
            continue
        address = str(endpoint.get("address") or "")
        candidate = FacilityEndpoint(facility, Channel.FHIR_REST_HOOK, endpoint_id, address)
        if address and candidate.covers(url):
            return candidate
    return None
