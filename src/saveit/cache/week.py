"""Which days a guest's availability miss fills: the week that holds the day asked for.

A guest rarely asks for one day: the booking widget shows a week and a chat
offers the days around the one wanted, so the next reads of a restaurant that
has just missed are its neighbouring days. Each of those was a miss of its own
— a round trip to PostgreSQL for the day's bookings, one to Redis to store it,
and the routing of the request — although the bookings of a whole week come
back in one index range scan barely slower than one day's
(``bench/tenants.py``, cold). So a miss reads the week's bookings once and
stores every day of the week that was not cached yet; later reads of those days
are Redis hits answered before routing.

The week is the calendar week (Monday to Sunday) in the restaurant's time zone,
as the widget pages it, clipped to the days a guest may book (today to
``max_days_ahead``): aligned weeks mean a restaurant's guests share the same
fills instead of each starting a window of their own.
"""

from __future__ import annotations

from datetime import date, timedelta

WEEK_DAYS = 7


def week_of(day: date, today: date, max_days_ahead: int) -> list[date]:
    """The days of ``day``'s week that a guest may book, ``day`` first. Just ``day``
    when it lies outside that range (the read answers it as it is, empty or not)."""
    last = today + timedelta(days=max_days_ahead)
    if not today <= day <= last:
        return [day]
    monday = day - timedelta(days=day.weekday())
    days = [monday + timedelta(days=i) for i in range(WEEK_DAYS)]
    return [day, *(d for d in days if d != day and today <= d <= last)]
