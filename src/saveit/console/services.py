"""What the console's pages call: services only, handed in by the app factory."""

from __future__ import annotations

from dataclasses import dataclass

from saveit.accounts import SignIn, StaffAccounts
from saveit.booking.day_sheet import DaySheets
from saveit.booking.service import BookingService
from saveit.config import Settings
from saveit.realtime.backlog import Backlog


@dataclass(frozen=True, slots=True)
class ConsoleServices:
    signin: SignIn
    staff: StaffAccounts
    settings: Settings
    booking: BookingService
    sheets: DaySheets
    backlog: Backlog

    @property
    def secret(self) -> bytes:
        return self.settings.secret_key.get_secret_value().encode()
