"""The bot's dialogue on an in-memory booking engine: proposing, asking, refusing,
changing and cancelling, with no database. The same conversations run through
the real gateway and engine in ``tests/integration/test_conversation_*.py``.

The clock stands at Monday 2026-06-01 11:00 in Madrid; the demo restaurant
serves lunch 13:00-16:00 and dinner 20:00-23:30 every day.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from saveit.domain.messages import Choice
from saveit.domain.model import Status
from saveit.domain.views import ReservationView
from tests.unit.conversation.fakes import Chat, MemoryBooking, MemoryGuests, text

TUESDAY_21 = datetime(2026, 6, 2, 19, 0, tzinfo=UTC)  # 21:00 in Madrid
TUESDAY_22 = datetime(2026, 6, 2, 20, 0, tzinfo=UTC)


@pytest.fixture
def lucia() -> Chat:
    return Chat(guests=MemoryGuests({7: ("Lucía", None)}))


def awaiting(chat: Chat) -> object:
    return chat.state["awaiting"]


def only_booking(booking: MemoryBooking) -> ReservationView:
    [view] = booking.reservations.values()
    return view


def test_a_message_with_everything_is_proposed_and_booked_after_a_yes(lucia: Chat) -> None:
    asked = lucia.says("Hola! quiero reservar mesa para 4 mñn a las 9 de la noche x favor")
    said = text(asked)
    assert "4 personas" in said
    assert "martes, 2 de junio" in said
    assert "21:00" in said
    assert "Lucía" in said  # the name the guest is known by
    assert [b.id for b in asked[-1].buttons] == ["yes", "no"]
    assert lucia.booking.reservations == {}  # nothing is written before the yes

    done = lucia.says("si")
    view = only_booking(lucia.booking)
    assert view.code in text(done)
    assert (view.start, view.party_size, view.source) == (TUESDAY_21, 4, "whatsapp")
    assert view.guest is not None
    assert view.guest.id == 7
    assert lucia.state["request"] is None


def test_the_guest_is_looked_up_once_per_turn_at_most(lucia: Chat) -> None:
    lucia.says("mesa para 2 mañana a las 21:00")
    assert lucia.guests.asked == 1  # the language hint and the name, from one read
    lucia.says("si")
    assert lucia.guests.asked <= 2


def test_a_missing_party_size_and_time_are_asked_one_at_a_time(lucia: Chat) -> None:
    assert "¿Para qué día" in text(lucia.says("quiero reservar"))
    assert "¿Cuántas personas" in text(lucia.says("el viernes"))
    times = lucia.says("somos 3")
    assert "viernes, 5 de junio" in text(times)
    offered = [o.title for o in times[-1].choices]
    assert "13:00" in offered
    assert any(t.startswith("2") for t in offered)  # dinner too
    index = offered.index(next(t for t in offered if t.startswith("21")))
    confirm = lucia.taps(times[-1], index)
    assert offered[index] in text(confirm)
    assert lucia.booking.reservations == {}

    lucia.taps(confirm[-1], 0)  # "Sí"
    view = only_booking(lucia.booking)
    assert view.party_size == 3
    local = view.start.astimezone(lucia.booking.restaurant_.tz)
    assert local.strftime("%a %H:%M") == f"Fri {offered[index]}"


def test_a_bare_number_answers_the_question_just_asked(lucia: Chat) -> None:
    asked = lucia.says("mesa mañana a las 21:00")
    assert "¿Cuántas personas" in text(asked)
    assert "2 personas" in text(lucia.says("2"))
    assert awaiting(lucia) == "confirm"


def test_a_guest_with_no_name_is_asked_for_one_in_english() -> None:
    john = Chat(channel="sms")
    asked = john.says("Hi, can I get a table for 2 tomorrow at 8pm please?")
    assert "What name" in text(asked)
    asked = john.says("John Smith")
    assert "Shall I book a table for 2 people on Tuesday, June 2 at 20:00 under John Smith" in (
        text(asked)
    )
    assert [b.title for b in asked[-1].buttons] == ["Yes", "No"]
    john.says("yes")
    view = only_booking(john.booking)
    assert view.guest is not None
    assert view.guest.name == "John Smith"


def test_a_correction_replaces_one_slot_and_keeps_the_rest(lucia: Chat) -> None:
    lucia.says("reserva para 2 mañana a las 21:00")
    corrected = text(lucia.says("no, mejor a las 22:00"))
    assert "22:00" in corrected
    assert "2 personas" in corrected
    lucia.says("sí")
    assert only_booking(lucia.booking).start == TUESDAY_22


def test_a_no_to_the_proposal_asks_what_to_change(lucia: Chat) -> None:
    lucia.says("mesa para 2 mañana a las 21:00")
    assert "¿Qué cambio" in text(lucia.says("no"))
    assert lucia.booking.reservations == {}
    assert "3 personas" in text(lucia.says("somos 3"))


def test_a_taken_time_is_refused_with_the_nearest_free_ones(lucia: Chat) -> None:
    lucia.booking.fill(TUESDAY_21, 4)
    taken = len(lucia.booking.reservations)
    offered = lucia.says("mesa para 4 mañana a las 21:00")
    assert "no me queda mesa" in text(offered)
    choices = [c.title for c in offered[-1].choices]
    assert choices
    assert "21:00" not in choices
    confirm = lucia.taps(offered[-1], 0)
    lucia.says("vale")
    assert len(lucia.booking.reservations) == taken + 1
    mine = lucia.booking.upcoming_of_guest("demo", 7)
    [view] = mine
    local = view.start.astimezone(lucia.booking.restaurant_.tz).strftime("%H:%M")
    assert choices[0].endswith(local)
    assert local in text(confirm)


def test_a_table_taken_between_the_question_and_the_yes_gets_alternatives(
    lucia: Chat,
) -> None:
    lucia.says("mesa para 2 mañana a las 21:00")
    lucia.booking.taken_behind_the_bot = True
    refused = lucia.says("sí")
    assert "no me queda mesa" in text(refused)
    assert refused[-1].choices
    assert lucia.booking.upcoming_of_guest("demo", 7) == []
    assert awaiting(lucia) == "time"


def test_rules_are_explained_before_anything_is_proposed(lucia: Chat) -> None:
    assert lucia.says("mesa para 20 mañana a las 21:00")
    assert lucia.handoff
    assert lucia.booking.reservations == {}
    outside = text(lucia.says("mesa para 2 mañana a las 18:00"))
    assert "18:00" in outside
    assert awaiting(lucia) == "time"


def test_a_change_moves_the_only_booking_after_a_yes(lucia: Chat) -> None:
    code = lucia.booking.book_for(7, TUESDAY_21).code
    sure = text(lucia.says("¿podemos cambiar la reserva a las 22:00?"))
    assert code in sure
    assert "22:00" in sure
    assert lucia.booking.reservations[code].start == TUESDAY_21
    assert "cambiada" in text(lucia.says("sí"))
    assert lucia.booking.reservations[code].start == TUESDAY_22


def test_cancel_asks_which_of_several_and_confirms(lucia: Chat) -> None:
    first = lucia.booking.book_for(7, TUESDAY_21).code
    second = lucia.booking.book_for(7, datetime(2026, 6, 5, 12, 0, tzinfo=UTC)).code
    which = lucia.says("quiero cancelar mi reserva")
    assert "¿Cuál" in text(which)
    assert len(which[-1].choices) == 2
    sure = lucia.taps(which[-1], 1)
    assert second in text(sure)
    assert "cancelada" in text(lucia.says("sí"))
    assert lucia.booking.reservations[second].status is Status.CANCELLED
    assert lucia.booking.reservations[first].status is Status.CONFIRMED


def test_another_guests_booking_is_never_touched(lucia: Chat) -> None:
    theirs = lucia.booking.book_for(8, TUESDAY_21).code
    lucia.booking.book_for(7, TUESDAY_22)
    assert "No encuentro la reserva" in text(lucia.says(f"cancela la reserva {theirs}"))
    lucia.says("sí")
    assert lucia.booking.reservations[theirs].status is Status.CONFIRMED


def test_a_cancellation_too_close_to_the_booking_goes_to_a_person(lucia: Chat) -> None:
    code = lucia.booking.book_for(7, datetime(2026, 6, 1, 11, 0, tzinfo=UTC)).code  # 13:00 today
    lucia.booking.clock.advance(minutes=30)  # the online cutoff is two hours before
    lucia.says("cancela mi reserva")
    lucia.says("sí")
    assert lucia.handoff
    assert lucia.booking.reservations[code].status is Status.CONFIRMED


def test_a_reminders_coming_button_is_noted_for_staff(lucia: Chat) -> None:
    code = lucia.booking.book_for(7, TUESDAY_21).code
    said = text(lucia.says("Sí, vamos", Choice(f"rem:yes:{code}", "Sí, vamos")))
    assert "21:00" in said
    assert lucia.booking.attendance == [code]


def test_an_unconfirmed_request_expires(lucia: Chat) -> None:
    lucia.says("mesa para 2 mañana a las 21:00")
    lucia.booking.clock.advance(minutes=31)
    lucia.says("sí")
    assert lucia.booking.reservations == {}
