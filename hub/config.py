"""Platform settings, read from ``HUB_*`` environment variables (nested groups use ``__``).

Examples: ``HUB_DATABASE__URL=postgresql+asyncpg://...``, ``HUB_SERVER__PORT=9000``,
``HUB_OCPI__PUBLIC_URL=https://ocpi.example.com``.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.domain.commands import Timeouts
from hub.domain.ledger import NoEnergyRule

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./hub.db"


class DatabaseSettings(BaseModel):
    url: str = DEFAULT_DATABASE_URL
    echo: bool = False
    # Connections each hub process keeps open to a server database, and how many more it may
    # open at peaks; it has two such pools (units of work, hot reads). None: 20 and 10 for one
    # process, divided among the workers of `hub serve --workers N`, so that N processes fit in
    # PostgreSQL's max_connections (100 by default).
    pool_size: int | None = Field(default=None, ge=1)
    max_overflow: int | None = Field(default=None, ge=0)


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    # Processes `hub serve` runs (each holding its share of the station sockets on the same
    # port); None: one per core on PostgreSQL, one on SQLite (its only possible value there).
    workers: int | None = Field(default=None, ge=1)
    # With several workers each one also listens on an address of its own, where the other hub
    # processes forward calls for the stations it holds: the address other processes and nodes
    # reach this machine at, and the first port (worker i takes worker_ports_from + i; 0: any
    # free port).
    worker_host: str = "127.0.0.1"
    worker_ports_from: int = Field(default=0, ge=0, le=65535)
    # How long a stopping worker lets its connections finish before it is killed.
    graceful_shutdown_seconds: float = Field(default=30.0, gt=0)
    # Allocations between two collections of Python's youngest garbage generation in a serving
    # process (Python's default: 700; 0 keeps it). Tens of thousands of sockets make every
    # full collection seconds long, and at 700 the messages in flight during a storm live long
    # enough to be promoted and trigger them (see hub.cli.serving.tune_garbage_collector).
    gc_threshold: int = Field(default=50_000, ge=0)


class OcpiSettings(BaseModel):
    # The base URL partners use to reach us; the versions endpoint is {public_url}/ocpi/versions.
    # Defaults to http://{server.host}:{server.port} when unset.
    public_url: str | None = None
    max_page_limit: int = Field(default=100, ge=1, le=1000)
    # Largest OCPI request body accepted; larger ones get HTTP 413 with an OCPI envelope.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    partner_timeout_seconds: float = Field(default=10.0, gt=0)
    # A PEM file of certificate authorities trusted for partners' TLS endpoints besides the
    # public ones (a partner on a private PKI); empty: the public ones only.
    partner_ca_file: str = ""
    # Module identifiers a partner must offer for us to accept its registration (else OCPI 3003).
    required_partner_modules: list[str] = Field(default_factory=lambda: ["credentials"])


class PushSettings(BaseModel):
    # Deliver pushes from inside `hub serve` (one worker); `hub push work` runs more processes.
    enabled: bool = True
    # Most jobs one worker claims (and so has in flight) at once, over all partners; per partner
    # it claims at most max_in_flight_per_partner: only what it sends at once is leased.
    batch_size: int = Field(default=1000, ge=1, le=5000)
    # How long a claim is held without renewal; the worker renews its claims every third of
    # this while it sends. A worker that dies without restarting frees its jobs after this.
    lease_seconds: float = Field(default=15.0, gt=0)
    poll_interval_seconds: float = Field(default=0.25, gt=0)
    # A worker woken by a change waits this long before its round, so the changes committed
    # meanwhile go in the same round: woken per change, rounds of one or two jobs cost the
    # OCPP handlers of the same process more CPU than the deliveries themselves.
    wake_delay_seconds: float = Field(default=0.05, ge=0)
    # Requests a worker has in flight to one partner at once (and so the jobs it holds leased
    # for that partner). Measured with 7 partners and 2 workers on this 2-core machine, bursts
    # drained at 414 PATCH/s with 8, 609-910 with 32, 858-1,065 with 64: each round costs a
    # claim and a record whatever its size. A partner that limits concurrent requests gets less.
    max_in_flight_per_partner: int = Field(default=64, ge=1)
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_cap_seconds: float = Field(default=600.0, gt=0)
    # Consecutive failed deliveries after which a partner is degraded (full resync on recovery).
    # Only failures that say the partner is unreachable count (transport errors, HTTP 5xx, 401,
    # 408, 429, OCPI 3xxx); an object the partner refuses (other 4xx, OCPI 2xxx) is final for it.
    degraded_after: int = Field(default=8, ge=1)
    # This machine's name in the worker names recorded on claims ("{node_name}/{slot}"); must be
    # unique among the machines sharing the database. Default: the host name.
    node_name: str | None = Field(default=None, min_length=1, max_length=48)


class TokenPullSettings(BaseModel):
    # Run the scheduled token puller inside `hub serve`: the first pull of a partner that offers
    # a Tokens Sender (at registration), resumed runs, then delta pulls every interval.
    enabled: bool = True
    # Between delta pulls of one partner; the spec asks for "hours, not minutes".
    interval_seconds: float = Field(default=6 * 3600, gt=0)
    # The limit we ask for per page (the partner may send fewer).
    page_limit: int = Field(default=1000, ge=1, le=10000)
    # A delta pull asks for tokens changed since the start of the last completed run minus
    # this much, so clocks that differ a little between us and the eMSP lose nothing.
    overlap_seconds: float = Field(default=300.0, ge=0)
    # How long a process holds its claim on a partner's pull without renewing it (renewed
    # after every page); a crashed puller's partner is taken over after this.
    lease_seconds: float = Field(default=120.0, gt=0)
    # After a failed run (partner down, a page refused), wait this long before resuming it.
    retry_seconds: float = Field(default=300.0, gt=0)
    # How often the scheduler looks for due partners when nothing woke it.
    poll_interval_seconds: float = Field(default=60.0, gt=0)


class OcppSettings(BaseModel):
    heartbeat_interval_seconds: int = Field(default=300, ge=1)
    # A station whose socket closed and that has not come back within this delay is offline:
    # its EVSEs become UNKNOWN (short network blips do not flap the status).
    offline_after_seconds: float = Field(default=120.0, gt=0)
    # A station with an open socket that sent nothing for this many heartbeat intervals is
    # offline too (a half-open connection).
    missed_heartbeats: int = Field(default=3, ge=1)
    sweep_interval_seconds: float = Field(default=10.0, gt=0)
    # `hub serve` pings every station socket this often (0: never) and closes a socket whose
    # pong is not back within ping_timeout_seconds; a pong proves the station alive like a
    # Heartbeat does (OCPP-J 1.6 §5.3). Keep it well below the missed-heartbeats delay.
    ping_interval_seconds: float = Field(default=60.0, ge=0)
    ping_timeout_seconds: float = Field(default=30.0, gt=0)
    # OCPI status for OCPP 1.6 "Preparing": CHARGING (someone is at the EVSE) or AVAILABLE.
    preparing_status: str = Field(default="CHARGING", pattern="^(CHARGING|AVAILABLE)$")
    call_timeout_seconds: float = Field(default=30.0, gt=0)
    # How other hub processes reach this one for calls to stations it holds (see README);
    # defaults to http://{server.host}:{server.port}.
    node_url: str | None = None
    # Shared secret of the hub processes for the internal station-call endpoint; empty disables
    # the endpoint (single-process deployments do not need it).
    internal_token: str = ""
    # Largest frame a station may send (UTF-8 bytes); a CALL above it is answered with a
    # CallError without being parsed (the server itself closes with 1009 above 16 MiB).
    max_frame_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Frames are logged (INFO) cut to this many characters, with their full length.
    log_frame_chars: int = Field(default=300, ge=0)
    # Warnings a station can provoke frame after frame (malformed frames, refused payloads,
    # answers to no call) are logged at most once per station, kind and this many seconds;
    # the next line says how many were muted.
    warning_interval_seconds: float = Field(default=60.0, gt=0)
    # Password guessing at the handshake: after this many consecutive failed logins of one
    # station, every further attempt waits auth_backoff_base_seconds, doubled per failure, up
    # to auth_backoff_cap_seconds; attempts while waiting get HTTP 429 unchecked. Counted in
    # the database, so shared by every hub process.
    auth_free_attempts: int = Field(default=5, ge=1)
    # The same per source address (unknown station ids included), in each hub process.
    auth_source_free_attempts: int = Field(default=20, ge=1)
    auth_backoff_base_seconds: float = Field(default=1.0, gt=0)
    auth_backoff_cap_seconds: float = Field(default=300.0, gt=0)
    # Group commit of what stations report (hub.persistence.group_commit): at most this many
    # messages share a transaction (1: each its own), committed by this many concurrent lanes
    # per process; on PostgreSQL a group waits this long for a row lock before its messages
    # are stored one by one.
    group_commit_units: int = Field(default=100, ge=1, le=10_000)
    group_commit_lanes: int = Field(default=4, ge=1, le=64)
    group_commit_lock_timeout_ms: int = Field(default=250, ge=0)


class AuthorizationSettings(BaseModel):
    # Real-time authorization (OCPI POST {tokens}/{uid}/authorize): the whole question, partner
    # lookup included, must be answered within this budget, or the eMSP counts as unreachable
    # (its whitelist rule decides). Keep it below the chargers' OCPP message timeout.
    realtime_budget_seconds: float = Field(default=3.0, gt=0, le=60)
    # An RFID no partner pushed is asked of every eMSP offering real-time authorization, as the
    # OCPI working group advises; this shows the card's uid (and type, nothing else) to all of
    # them: a privacy trade-off the operator may switch off (then such cards are unknown).
    ask_all_for_unknown: bool = True
    # How long the answer to such a broadcast is kept in memory per (uid, type) before the
    # eMSPs are asked again (0: never kept); unreachable answers are not kept.
    unknown_answer_cache_seconds: float = Field(default=300.0, ge=0)
    # How long a charger may keep an Accepted answer in its authorization cache (1.6
    # idTagInfo.expiryDate, 2.0.1 cacheExpiryDateTime); refusals carry no expiry.
    charger_cache_seconds: float = Field(default=600.0, ge=0)


class LocalListSettings(BaseModel):
    # Keep the stations' OCPP local authorization lists in step from inside `hub serve`; each
    # process syncs the stations whose sockets it holds.
    enabled: bool = True
    # Time between two sync passes; a station's boot wakes the pass at once.
    interval_seconds: float = Field(default=60.0, gt=0)
    # Stations one pass calls at once (each station's own calls go one after the other).
    concurrent_stations: int = Field(default=20, ge=1, le=1000)
    # Most stations one pass works on; the others wait for the next pass, so a token change
    # never sends 30,000 stations their update at once.
    max_stations_per_pass: int = Field(default=500, ge=1)
    # Every station's list is recomputed this often, even if no input seemed to change.
    recheck_interval_seconds: float = Field(default=3600.0, gt=0)
    # A station whose sync failed is tried again after this long (or at its next boot).
    retry_after_seconds: float = Field(default=300.0, gt=0)
    # Used when a station does not advertise its list size or message size.
    default_max_entries: int = Field(default=1000, ge=0)
    default_items_per_message: int = Field(default=100, ge=1)


class SessionSettings(BaseModel):
    # A running session's changes are PATCHed to its eMSP at most once per this interval...
    patch_interval_seconds: float = Field(default=60.0, ge=0)
    # ...unless its energy moved by this many kWh since the last PATCH; a status change is
    # always pushed at once.
    patch_kwh_step: Decimal = Field(default=Decimal(1), ge=0)
    # An open session with no message of its transaction for this long is closed (SILENT).
    silence_limit_seconds: float = Field(default=6 * 3600.0, gt=0)
    # A station that booted again has this long to report the end of the transactions it ran
    # before (1.6 chargers send queued StopTransactions after a reboot); then they are closed
    # (STATION_REBOOTED).
    reboot_grace_seconds: float = Field(default=600.0, gt=0)
    # How often `hub serve` looks for sessions to close.
    sweep_interval_seconds: float = Field(default=60.0, gt=0)


class PublicFeedSettings(BaseModel):
    """The free public data feed (23 CFR 680.116(c)): /public/2.2.1/locations[/{id}] and
    /public/2.2.1/tariffs, without a token."""

    enabled: bool = True
    # Cache-Control max-age of its answers: a client honouring it sees a status or price change
    # at most this late. At most 15: dynamic data within 15 s (DOE/DOT real-time API guidance).
    max_age_seconds: int = Field(default=10, ge=0, le=15)
    # Requests per client address (token bucket, in each process's memory): on average
    # rate_limit_per_hour, at most rate_limit_burst in a row; beyond that HTTP 429.
    rate_limit_per_hour: int = Field(default=1000, ge=1)
    rate_limit_burst: int = Field(default=60, ge=1)
    # NACS connectors: "omit" (left out, as for partners by default) or "SAE_J3400" (2.3.0 value).
    nacs_mode: Literal["omit", "SAE_J3400"] = "omit"


class CommandSettings(BaseModel):
    # Whether the hub offers the Commands module to eMSPs...
    enabled: bool = True
    # ...and whether this process carries them out (calls chargers, times them out); another
    # process on the same database may do it instead.
    runner: bool = True
    # The `timeout` declared in each CommandResponse: the charger's answer (at most
    # ocpp.call_timeout_seconds) plus margin...
    timeout_seconds: float = Field(default=45.0, gt=0)
    # ...and for START_SESSION, whose result waits for the transaction, the time a driver
    # takes to plug in after the app's start.
    start_session_timeout_seconds: float = Field(default=180.0, gt=0)
    # A charger not connected when its command is to be sent (a hub restart, a network blip)
    # is tried again this long after the command arrived; then the result is FAILED.
    offline_grace_seconds: float = Field(default=30.0, ge=0)
    # How long a process holds a command it is calling before another may see it as lost.
    lease_seconds: float = Field(default=60.0, gt=0)
    # Commands called at once by one process; how often it looks for new and overdue ones
    # (it is woken at once when a command arrives in this process).
    concurrency: int = Field(default=64, ge=1)
    poll_interval_seconds: float = Field(default=1.0, gt=0)

    def timeouts(self) -> Timeouts:
        return Timeouts(
            call=timedelta(seconds=self.timeout_seconds),
            start_session=timedelta(seconds=self.start_session_timeout_seconds),
        )


class UptimeSettings(BaseModel):
    # The no-energy detector (README "NEVI uptime"): a port whose `no_energy_sessions`
    # consecutive ended sessions each delivered less than `no_energy_kwh` is out from the first
    # of them until the next session that delivered at least that much (0 sessions: off).
    no_energy_sessions: int = Field(default=3, ge=0)
    no_energy_kwh: Decimal = Field(default=Decimal(1), ge=0)
    # The platform's status history is complete only from this instant (e.g. when it took over
    # the ports from another network): a window that starts earlier has missing history.
    history_since: AwareDatetime | None = None

    def rule(self) -> NoEnergyRule:
        return NoEnergyRule(sessions=self.no_energy_sessions, min_kwh=self.no_energy_kwh)


class NeviSettings(BaseModel):
    """NEVI reporting (EV-ChART): the platform's default ``network_provider`` (a value of
    EV-ChART's provider list; a location's NEVI registration may name another) and the JSON
    file of the ``payment_method``/``session_error`` vocabularies (None: the built-in one,
    ``hub.domain.evchart.DEFAULT_VOCABULARY``)."""

    network_provider: str | None = Field(default=None, min_length=1, max_length=30)
    vocabulary_file: Path | None = None


class MetricsSettings(BaseModel):
    # Serve Prometheus metrics at GET /metrics, without authentication: keep the path off the
    # public listener (or refuse it at the proxy).
    enabled: bool = True


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUB_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    ocpi: OcpiSettings = OcpiSettings()
    push: PushSettings = PushSettings()
    token_pull: TokenPullSettings = TokenPullSettings()
    ocpp: OcppSettings = OcppSettings()
    authorization: AuthorizationSettings = AuthorizationSettings()
    local_list: LocalListSettings = LocalListSettings()
    sessions: SessionSettings = SessionSettings()
    commands: CommandSettings = CommandSettings()
    public_feed: PublicFeedSettings = PublicFeedSettings()
    uptime: UptimeSettings = UptimeSettings()
    nevi: NeviSettings = NeviSettings()
    metrics: MetricsSettings = MetricsSettings()
    # Lowest level `hub serve` logs: DEBUG, INFO, WARNING, ERROR or CRITICAL (any case).
    log_level: str = Field(default="INFO", pattern="(?i)^(debug|info|warning|error|critical)$")
    # One line per record for every logger (ours, uvicorn's, alembic's): key=value pairs
    # ("text") or JSON objects ("json"); see hub.logs.
    log_format: Literal["text", "json"] = "text"

    @property
    def public_url(self) -> str:
        if self.ocpi.public_url:
            return self.ocpi.public_url.rstrip("/")
        return f"http://{self.server.host}:{self.server.port}"

    def public_url_warning(self) -> str | None:
        """Why the URL we give partners may be wrong: it is derived from the bind address
        because ``HUB_OCPI__PUBLIC_URL`` is not set (another process, ``hub serve --port``, a
        proxy or a container all make it wrong). None when it is set."""
        if self.ocpi.public_url:
            return None
        return (
            f"HUB_OCPI__PUBLIC_URL is not set; assumed {self.public_url} from the bind address "
            "(HUB_SERVER__HOST, HUB_SERVER__PORT), which partners cannot reach if `hub serve` "
            "listens on another address or port or behind a proxy; set HUB_OCPI__PUBLIC_URL to "
            "the base URL partners reach this hub at (e.g. https://ocpi.example.com)"
        )

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
