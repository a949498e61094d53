"""A day or a time the guest leaves open is asked, never guessed: through the
signed WhatsApp webhook, the bot asks one short question with the readings as
buttons, the guest taps one, and the booking goes ahead on it.

The clock stands at Monday 2026-06-01 11:00 in Madrid; the demo restaurant
serves lunch 13:00-16:00 and dinner 20:00-23:30 every day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from saveit.bootstrap import Container
from saveit.domain.model import Status
from tests.conftest import ADMIN_TOKEN
from tests.integration.conversation.test_conversation_channels import (
    WhatsAppGuest,
    code_in,
    graph,
    staff_view,
    wa_app,
    wa_text,
)
from tests.integration.conversation.test_conversation_dialogue import (
    Guest,
    book,
    booked_code,
    gateway,
    lucia,
    senders,
    text,
)
from tests.recording_http import RecordingServer

__all__ = ["gateway", "graph", "lucia", "senders", "wa_app"]  # the fixtures these tests run on

STAFF = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def buttons(sent: dict[str, Any]) -> dict[str, str]:
    """Title to id of the buttons of one WhatsApp message."""
    assert sent["type"] == "interactive", sent
    return {b["reply"]["title"]: b["reply"]["id"] for b in sent["interactive"]["action"]["buttons"]}


def book_by_tapping(guest: WhatsAppGuest, question: dict[str, Any], title: str) -> str:
    """Tap ``title`` on the question, then "Sí" on the confirmation; the code booked."""
    confirm = guest.taps(buttons(question)[title], title, "button_reply")
    assert "¿Te reservo mesa para 2 personas" in wa_text(confirm), wa_text(confirm)
    done = guest.taps(buttons(confirm)["Sí"], "Sí", "button_reply")
    return code_in(wa_text(done))


def booked_at(client: TestClient, container: Container, code: str) -> tuple[str, str]:
    tz = container.booking.restaurant("demo").tz
    local = container.booking.get(code).start.astimezone(tz)
    [row] = [r for r in staff_view(client, local.date().isoformat()) if r["code"] == code]
    assert row["status"] == "confirmed"
    return local.date().isoformat(), local.strftime("%H:%M")


def test_a_time_that_contradicts_the_part_of_day_is_asked(
    wa_app: tuple[TestClient, Container], graph: RecordingServer
) -> None:
    """Fails before the fix: "por la noche a las 14:00" was booked at 14:00 unasked."""
    client, container = wa_app
    lucia = WhatsAppGuest(client, graph)

    question = lucia.says("mesa para 2 mañana por la noche a las 14:00")

    assert "no encajan con la parte del día" in wa_text(question)
    assert set(buttons(question)) == {"14:00", "Otra, por la noche"}
    code = book_by_tapping(lucia, question, "14:00")
    assert booked_at(client, container, code) == ("2026-06-02", "14:00")


def test_a_part_of_day_picked_instead_offers_that_evening(
    wa_app: tuple[TestClient, Container], graph: RecordingServer
) -> None:
    """Fails before the fix: the contradiction was not noticed, so no evening was offered."""
    client, container = wa_app
    lucia = WhatsAppGuest(client, graph)

    question = lucia.says("mesa para 2 mañana para cenar a las 13:30")
    times = lucia.taps(
        buttons(question)["Otra, por la noche"], "Otra, por la noche", "button_reply"
    )

    assert "¿A qué hora?" in wa_text(times)
    rows = times["interactive"]["action"]["sections"][0]["rows"]
    evening = next(r for r in rows if r["title"] == "21:00")
    confirm = lucia.taps(evening["id"], evening["title"], "list_reply")
    done = lucia.taps(buttons(confirm)["Sí"], "Sí", "button_reply")
    assert booked_at(client, container, code_in(wa_text(done))) == ("2026-06-02", "21:00")


def test_a_weekday_that_disagrees_with_the_date_is_asked(
    wa_app: tuple[TestClient, Container], graph: RecordingServer
) -> None:
    """Fails before the fix: "el viernes 3" (the 3rd is a Wednesday) was read as one
    of the two days without a word."""
    client, container = wa_app
    lucia = WhatsAppGuest(client, graph)

    question = lucia.says("mesa para 2 el viernes 3 a las 21:00")

    assert "no es viernes" in wa_text(question)
    assert set(buttons(question)) == {"vie 5 jun", "mié 3 jun"}
    code = book_by_tapping(lucia, question, "vie 5 jun")
    assert booked_at(client, container, code) == ("2026-06-05", "21:00")


def test_an_hour_in_two_services_is_asked(
    wa_app: tuple[TestClient, Container], graph: RecordingServer
) -> None:
    """Fails before the fix: "a las 9" at a place serving breakfast and dinner was
    booked at 21:00 unasked."""
    client, container = wa_app
    services = [
        {"name": "breakfast", "opens": "08:00", "closes": "11:30"},
        {"name": "dinner", "opens": "20:00", "closes": "23:30"},
    ]
    put = client.put("/v1/restaurants/demo/services", json=services, headers=STAFF)
    assert put.status_code == 200, put.text
    lucia = WhatsAppGuest(client, graph)

    question = lucia.says("mesa para 2 mañana a las 9")

    assert "¿Las 09:00 o las 21:00?" in wa_text(question)
    code = book_by_tapping(lucia, question, "09:00")
    assert booked_at(client, container, code) == ("2026-06-02", "09:00")


def test_a_message_that_only_lists_facts_starts_a_booking(
    container: Container, lucia: Guest
) -> None:
    """Fails before the fix: "2 personas, mañana, 21:00" was not understood."""
    asked = lucia.says("2 personas, mañana, 21:00")
    assert "¿Te reservo mesa para 2 personas" in text(asked)
    view = container.booking.get(booked_code(lucia.says("sí")))
    assert (view.party_size, view.start) == (2, datetime(2026, 6, 2, 19, 0, tzinfo=UTC))


def test_listed_facts_answer_a_pending_change_instead_of_booking_anew(
    container: Container, lucia: Guest
) -> None:
    code = book(lucia, "mesa para 2 mañana a las 21:00")
    assert "¿Qué cambio" in text(lucia.says("quiero cambiar mi reserva"))
    sure = lucia.says("3 personas, mañana, 22:00")
    assert code in text(sure)
    lucia.says("sí")
    moved = container.booking.get(code)
    assert (moved.party_size, moved.start) == (3, datetime(2026, 6, 2, 20, 0, tzinfo=UTC))
    assert moved.status is Status.CONFIRMED
    day = datetime(2026, 6, 2).date()
    assert [r.code for r in container.booking.list_for_day("demo", day)] == [code]
