"""Who is calling: the verified identity every store operation and audit record carries."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.auth.roles import Role
from hub.auth.scopes import Scope, parse_scopes


@dataclass(frozen=True)
class Actor:
    client_id: str
    facility: str
    role: Role
    scope: str
    patient: str | None = None
    purpose_of_use: str | None = None
    source_address: str | None = None
    scopes: tuple[Scope, ...] = field(default=(), compare=False)
    purpose_reason: str | None = None  # the token's reason (break-glass: ETREAT)
    practitioner: str | None = None  # "Practitioner/<id>": the person acting, from the token

    @classmethod
    def build(
        cls,
        *,
        client_id: str,
        facility: str,
        role: Role,
        scope: str,
        patient: str | None = None,
        purpose_of_use: str | None = None,
        source_address: str | None = None,
        purpose_reason: str | None = None,
        practitioner: str | None = None,
    ) -> Actor:
        return cls(
            client_id,
            facility,
            role,
            scope,
            patient,
            purpose_of_use,
            source_address,
            parse_scopes(scope),
            purpose_reason,
            practitioner,
        )


SYSTEM_ACTOR = Actor.build(
    client_id="hub-system", facility="HUB", role=Role.operator, scope="system/*.cruds"
)
