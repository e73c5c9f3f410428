"""Hub settings, read once from the environment (prefix ``HUB_``) and the home's ``.env``.

Defaults are safe for a demo on one machine (SQLite under the home's var/, keys generated into
it) and refused in production, where every secret must come from the environment. Relative
paths resolve against the home (hub/home.py), never the folder a command is run from.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hub.home import default_home, resolve_home, sqlite_url_under_home, under_home

DEMO_FIELD_KEY = "ZGVtby1maWVsZC1rZXktbm90LWZvci1wcm9kdWN0aW9uLg"  # refused in production
DEMO_BLIND_INDEX_KEY = "ZGVtby1ibGluZC1pbmRleC1rZXktbm90LWZvci1wcm9k"
MIN_AUDIT_RETENTION_DAYS = 183  # six months
MIN_AUDIT_HMAC_KEY_CHARS = 32
MIN_METRICS_TOKEN_LENGTH = 32
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# In the var dir: the URL `hub demo` / `hub serve` last served this home at, so that `hub token`
# run from another shell signs for the issuer that server expects.
SERVED_URL_FILE = "public_base_url"
PublicUrlOrigin = Literal["configured", "served", "default"]


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    # Where .env, var/ and relative paths are found (hub/home.py); from the environment only.
    home: Path = Field(default_factory=default_home)
    environment: Environment = Environment.DEVELOPMENT
    var_dir: Path = Path("var")  # relative: under the home
    database_url: str = ""  # empty: sqlite:///{var_dir}/hub.db; a relative SQLite file: in home
    db_pool_size: int = 10
    # psycopg 3 prepares a statement run five times on a connection; PgBouncer in transaction
    # mode hands each transaction another server connection, where that statement is unknown
    # (or already exists). False behind such a pooler: no server-side prepared statements.
    db_prepared_statements: bool = True
    # "json": one JSON object per log line, with the request id (hub/request_log.py)
    log_format: Literal["text", "json"] = "text"

    # Unset: the URL `hub demo` / `hub serve` last served at (var/public_base_url), else this.
    public_base_url: str = "http://127.0.0.1:8000"
    # Access-token signing key (private JWK as JSON). Empty in development: generated into var/.
    signing_key: str = ""
    token_ttl_seconds: int = Field(default=300, ge=30, le=3600)
    # Who sends a patient's one-time login code (hub/auth/smart_app/notifier.py): "log" is the
    # demo's (the code goes to the hub's log), which production will not use: until an SMS
    # gateway is plugged in there, the patient login answers 503 (the hub itself still starts).
    patient_code_notifier: str = "log"

    # Field encryption: JSON object {key_id: base64url key} (AES-256-GCM) or {key_id: {"key": ...,
    # "algorithm": "aes-256-gcm|sm4-gcm"}}; the active key id encrypts (hub.security.fields).
    field_keys: str = f'{{"demo": "{DEMO_FIELD_KEY}"}}'
    field_key_id: str = "demo"
    blind_index_key: str = DEMO_BLIND_INDEX_KEY
    blind_index_algorithm: str = "hmac-sha256"  # or hmac-sm3; fixed once data is indexed

    max_body_bytes: int = 5 * 1024 * 1024
    max_bundle_entries: int = 1000
    default_page_size: int = 50
    max_page_size: int = 1000
    # Bounds on what one request may ask of the hub, each refused with 400 and an
    # OperationOutcome naming the limit (beyond them the databases' query parsers give out).
    max_search_parameters: int = Field(default=100, ge=1, le=1000)  # name=value pairs per search
    max_search_values: int = Field(default=100, ge=1, le=1000)  # comma-separated values of one
    max_search_values_total: int = Field(default=1000, ge=1, le=10000)  # ... of all, summed
    # Nesting of a JSON body (objects and arrays); resource validation recurses once per level,
    # and about 240 levels exhaust Python's stack, hence the upper bound.
    max_json_depth: int = Field(default=64, ge=8, le=128)
    # GET /metrics answers operator tokens; this static bearer secret also opens it to a
    # Prometheus scraper (empty: operator tokens only).
    metrics_token: str = ""

    celery_broker_url: str = ""  # empty: tasks run in-process
    # In-process work queues: how often the sweeper looks for work whose wake-up was lost.
    work_sweep_seconds: float = Field(default=2.0, gt=0, le=86_400)
    celery_queue: str = "hub"  # one queue per deployment (tests use their own)

    # HL7 v2 over MLLP (adapters/hl7v2)
    mllp_host: str = "127.0.0.1"
    mllp_port: int = 2575
    mllp_max_message_bytes: int = Field(default=1024 * 1024, ge=1024)
    mllp_idle_timeout_seconds: float = Field(default=600.0, gt=0)
    mllp_max_connections: int = Field(default=1000, ge=1)
    mllp_tls_cert: Path | None = None  # PEM certificate chain: TLS on when set
    mllp_tls_key: Path | None = None
    mllp_tls_client_ca: Path | None = None  # when set, client certificates are required
    # Senders without a client certificate, per facility code (or HL7 name): the addresses or
    # networks each may send from, JSON {"H001": ["10.1.2.3", "10.1.2.0/24"]}. When set, such a
    # sender's message is refused unless MSH-4 names a facility listed for its source address.
    # Production needs this or client certificates (adapters/hl7v2/sender.py).
    mllp_plaintext_sources: Annotated[dict[str, tuple[Network, ...]], NoDecode] = {}
    hl7_default_charset: str = "UNICODE UTF-8"  # when MSH-18 is empty
    # MLLP senders wait for a reply, so by default every message is answered; set this to let
    # MSH-15 (NE, ER, SU) suppress commit ACKs for senders that really do not wait.
    mllp_honour_accept_ack_type: bool = False
    # Facility codes whose messages are also validated structurally with hl7apy before the ACK
    # (JSON list or comma-separated: H001,H002); others get the fast checks only.
    hl7_strict_facilities: Annotated[frozenset[str], NoDecode] = frozenset()
    inbox_max_attempts: int = Field(default=5, ge=1)  # then the message is dead-lettered
    inbox_retry_base_seconds: float = Field(default=2.0, gt=0)  # doubled per attempt
    inbox_batch_size: int = Field(default=100, ge=1)  # messages per processing transaction
    # Outbound delivery to facilities (adapters/outbound)
    outbox_max_attempts: int = Field(default=8, ge=1)  # transient failures, then dead-lettered
    outbox_retry_base_seconds: float = Field(default=5.0, gt=0)  # doubled per attempt
    outbound_timeout_seconds: float = Field(default=30.0, gt=0)  # connect and ACK/response wait
    # FHIR writes by facility systems (adapters/fhir_inbound): per facility code, the identifier
    # systems it uses for its own local numbers, rewritten to the facility's namespace.
    fhir_local_identifier_systems: dict[str, list[str]] = {}
    # Facility codes whose writes (FHIR and HL7 v2) may reference local resources that do not
    # exist yet, for feeds that arrive out of order (hub/fhir/references.py); JSON list or
    # comma-separated. Everyone else's dangling local references are refused.
    allow_dangling_references: Annotated[frozenset[str], NoDecode] = frozenset()
    # Patient index: opened candidate features kept per process (hub/mpi/feature_cache.py); 0: off
    mpi_feature_cache_size: int = Field(default=100_000, ge=0)
    # Regional consent policy (JSON/TOML); None: the packaged consent/data/default_policy.json
    consent_policy_file: Path | None = None
    # A region's insurance settlement policy (JSON, the shape of insurance/data/sample_policy.json);
    # None: the packaged SAMPLE policy. Validated when the hub starts.
    insurance_policy_file: Path | None = None
    # Audit records are kept at least six months; `hub audit prune` removes older ones.
    audit_retention_days: int = MIN_AUDIT_RETENTION_DAYS
    # Keys of the audit chain (hub.audit.keys); empty in development: generated into var/.
    # The HMAC-SHA256 key of the record hashes (a secret of at least 32 characters).
    audit_hmac_key: str = ""
    # The Ed25519 private key signing checkpoints: base64url of its 32 raw bytes.
    audit_checkpoint_key: str = ""
    # The Ed25519 public keys (base64url, comma-separated) that verify checkpoints; empty: the
    # public half of HUB_AUDIT_CHECKPOINT_KEY. Set it to verify where the private key is not.
    audit_checkpoint_public_keys: str = ""

    # The web console (hub/console): a staff session ends after this many idle minutes; an
    # account is locked for console_lockout_minutes after console_lockout_threshold failed
    # sign-ins in a row. Its cookies are Secure in production.
    console_idle_timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)
    console_lockout_threshold: int = Field(default=5, ge=1, le=100)
    console_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Staff sign-in through the region's own OpenID Connect provider (hub/console/oidc.py):
    # its issuer URL (empty: off), the hub's client there, and the ID token claims that name
    # the staff member's facility and console role (practitioner, referral-desk, ...).
    console_oidc_issuer: str = ""
    console_oidc_client_id: str = ""
    console_oidc_client_secret: str = ""
    console_oidc_facility_claim: str = "facility"
    console_oidc_role_claim: str = "hub_role"

    _public_base_url_origin: PublicUrlOrigin = PrivateAttr(default="default")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The .env of the home, not of the cwd; the home itself cannot come from that file.
        given = init_settings.init_kwargs if isinstance(init_settings, InitSettingsSource) else {}
        home = resolve_home(given.get("home") or os.environ.get("HUB_HOME"))
        home_dotenv = _DotEnvWithoutHome(settings_cls, env_file=home / ".env")
        return init_settings, env_settings, home_dotenv, file_secret_settings

    @model_validator(mode="after")
    def _paths_under_home(self) -> Settings:
        self.home = resolve_home(self.home)
        self.var_dir = under_home(self.home, self.var_dir)
        for name in (
            "consent_policy_file",
            "insurance_policy_file",
            "mllp_tls_cert",
            "mllp_tls_key",
            "mllp_tls_client_ca",
        ):
            path = getattr(self, name)
            if path is not None:
                setattr(self, name, under_home(self.home, path))
        self.database_url = sqlite_url_under_home(self.home, self.database_url)
        if "public_base_url" in self.model_fields_set:
            self._public_base_url_origin = "configured"
        elif self.environment is not Environment.PRODUCTION:
            served = self.served_url_file
            if served.is_file() and (url := served.read_text().strip()):
                self.public_base_url = url
                self._public_base_url_origin = "served"
        return self

    @field_validator("hl7_strict_facilities", "allow_dangling_references", mode="before")
    @classmethod
    def _facility_codes(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [code.strip() for code in text.split(",") if code.strip()]
        return value

    @field_validator("mllp_plaintext_sources", mode="before")
    @classmethod
    def _source_networks(cls, value: object) -> object:
        name = "HUB_MLLP_PLAINTEXT_SOURCES"
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError:
                raise ValueError(f"{name} must be a JSON object") from None
        if not isinstance(value, dict):
            raise ValueError(f'{name} must be a JSON object {{"H001": ["10.1.2.0/24"]}}')
        sources: dict[str, tuple[Network, ...]] = {}
        for facility, addresses in value.items():
            listed = [addresses] if isinstance(addresses, str) else addresses
            if not isinstance(listed, list | tuple) or not listed:
                raise ValueError(f"{name}: {facility} needs a list of addresses or networks")
            try:
                sources[str(facility)] = tuple(ipaddress.ip_network(str(a)) for a in listed)
            except ValueError as exc:
                raise ValueError(f"{name}: {facility}: {exc}") from None
        return sources

    @field_validator("audit_retention_days")
    @classmethod
    def _keep_audit_six_months(cls, days: int) -> int:
        if days < MIN_AUDIT_RETENTION_DAYS:
            raise ValueError(
                f"HUB_AUDIT_RETENTION_DAYS is {days}: audit records must be kept at least "
                f"{MIN_AUDIT_RETENTION_DAYS} days (six months)"
            )
        return days

    @field_validator("metrics_token")
    @classmethod
    def _long_metrics_token(cls, token: str) -> str:
        if token and len(token) < MIN_METRICS_TOKEN_LENGTH:
            raise ValueError(
                f"HUB_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LENGTH} characters "
                "(or empty: operator tokens only)"
            )
        return token

    @field_validator("audit_hmac_key")
    @classmethod
    def _long_audit_hmac_key(cls, key: str) -> str:
        if key and len(key) < MIN_AUDIT_HMAC_KEY_CHARS:
            raise ValueError(
                f"HUB_AUDIT_HMAC_KEY must be at least {MIN_AUDIT_HMAC_KEY_CHARS} characters"
            )
        return key

    @field_validator("audit_checkpoint_key", "audit_checkpoint_public_keys")
    @classmethod
    def _ed25519_keys(cls, text: str, info: ValidationInfo) -> str:
        keys = text.split(",") if info.field_name == "audit_checkpoint_public_keys" else [text]
        for key in (k.strip() for k in keys):
            if key and len(ed25519_key_bytes(key)) != 32:
                raise ValueError("an Ed25519 key is 32 bytes, base64url-encoded")
        return text

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir.resolve() / 'hub.db'}"

    @property
    def masked_database_url(self) -> str:
        """The database URL to show: its password replaced by ***."""
        return masked_url(self.effective_database_url)

    @property
    def signing_key_file(self) -> Path:
        """Where the development signing key is generated when HUB_SIGNING_KEY is empty."""
        return self.var_dir / "signing_key.jwk.json"

    @property
    def served_url_file(self) -> Path:
        return self.var_dir / SERVED_URL_FILE

    @property
    def public_base_url_origin(self) -> PublicUrlOrigin:
        """configured (environment, .env), served (recorded by demo/serve) or the default."""
        return self._public_base_url_origin

    @property
    def fhir_base_url(self) -> str:
        return self.public_base_url.rstrip("/") + "/fhir"

    @property
    def token_url(self) -> str:
        return self.public_base_url.rstrip("/") + "/auth/token"

    @model_validator(mode="after")
    def _refuse_demo_secrets_in_production(self) -> Settings:
        if self.environment is not Environment.PRODUCTION:
            return self
        problems = []
        if not self.database_url or self.database_url.startswith("sqlite"):
            problems.append("HUB_DATABASE_URL must name a server database")
        if not self.signing_key:
            problems.append("HUB_SIGNING_KEY must be set")
        if DEMO_FIELD_KEY in self.field_keys or self.field_key_id == "demo":
            problems.append("HUB_FIELD_KEYS / HUB_FIELD_KEY_ID still hold the demo key")
        if self.blind_index_key == DEMO_BLIND_INDEX_KEY:
            problems.append("HUB_BLIND_INDEX_KEY still holds the demo key")
        if not self.audit_hmac_key:
            problems.append("HUB_AUDIT_HMAC_KEY must be set")
        if not self.audit_checkpoint_key:
            problems.append("HUB_AUDIT_CHECKPOINT_KEY must be set")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self


class _DotEnvWithoutHome(DotEnvSettingsSource):
    """The home's .env; a HUB_HOME in it is ignored (the file was found through the home)."""

    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        values.pop("home", None)
        return values


def served_url(host: str, port: int) -> str:
    """The URL a server bound to ``host:port`` is reached at from this machine."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # bound to every address: this machine reaches it on loopback
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def adopt_served_url(host: str, port: int) -> Settings:
    """Record where this home's hub serves (:func:`served_url`), so that every command (the server's
    workers, `hub token` in another shell) names it as issuer; the settings re-read with it.
    A configured HUB_PUBLIC_BASE_URL (a proxy's address) wins, and production records nothing."""
    settings = get_settings()
    url = served_url(host, port)
    if settings.public_base_url_origin == "configured":
        return settings
    if settings.environment is Environment.PRODUCTION:
        return settings
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    settings.served_url_file.write_text(url + "\n")
    get_settings.cache_clear()
    return get_settings()


def masked_url(url: str) -> str:
    """A database URL fit to print: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.rsplit("@", 1)[-1]


def ed25519_key_bytes(text: str) -> bytes:
    """The raw bytes of a base64url-encoded key (b"" if it is not base64url)."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""


@lru_cache
def get_settings() -> Settings:
    return Settings()
