"""What the console's pages call: services only, handed in by the app factory."""

from __future__ import annotations

from dataclasses import dataclass

from saveit.accounts import SignIn, StaffAccounts
from saveit.admin.channel_accounts import ChannelAccounts
from saveit.admin.guests import GuestBook
from saveit.admin.inbox import StaffInbox
from saveit.admin.restaurants import RestaurantAdmin
from saveit.analytics.service import Analytics
from saveit.booking.day_sheet import DaySheets
from saveit.booking.service import BookingService
from saveit.checkin import CheckIn
from saveit.config import Settings
from saveit.realtime.backlog import Backlog


@dataclass(frozen=True, slots=True)
class ConsoleServices:
    signin: SignIn
    staff: StaffAccounts
    settings: Settings
    analytics: Analytics  # the figures, as the API's report serves them
    restaurants: RestaurantAdmin  # setup: profile, hours, dates, tables, rules
    accounts: ChannelAccounts  # setup: channel accounts
    checkin: CheckIn  # the door scanner
    inbox: StaffInbox
    guests: GuestBook
    booking: BookingService
    sheets: DaySheets
    backlog: Backlog

    @property
    def secret(self) -> bytes:
        return self.settings.secret_key.get_secret_value().encode()
