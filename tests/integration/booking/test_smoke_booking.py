from __future__ import annotations

from datetime import UTC, datetime

from saveit.bootstrap import Container
from saveit.domain.commands import Actor, CreateReservation, GuestDetails

GUEST = Actor("guest", "web", "webchat")


def test_a_guest_books_the_smallest_free_table(container: Container, demo: str) -> None:
    start = datetime(2026, 6, 3, 19, 0, tzinfo=UTC)  # 21:00 in Madrid
    made = container.booking.create(
        CreateReservation(demo, start, 2, GuestDetails(name="Ana", phone="600111222")), GUEST
    )
    assert made.reservation.tables == ("T1",)
    assert made.reservation.guest is not None
    assert made.reservation.guest.phone == "+34600111222"
