"""What the console's pages call: services only, handed in by the app factory."""

from __future__ import annotations

from dataclasses import dataclass

from saveit.accounts import SignIn, StaffAccounts
from saveit.admin.guests import GuestBook
from saveit.admin.inbox import StaffInbox
from saveit.config import Settings


@dataclass(frozen=True, slots=True)
class ConsoleServices:
    signin: SignIn
    staff: StaffAccounts
    settings: Settings
    inbox: StaffInbox
    guests: GuestBook

    @property
    def secret(self) -> bytes:
        return self.settings.secret_key.get_secret_value().encode()
