"""What guests receive after booking: the check-in QR, notifications and
reminders, the waitlist's offers, and how long their messages are kept."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator


class GuestSettings(BaseModel):
    """The check-in, notification, waitlist and retention knobs of
    :class:`saveit.config.Settings` (see there)."""

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
    qr_link_grace_hours: int = Field(
        default=24,
        ge=0,
        le=24 * 30,
        description="QR image links (sent by SMS, fetched by Meta) work until this long after "
        "the booking ends; they show the QR and nothing else.",
    )
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
    notify_reclaim_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long an event handed to a notifier that went silent waits before "
        "another notifier takes it over.",
    )
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
    message_retention_days: int = Field(
        default=180,
        ge=1,
        le=3650,
        description="Days a guest message's text and the provider's raw payload (and an "
        "expired link code) are kept; then the scheduler blanks them (the message row stays "
        "for statistics) and deletes the link code.",
    )

    @field_validator("reminder_offsets_minutes")
    @classmethod
    def _positive_offsets(cls, value: list[int]) -> list[int]:
        if any(offset <= 0 or offset > 30 * 24 * 60 for offset in value):
            raise ValueError("reminder offsets are minutes before the booking, 1 to 43200")
        return sorted(set(value), reverse=True)
