"""The regional default consent policy: configuration, not code.

What applies when no consent of the patient speaks to an access (PIPL Art. 28-29 as the region
reads them). The packaged default, ``consent/data/default_policy.json``:

- a facility always sees what it recorded itself (``own_records_visible``);
- other facilities see a patient's data for treatment unless the patient opted out
  (``opt_out_purposes``: TREAT; ETREAT counts as TREAT); every other purpose (insurance linkage
  HPAYMT, research HRESCH) needs the patient's separate, explicit consent;
- sensitive classes (``sensitive_labels``: mental health PSY/BH, HIV, STD, reproductive SEX,
  genetic GDIS, substance use ETH) are shared only with a consent that names the class;
- emergency treatment with a stated reason (``break_glass_purposes``: ETREAT) overrides a deny,
  including sensitive classes when ``break_glass_reveals_sensitive`` (the decision is flagged);
- ``exempt_roles`` (operators, auditors, the fund's insurance auditors: fund supervision is a
  legal duty, PIPL art. 13(1)3; the patient index's data stewards, who compare the Patients of
  a possible duplicate as operators do) are not subject to consent: their access is bounded by
  role (the insurance auditors' scopes name the claims' types only, the stewards' the Patient)
  and audited;
- a patient younger than ``guardian_age`` consents through a guardian (RelatedPerson).

A deployment points ``HUB_CONSENT_POLICY_FILE`` at its own JSON (or TOML) file with the same
keys; unknown keys and codes outside the value sets are refused at load time.
"""

from __future__ import annotations

import json
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.auth.purpose import PurposeOfUse
from hub.auth.roles import Role

DEFAULT_POLICY_FILE = "default_policy.json"


class PolicyError(ValueError):
    """The policy file cannot be read or does not validate."""


class RegionalPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    own_records_visible: bool = True
    opt_out_purposes: frozenset[str] = frozenset({"TREAT"})
    sensitive_labels: frozenset[str] = frozenset({"PSY", "BH", "HIV", "STD", "SEX", "GDIS", "ETH"})
    break_glass_purposes: frozenset[str] = frozenset({"ETREAT"})
    break_glass_reveals_sensitive: bool = True
    exempt_roles: frozenset[str] = frozenset(
        {"operator", "auditor", "insurance-auditor", "data-steward"}
    )
    guardian_age: int = Field(default=14, ge=0, le=21)

    @field_validator("opt_out_purposes", "break_glass_purposes")
    @classmethod
    def _known_purposes(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = sorted(value - set(PurposeOfUse))
        if unknown:
            raise ValueError(f"not a purpose of use: {', '.join(unknown)}")
        return value

    @field_validator("exempt_roles")
    @classmethod
    def _known_roles(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = sorted(value - set(Role))
        if unknown:
            raise ValueError(f"not a role: {', '.join(unknown)}")
        return value


def load_policy(path: Path | None = None) -> RegionalPolicy:
    """The policy in ``path`` (JSON, or TOML by suffix); the packaged default when None."""
    try:
        if path is None:
            text = (resources.files("consent") / "data" / DEFAULT_POLICY_FILE).read_text("utf-8")
            data: Any = json.loads(text)
        elif path.suffix == ".toml":
            data = tomllib.loads(path.read_text("utf-8"))
        else:
            data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise PolicyError(f"cannot read the consent policy: {exc}") from None
    if not isinstance(data, dict):
        raise PolicyError("the consent policy must be a JSON/TOML object")
    try:
        return RegionalPolicy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"invalid consent policy: {exc}") from None


@lru_cache
def get_policy() -> RegionalPolicy:
    """The configured policy (``HUB_CONSENT_POLICY_FILE``), read once."""
    from hub.settings import get_settings

    return load_policy(get_settings().consent_policy_file)
