"""Settings, read once from ``SAVEIT_*`` environment variables by the composition root.

Nothing here is built at import time: call :func:`load_settings` (or build a
``Settings`` directly in tests) and hand the result down.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEV_SECRET = "dev-only-secret-change-me"  # noqa: S105 - refused outside the embedded default
MIN_SECRET_BYTES = 32
"""Production secrets are at least this long: 256 bits when they are random."""


class Environment(StrEnum):
    """Where SaveIt runs; only ``production`` turns on the secret checks."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob SaveIt reads; the README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_prefix="SAVEIT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Folder for the embedded SQLite file.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy or plain postgresql:// URL; unset means SQLite in data_dir.",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)
    request_threads: int = Field(
        default=8,
        ge=1,
        le=200,
        description="Requests a process works on at once (the rest wait their turn, cheaply, "
        "in the event loop). Past a few per core, more threads only fight over the GIL "
        "and the connection pool: at 40, bench/booking.py measured 40% fewer bookings "
        "per second at 50% more CPU each.",
    )
    db_pool_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="Seconds to wait for a pooled connection before answering 503.",
    )
    db_connect_timeout_s: int = Field(
        default=2,
        ge=2,
        le=60,
        description="PostgreSQL connect timeout (libpq's minimum is 2 s): a database that "
        "is away costs a request at most this, then a 503.",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="redis://host:port/db for the event bus; unset means in-process.",
    )
    redis_timeout_s: float = Field(default=1.0, gt=0, le=30)
    events_stream: str = Field(default="saveit:events", min_length=1)
    events_maxlen: int = Field(default=100_000, ge=1000)
    relay_batch_size: int = Field(default=200, ge=1, le=10_000)
    relay_poll_interval_s: float = Field(
        default=0.05,
        gt=0,
        le=60,
        description="Outbox relay poll interval. It bounds the live feed's latency: 0.05 s "
        "gives p99 ~70 ms booking-to-subscriber (bench/realtime.py; 0.2 s gave ~230 ms) for "
        "20 cheap index-only polls a second.",
    )
    realtime_db_poll_interval_s: float = Field(
        default=0.15,
        gt=0,
        le=10,
        description="Live feed: outbox poll interval while Redis is unreachable.",
    )
    realtime_queue_size: int = Field(
        default=256,
        ge=8,
        le=100_000,
        description="Live feed: messages buffered per subscriber before it is dropped as slow.",
    )
    relay_in_process: bool | None = Field(
        default=None,
        description="Run the outbox relay inside the API process; unset means only "
        "when there is no Redis (the embedded default). Production runs `saveit worker`.",
    )
    # --- Redis for cache and rate limits, and what happens when it is away -------------
    redis_prefix: str = Field(
        default="saveit",
        min_length=1,
        description="Key prefix for the availability cache and rate-limit keys in Redis.",
    )
    redis_op_timeout_s: float = Field(
        default=0.25,
        gt=0,
        le=5,
        description="Socket timeout of the cache/rate-limit Redis client: the most a request "
        "pays for a Redis that hangs before the circuit breaker opens.",
    )
    redis_breaker_failures: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Consecutive Redis failures that open the circuit breaker (Redis skipped).",
    )
    redis_breaker_reset_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds the breaker stays open before one trial call (half-open).",
    )
    availability_cache: bool = Field(
        default=True, description="Serve availability reads from a cache (Redis or in-process)."
    )
    availability_cache_ttl_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Availability cache entry lifetime; invalidation by events is the "
        "normal path, the TTL bounds anything it misses.",
    )
    availability_local_ttl_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="With Redis: keep a copy of hot entries in process memory this long "
        "(0: off). Invalidated with Redis and by the event stream; the TTL bounds staleness "
        "if events stall.",
    )
    config_recheck_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="How long a process trusts its copy of a restaurant's configuration "
        "before asking the database for its config_version again (0: on every request). "
        "Edits made through this process apply at once; through another, within this time.",
    )
    ratelimit_enabled: bool = Field(default=True, description="Answer floods with 429s.")
    ratelimit_ip_per_minute: int = Field(
        default=600, ge=1, description="Requests per client IP per minute (bursts up to it)."
    )
    ratelimit_token_per_minute: int = Field(
        default=3000, ge=1, description="Requests per API bearer token per minute."
    )
    ratelimit_guest_per_hour: int = Field(
        default=10,
        ge=1,
        description="Reservation creates per guest identity (phone, email) per hour.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(_DEV_SECRET),
        description="Signs manage tokens; must be set in production.",
    )
    admin_token: SecretStr | None = Field(
        default=None, description="Bootstrap admin bearer token (all restaurants)."
    )
    default_phone_region: str = Field(
        default="ES", description="Region for phone numbers written without a country code."
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # --- Guest messaging channels -------------------------------------------------------
    public_base_url: str | None = Field(
        default=None,
        description="The URL guests and providers reach SaveIt at (https://book.example.com). "
        "Twilio signs the public URL, which a TLS-terminating proxy hides from the app; "
        "links in messages use it too. Unset: the URL of the request as the app sees it.",
    )
    meta_app_secret: SecretStr | None = Field(
        default=None,
        description="Meta app secret: verifies X-Hub-Signature-256 on WhatsApp and Instagram "
        "webhooks (unset: those webhooks answer 403).",
    )
    meta_verify_token: SecretStr | None = Field(
        default=None, description="Token Meta echoes in the webhook subscription handshake."
    )
    graph_api_base: str = Field(
        default="https://graph.facebook.com", description="Meta Graph API base URL."
    )
    graph_api_version: str = Field(default="v21.0", description="Meta Graph API version.")
    twilio_account_sid: str | None = Field(default=None, description="Twilio account SID.")
    twilio_auth_token: SecretStr | None = Field(
        default=None,
        description="Twilio auth token: verifies X-Twilio-Signature and authenticates sends.",
    )
    twilio_api_base: str = Field(
        default="https://api.twilio.com", description="Twilio REST API base URL."
    )
    smtp_relay_host: str | None = Field(
        default=None, description="SMTP relay for outbound email (unset: email is not sent)."
    )
    smtp_relay_port: int = Field(default=587, ge=1, le=65535)
    smtp_relay_username: str | None = Field(default=None)
    smtp_relay_password: SecretStr | None = Field(default=None)
    smtp_relay_starttls: bool = Field(
        default=True, description="Upgrade the relay connection with STARTTLS."
    )
    smtp_inbound_host: str = Field(
        default="127.0.0.1", description="Interface `saveit smtp` listens on."
    )
    smtp_inbound_port: int = Field(
        default=2525, ge=1, le=65535, description="Port `saveit smtp` listens on."
    )
    channel_http_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of one call to a provider's API."
    )
    channel_send_attempts: int = Field(
        default=6,
        ge=1,
        le=50,
        description="Tries of one outbound message (5xx, timeouts) before it is marked failed.",
    )
    channel_send_backoff_s: float = Field(
        default=2.0,
        gt=0,
        le=3600,
        description="First retry delay of an outbound message; doubles on each try.",
    )
    channel_guest_per_minute: int = Field(
        default=20,
        ge=1,
        description="Messages one guest identity may send per minute before the bot stops "
        "answering them (they are still stored).",
    )
    chat_bot: bool = Field(
        default=True,
        description="Let the bot answer guests (book, change, cancel, hours). Off, guests "
        "get one acknowledgement and staff answer every conversation from the dashboard.",
    )
    chat_pending_minutes: int = Field(
        default=30,
        ge=1,
        le=1440,
        description="How long the bot keeps a guest's unconfirmed booking, change or "
        'cancellation before dropping it (a late "yes" then starts over).',
    )
    channel_workers_in_api: bool | None = Field(
        default=None,
        description="Answer and deliver guest messages inside the API processes too; unset "
        "means only where no `saveit worker` runs (the relay runs in process). Production "
        "leaves the API processes to acknowledging webhooks and serving screens, and the "
        "worker, woken by PostgreSQL NOTIFY, answers.",
    )
    channel_workers_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much `saveit worker` lowers the CPU priority (Unix nice, per thread, "
        "Linux) of its threads that answer and deliver guest messages: that work waits behind "
        "an acknowledgement, while providers and people wait on the API. 0 keeps it equal.",
    )
    channel_worker_poll_s: float = Field(
        default=0.2,
        gt=0,
        le=60,
        description="How often channel workers look for inbound messages and due sends "
        "that another process received (a process's own are handled at once).",
    )
    # --- check-in (saveit.checkin) ---------------------------------------------------
    qr_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Check-in QR signing keys by key id, as JSON: {"K2": "...", "K1": "..."}. '
        "Every listed key verifies; retire one by removing it. Empty: one key (id K0) "
        "derived from SAVEIT_SECRET_KEY.",
    )
    qr_key_id: str | None = Field(
        default=None,
        description="Which of SAVEIT_QR_KEYS signs new check-in tokens (default: the first).",
    )
    # --- notifications, reminders, no-shows (saveit.notify) ------------------------------
    notify_enabled: bool = Field(
        default=True,
        description="Tell guests about their bookings (confirmation, change, cancellation, "
        "reminders, no-show) on their allowed channels.",
    )
    reminder_offsets_minutes: list[int] = Field(
        default_factory=lambda: [24 * 60, 120],
        description="When reminders go out, in minutes before the booking, as JSON: [1440, 120].",
    )
    reminder_catch_up_minutes: int = Field(
        default=60,
        ge=1,
        le=24 * 60,
        description="A reminder the scheduler missed (it was down) still goes out this long "
        "after it was due; later it is skipped as stale.",
    )
    scheduler_interval_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="How often `saveit worker` looks for due reminders and no-shows.",
    )
    # --- waitlist (saveit.waitlist) -----------------------------------------------------
    waitlist_enabled: bool = Field(
        default=True,
        description="Offer guests refused as full a place on the day's waitlist, and hold "
        "freed seats for them.",
    )
    waitlist_hold_minutes: int = Field(
        default=15,
        ge=1,
        le=24 * 60,
        description="How long a seat is held for a waitlist guest to accept the offer "
        "(a quarter of the time left before the start when that is shorter, 2 minutes at least).",
    )
    waitlist_window_minutes: int = Field(
        default=60,
        ge=0,
        le=6 * 60,
        description="Default window of a waitlist entry: starts this many minutes either "
        "side of the time asked for.",
    )
    waitlist_sweep_s: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="How often `saveit worker` expires holds, closes passed entries and "
        "offers again on days someone waits.",
    )

    # --- security: email proof and SMTP ingress (saveit.channels.email.proof) ---------------
    email_proof_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 90,
        description="How long an email sender's proof of its address (a reply to our reply "
        "address, a DKIM signature, a typed code) lets it see and change that address's "
        "bookings; each proven message renews it.",
    )
    smtp_inbound_tls_cert: Path | None = Field(
        default=None,
        description="PEM certificate (chain) for STARTTLS on `saveit smtp` (unset: no STARTTLS).",
    )
    smtp_inbound_tls_key: Path | None = Field(
        default=None,
        description="PEM private key of SAVEIT_SMTP_INBOUND_TLS_CERT (unset: in the cert file).",
    )
    smtp_inbound_max_recipients: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Recipients accepted per message on `saveit smtp`; more get 452.",
    )
    smtp_inbound_max_connections_per_ip: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Open connections to `saveit smtp` per client address; more get 421.",
    )
    # --- security: channel accounts and secrets at rest ---------------------------------
    encryption_keys: list[SecretStr] = Field(
        default_factory=list,
        description='Fernet keys that seal provider secrets at rest, as JSON: ["new", "old"]. '
        "The first seals, every one opens; `saveit secrets rotate` re-seals under the first, "
        'then old ones can go. "derived" names the key derived from SAVEIT_SECRET_KEY, '
        "which is the only key when the list is empty. Make one with `saveit secrets new-key`.",
    )
    # --- security: privacy ---
    message_retention_days: int = Field(
        default=180,
        ge=1,
        le=3650,
        description="Days a guest message's text and the provider's raw payload (and an "
        "expired link code) are kept; then the scheduler blanks them (the message row stays "
        "for statistics) and deletes the link code.",
    )
    # --- security: abuse limits (saveit.ratelimit.abuse, saveit.booking.holds) ---------
    ratelimit_create_ip_per_hour: int = Field(
        default=20,
        ge=1,
        description="Public reservation creates per client IP per hour (staff are exempt): "
        "a client cannot fill a service by inventing guests.",
    )
    ratelimit_unverified_per_restaurant_per_hour: int = Field(
        default=120,
        ge=1,
        description="Public reservation creates one restaurant takes per hour from callers "
        "who are not its staff (every client and IP together): a flood from many addresses "
        "cannot fill a service either.",
    )
    codes_per_contact_per_hour: int = Field(
        default=3,
        ge=1,
        description="One-time codes (chat links, booking verification) sent to one phone "
        "number or email address per hour.",
    )
    codes_per_ip_per_hour: int = Field(
        default=10,
        ge=1,
        description="One-time codes one client IP may have sent per hour.",
    )
    codes_per_restaurant_per_day: int = Field(
        default=200,
        ge=1,
        description="One-time codes one restaurant sends per day in all: the ceiling on "
        "what SMS pumping can cost it.",
    )
    booking_hold_minutes: int = Field(
        default=15,
        ge=1,
        le=24 * 60,
        description="How long a public booking held for verification (rule "
        "`verify_public_bookings`) waits for the guest's code before it is cancelled and "
        "its table freed.",
    )
    webchat_connections_per_ip: int = Field(
        default=20,
        ge=1,
        description="Web chat WebSockets one client IP may hold open at once (per API "
        "process); more are closed with 1008 (policy violation).",
    )
    webchat_sessions_per_ip_per_hour: int = Field(
        default=30,
        ge=1,
        description="New web chat sessions (a socket without a session token) one client "
        "IP may start per hour; more are refused before the handshake completes.",
    )
    # --- security: tokens and credentials ------------------------------------------------
    env: Environment = Field(
        default=Environment.DEVELOPMENT,
        description="development | test | production (any case). Production refuses short "
        "or default secrets; an unknown value stops the process at startup.",
    )
    manage_token_grace_hours: int = Field(
        default=72,
        ge=0,
        le=24 * 365,
        description="A guest's manage token stops working this long after the booking ends.",
    )
    qr_link_grace_hours: int = Field(
        default=24,
        ge=0,
        le=24 * 30,
        description="QR image links (sent by SMS, fetched by Meta) work until this long after "
        "the booking ends; they show the QR and nothing else.",
    )
    staff_token_ttl_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Lifetime of a staff token issued without an explicit TTL.",
    )
    staff_token_max_ttl_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="The longest lifetime a staff token may be issued with.",
    )
    live_token_recheck_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often an open live-feed socket re-checks its staff token: a revoked "
        "or expired token's sockets close within this time.",
    )
    max_header_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="Largest total size of a request's header lines; larger requests get 431.",
    )
    max_header_count: int = Field(
        default=100,
        ge=10,
        le=1000,
        description="Most header lines one request may carry; more get 431.",
    )
    # --- operations: partitions, read replica (saveit.store.partitions, .replica) -------
    partition_months_ahead: int = Field(
        default=3,
        ge=1,
        le=24,
        description="PostgreSQL: monthly partitions of the append-only tables are kept "
        "created this many months ahead by the scheduler.",
    )
    partition_check_interval_s: float = Field(
        default=3600.0,
        gt=0,
        description="How often the scheduler's partition job runs (it is idempotent).",
    )
    retention_audit_months: int = Field(
        default=24,
        ge=1,
        description="Months of the audit log (reservation_log) kept before their partition "
        "is dropped.",
    )
    retention_outbox_months: int = Field(
        default=3,
        ge=1,
        description="Months of outbox events kept; a month with an unpublished event stays.",
    )
    retention_processed_events_months: int = Field(
        default=3,
        ge=1,
        description="Months of consumer idempotency records kept; must outlast the event "
        "stream's replay horizon.",
    )
    retention_messages_months: int = Field(
        default=12,
        ge=1,
        description="Months of channel messages kept; a month with an unanswered or unsent "
        "message stays.",
    )
    database_replica_url: str | None = Field(
        default=None,
        description="PostgreSQL streaming replica for reads that tolerate lag (availability, "
        "live-feed snapshots, lists); unset means every read goes to the primary.",
    )
    replica_max_lag_s: float = Field(
        default=5.0,
        gt=0,
        description="Reads go back to the primary while the replica's replay lags more "
        "than this (or it is unreachable).",
    )
    replica_check_interval_s: float = Field(
        default=2.0,
        gt=0,
        description="How often, at most, the replica's lag is measured (not per request).",
    )
    # --- operations: observe (saveit.observe) ------------------------------------------
    metrics_enabled: bool = Field(
        default=True,
        description="Count requests, bookings, messages and events, and serve them in the "
        "Prometheus format at /metrics (and on SAVEIT_WORKER_METRICS_PORT for the worker).",
    )
    worker_metrics_port: int = Field(
        default=9464,
        ge=0,
        le=65535,
        description="Port where `saveit worker` serves /metrics (0: none).",
    )
    worker_metrics_host: str = Field(
        default="0.0.0.0",  # noqa: S104 - scraped from outside the worker's container
        description="Interface of the worker's metrics server.",
    )
    log_format: str | None = Field(
        default=None,
        pattern="^(json|text)$",
        description="json (one object per line) or text; unset: json in production, "
        "text in development.",
    )
    log_level: str = Field(default="INFO", description="Root log level (DEBUG, INFO, ...).")
    otel_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces endpoint (http://collector:4318/v1/traces); unset: "
        "no tracing.",
    )
    otel_service_name: str = Field(default="saveit", description="service.name of the traces.")
    audit_interval_s: float = Field(
        default=300.0,
        ge=0,
        description="How often `saveit worker` checks that no two active bookings overlap "
        "on a table (0: never; `saveit audit` checks on demand).",
    )
    delivery_lease_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long a channel worker holds a message it answers or sends before "
        "another process may take it over.",
    )
    notify_reclaim_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long an event handed to a notifier that went silent waits before "
        "another notifier takes it over.",
    )

    @field_validator("encryption_keys")
    @classmethod
    def _fernet_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        from saveit.store.secret_box import check_key

        for key in value:
            check_key(key.get_secret_value())
        return value

    @field_validator("database_url", "redis_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return value or None

    @field_validator("env", mode="before")
    @classmethod
    def _env_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("database_replica_url", mode="before")
    @classmethod
    def _blank_replica_is_none(cls, value: object) -> object:
        return value or None

    @field_validator("reminder_offsets_minutes")
    @classmethod
    def _positive_offsets(cls, value: list[int]) -> list[int]:
        if any(offset <= 0 or offset > 30 * 24 * 60 for offset in value):
            raise ValueError("reminder offsets are minutes before the booking, 1 to 43200")
        return sorted(set(value), reverse=True)

    @model_validator(mode="after")
    def _signing_key_known(self) -> Settings:
        if self.qr_key_id is not None and self.qr_key_id not in self.qr_keys:
            raise ValueError("SAVEIT_QR_KEY_ID must name one of SAVEIT_QR_KEYS")
        if self.staff_token_ttl_days > self.staff_token_max_ttl_days:
            raise ValueError("SAVEIT_STAFF_TOKEN_TTL_DAYS exceeds SAVEIT_STAFF_TOKEN_MAX_TTL_DAYS")
        return self

    @property
    def resolved_replica_url(self) -> str | None:
        if self.database_replica_url is None:
            return None
        return normalise_database_url(self.database_replica_url)

    @property
    def retention_months(self) -> dict[str, int]:
        """Retention per partitioned table, for :class:`saveit.store.partitions.PartitionKeeper`."""
        return {
            "reservation_log": self.retention_audit_months,
            "outbox": self.retention_outbox_months,
            "processed_events": self.retention_processed_events_months,
            "channel_messages": self.retention_messages_months,
        }

    @property
    def resolved_log_format(self) -> str:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.env is Environment.PRODUCTION else "text"

    @property
    def runs_relay_in_process(self) -> bool:
        return self.redis_url is None if self.relay_in_process is None else self.relay_in_process

    @property
    def runs_channel_workers_in_api(self) -> bool:
        if self.channel_workers_in_api is None:
            return self.runs_relay_in_process
        return self.channel_workers_in_api

    @model_validator(mode="after")
    def _strong_secrets_in_production(self) -> Settings:
        if self.env is not Environment.PRODUCTION:
            return self
        if self.uses_development_secret:
            raise ValueError("SAVEIT_SECRET_KEY must be set when SAVEIT_ENV=production")
        weak = [
            name
            for name, secret in (
                ("SAVEIT_SECRET_KEY", self.secret_key),
                ("SAVEIT_ADMIN_TOKEN", self.admin_token),
                *((f"SAVEIT_QR_KEYS[{k}]", v) for k, v in self.qr_keys.items()),
            )
            if secret is not None and len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES
        ]
        if weak:
            raise ValueError(
                f"{', '.join(weak)} must be at least {MIN_SECRET_BYTES} bytes when "
                "SAVEIT_ENV=production (python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')"
            )
        return self

    @property
    def uses_development_secret(self) -> bool:
        return self.secret_key.get_secret_value() == _DEV_SECRET

    @property
    def resolved_database_url(self) -> str:
        """The URL SQLAlchemy gets: plain ``postgresql://`` is mapped onto psycopg 3."""
        if self.database_url is None:
            return f"sqlite:///{(self.data_dir / 'saveit.db').resolve()}"
        return normalise_database_url(self.database_url)


def normalise_database_url(url: str) -> str:
    """Accept the URL forms PostgreSQL tools write (``postgres://``, ``postgresql://``)."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_settings() -> Settings:
    return Settings()


class ExposedDevelopmentSecret(RuntimeError):
    """The development secret would sign tokens that people outside this machine see."""


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_exposed_development_secret(settings: Settings, *, bind_host: str | None = None) -> None:
    """Stop a process that would serve others while signing with the published
    development secret: anyone could then forge manage tokens and QR codes offline.

    Exposed means listening on a non-loopback ``bind_host``, or links going out
    under a non-loopback ``SAVEIT_PUBLIC_BASE_URL``.
    """
    if not settings.uses_development_secret:
        return
    where: list[str] = []
    if bind_host is not None and not is_loopback(bind_host):
        where.append(f"listening on {bind_host}")
    public_host = urlsplit(settings.public_base_url or "").hostname
    if public_host and not is_loopback(public_host):
        where.append(f"public at {settings.public_base_url}")
    if where:
        raise ExposedDevelopmentSecret(
            f"Refusing to run {' and '.join(where)} with the development SAVEIT_SECRET_KEY: "
            "set SAVEIT_SECRET_KEY to a random value of at least "
            f"{MIN_SECRET_BYTES} bytes, or listen on 127.0.0.1."
        )
