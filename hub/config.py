"""Platform settings, read from ``HUB_*`` environment variables (nested groups use ``__``).

Examples: ``HUB_DATABASE__URL=postgresql+asyncpg://...``, ``HUB_SERVER__PORT=9000``,
``HUB_OCPI__PUBLIC_URL=https://ocpi.example.com``.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./hub.db"


class DatabaseSettings(BaseModel):
    url: str = DEFAULT_DATABASE_URL
    echo: bool = False


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000


class OcpiSettings(BaseModel):
    # The base URL partners use to reach us; the versions endpoint is {public_url}/ocpi/versions.
    # Defaults to http://{server.host}:{server.port} when unset.
    public_url: str | None = None
    max_page_limit: int = Field(default=100, ge=1, le=1000)
    # Largest OCPI request body accepted; larger ones get HTTP 413 with an OCPI envelope.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    partner_timeout_seconds: float = Field(default=10.0, gt=0)
    # Module identifiers a partner must offer for us to accept its registration (else OCPI 3003).
    required_partner_modules: list[str] = Field(default_factory=lambda: ["credentials"])


class PushSettings(BaseModel):
    # Deliver pushes from inside `hub serve` (one worker); `hub push work` runs more processes.
    enabled: bool = True
    batch_size: int = Field(default=200, ge=1, le=5000)
    # How long a claimed job is ours; a killed worker's jobs return after this.
    lease_seconds: float = Field(default=60.0, gt=0)
    poll_interval_seconds: float = Field(default=0.25, gt=0)
    max_in_flight_per_partner: int = Field(default=8, ge=1)
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_cap_seconds: float = Field(default=600.0, gt=0)
    # Consecutive failed deliveries after which a partner is degraded (full resync on recovery).
    degraded_after: int = Field(default=8, ge=1)


class OcppSettings(BaseModel):
    heartbeat_interval_seconds: int = Field(default=300, ge=1)
    # A station whose socket closed and that has not come back within this delay is offline:
    # its EVSEs become UNKNOWN (short network blips do not flap the status).
    offline_after_seconds: float = Field(default=120.0, gt=0)
    # A station with an open socket that sent nothing for this many heartbeat intervals is
    # offline too (a half-open connection).
    missed_heartbeats: int = Field(default=3, ge=1)
    sweep_interval_seconds: float = Field(default=10.0, gt=0)
    # OCPI status for OCPP 1.6 "Preparing": CHARGING (someone is at the EVSE) or AVAILABLE.
    preparing_status: str = Field(default="CHARGING", pattern="^(CHARGING|AVAILABLE)$")
    call_timeout_seconds: float = Field(default=30.0, gt=0)
    # How other hub processes reach this one for calls to stations it holds (see README);
    # defaults to http://{server.host}:{server.port}.
    node_url: str | None = None
    # Shared secret of the hub processes for the internal station-call endpoint; empty disables
    # the endpoint (single-process deployments do not need it).
    internal_token: str = ""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUB_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    ocpi: OcpiSettings = OcpiSettings()
    push: PushSettings = PushSettings()
    ocpp: OcppSettings = OcppSettings()
    log_level: str = "INFO"

    @property
    def public_url(self) -> str:
        if self.ocpi.public_url:
            return self.ocpi.public_url.rstrip("/")
        return f"http://{self.server.host}:{self.server.port}"

    @property
    def node_url(self) -> str:
        return (self.ocpp.node_url or f"http://{self.server.host}:{self.server.port}").rstrip("/")

    @property
    def versions_url(self) -> str:
        return f"{self.public_url}/ocpi/versions"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process (CLI and ``hub serve`` only)."""
    return Settings()
