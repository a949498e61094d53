"""A day or a time the guest's words leave open, and the readings to ask between.

The parser never guesses between two readings a careful person could not tell
apart; it returns neither and says why, and the dialogue asks one short
question with the readings as buttons:

* ``part_of_day``: the time contradicts the part of day said with it
  ("esta noche a las 14:00", "dinner at 1:30pm");
* ``weekday_date``: the weekday is not the day of that date ("vie 22" when
  the 22nd is a Tuesday);
* ``two_services``: an hour without am/pm falls in two services of the day
  ("a las 9" where breakfast and dinner are both served).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

__all__ = ["Ambiguity"]


@dataclass(frozen=True, slots=True)
class Ambiguity:
    kind: str  # "part_of_day" | "weekday_date" | "two_services"
    dates: tuple[date, ...] = ()  # the days to choose from (weekday_date)
    times: tuple[time, ...] = ()  # the times to choose from (part_of_day, two_services)
    part: str | None = None  # the part of day said, when no time fits it ("night", "lunch")
