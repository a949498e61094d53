"""The staff console's knobs: how long a browser stays signed in, and how hard
guessing a password is made."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ConsoleSettings(BaseModel):
    """The console knobs of :class:`saveit.config.Settings` (see there)."""

    console_session_hours: int = Field(
        default=12,
        ge=1,
        le=24 * 30,
        description="A console sign-in lasts at most this long, however active.",
    )
    console_idle_minutes: int = Field(
        default=120,
        ge=5,
        le=24 * 60,
        description="A console session unused this long is over (sign in again).",
    )
    console_signin_failures: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Failed sign-ins in a row that lock a staff account.",
    )
    console_lockout_minutes: int = Field(
        default=15,
        ge=1,
        le=24 * 60,
        description="How long a locked staff account refuses every sign-in.",
    )
    console_signin_per_minute: int = Field(
        default=10,
        ge=1,
        description="Sign-in attempts per client IP per minute, and per email address "
        "(whether or not it has an account) per 15 minutes at twice this number.",
    )
