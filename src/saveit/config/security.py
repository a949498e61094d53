"""Secrets, credentials and the limits that keep one client from costing a
restaurant: the checks that production turns on live in :mod:`.settings`."""

from __future__ import annotations

from enum import StrEnum

from cryptography.fernet import Fernet
from pydantic import BaseModel, Field, SecretStr, field_validator

DEV_SECRET = "dev-only-secret-change-me"  # noqa: S105 - refused outside the embedded default
MIN_SECRET_BYTES = 32
"""Production secrets are at least this long: 256 bits when they are random."""


DERIVED = "derived"


def check_key(key: str) -> None:
    """Raise ValueError unless ``key`` is a Fernet key (or ``"derived"``): checked when
    the settings load, so a bad key stops the process before it seals anything."""
    if key == DERIVED:
        return
    try:
        Fernet(key.encode())
    except (ValueError, TypeError) as exc:
        raise ValueError(
            "each SAVEIT_ENCRYPTION_KEYS entry is a Fernet key: 32 url-safe base64 bytes "
            '(make one with `saveit secrets new-key`) or "derived"'
        ) from exc


class Environment(StrEnum):
    """Where SaveIt runs; only ``production`` turns on the secret checks."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SecuritySettings(BaseModel):
    """The security knobs of :class:`saveit.config.Settings` (see there)."""

    env: Environment = Field(
        default=Environment.DEVELOPMENT,
        description="development | test | production (any case). Production refuses short "
        "or default secrets; an unknown value stops the process at startup.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET),
        description="Signs manage tokens; must be set in production.",
    )
    admin_token: SecretStr | None = Field(
        default=None, description="Bootstrap admin bearer token (all restaurants)."
    )
    encryption_keys: list[SecretStr] = Field(
        default_factory=list,
        description='Fernet keys that seal provider secrets at rest, as JSON: ["new", "old"]. '
        "The first seals, every one opens; `saveit secrets rotate` re-seals under the first, "
        'then old ones can go. "derived" names the key derived from SAVEIT_SECRET_KEY, '
        "which is the only key when the list is empty. Make one with `saveit secrets new-key`.",
    )
    manage_token_grace_hours: int = Field(
        default=72,
        ge=0,
        le=24 * 365,
        description="A guest's manage token stops working this long after the booking ends.",
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
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
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

    @field_validator("encryption_keys")
    @classmethod
    def _fernet_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        for key in value:
            check_key(key.get_secret_value())
        return value

    @field_validator("env", mode="before")
    @classmethod
    def _env_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def uses_development_secret(self) -> bool:
        return self.secret_key.get_secret_value() == DEV_SECRET
