"""What the bot says, in Spanish and English.

One catalogue keyed by phrase, so a reply never mixes languages and a
translator sees every sentence in one place. Titles of buttons stay within
WhatsApp's 20 characters. Days, times and parties are formatted by
:mod:`saveit.domain.wording`, which the notifier's texts share: a guest reads
one format from the bot and from the reminders, and neither package imports
the other (the QR the bot attaches comes through
:class:`~saveit.conversation.ports.QrAttacher`).
"""

from __future__ import annotations

LANGS = ("es", "en")

PHRASES: dict[str, dict[str, str]] = {
    "welcome": {
        "es": "¡Hola! Soy el asistente de {restaurant}. Puedo reservar mesa, cambiar o "
        "cancelar tu reserva y contarte el horario. ¿Qué necesitas?",
        "en": "Hi! I'm {restaurant}'s assistant. I can book a table, change or cancel "
        "your booking and tell you our opening hours. What can I do for you?",
    },
    "ask_date": {
        "es": "¿Para qué día quieres la mesa?",
        "en": "Which day would you like the table for?",
    },
    "ask_party": {
        "es": "¿Cuántas personas seréis?",
        "en": "How many people will you be?",
    },
    "ask_time": {
        "es": "¿A qué hora? Tengo libre el {day}:",
        "en": "What time? On {day} I have:",
    },
    "ask_time_plain": {
        "es": "¿A qué hora os viene bien?",
        "en": "What time suits you?",
    },
    "which_day": {
        "es": "Ojo: el {date} no es {weekday}. ¿Qué día quieres?",
        "en": "Just checking: {date} is not a {weekday}. Which day do you mean?",
    },
    "which_time": {
        "es": "Las {time} no encajan con la parte del día que dices. ¿A qué hora, entonces?",
        "en": "{time} doesn't match the part of the day you said. What time, then?",
    },
    "which_service": {
        "es": "¿Las {am} o las {pm}?",
        "en": "{am} or {pm}?",
    },
    "btn_part_night": {"es": "Otra, por la noche", "en": "Another, evening"},
    "btn_part_afternoon": {"es": "Otra, por la tarde", "en": "Another, afternoon"},
    "btn_part_morning": {"es": "Otra, por la mañana", "en": "Another, morning"},
    "btn_part_lunch": {"es": "Otra, a mediodía", "en": "Another, lunchtime"},
    "ask_name": {
        "es": "¿A nombre de quién hago la reserva?",
        "en": "What name should I put the booking under?",
    },
    "day_full": {
        "es": "El {day} no me queda mesa para {party}.",
        "en": "I have no table for {party} left on {day}.",
    },
    "closed_day": {
        "es": "El {day} estamos cerrados. ¿Te viene bien otro día?",
        "en": "We're closed on {day}. Would another day work?",
    },
    "taken": {
        "es": "A las {time} del {day} no me queda mesa para {party}. Lo más cercano que tengo:",
        "en": "There's no table for {party} at {time} on {day}. The nearest I have:",
    },
    "no_alternatives": {
        "es": "Lo siento, no encuentro mesa libre para {party} en los próximos días.",
        "en": "Sorry, I can't find a free table for {party} in the next few days.",
    },
    "outside_hours": {
        "es": "A las {time} no abrimos ese día. Te puedo ofrecer:",
        "en": "We're not open at {time} that day. I can offer:",
    },
    "too_soon": {
        "es": "Es demasiado justo para reservar online; necesitamos al menos {minutes} "
        "minutos de antelación. ¿Otra hora?",
        "en": "That's too soon to book online; we need at least {minutes} minutes' notice. "
        "Another time?",
    },
    "too_far": {
        "es": "Solo aceptamos reservas con {days} días de antelación como mucho. ¿Otra fecha?",
        "en": "We only take bookings up to {days} days ahead. Another date?",
    },
    "party_too_large": {
        "es": "Para grupos de más de {max} personas lo organiza el equipo. Te paso con ellos.",
        "en": "Groups larger than {max} are arranged by our team. I'm passing you to them.",
    },
    "confirm_booking": {
        "es": "¿Te reservo mesa para {party} el {day} a las {time}{name}{area}?",
        "en": "Shall I book a table for {party} on {day} at {time}{name}{area}?",
    },
    "booked_pending": {
        "es": "📝 Hemos recibido tu solicitud.\nCódigo: {code}\n{day} a las {time}, {party}.\n"
        "El restaurante la revisará y te confirmará por aquí en breve.",
        "en": "📝 We have your request.\nCode: {code}\n{day} at {time}, {party}.\n"
        "The restaurant will review it and confirm here shortly.",
    },
    "booked": {
        "es": "✅ ¡Reserva confirmada!\nCódigo: {code}\n{day} a las {time}, {party}.\n"
        "Para cambiarla o cancelarla, escríbeme aquí cuando quieras.",
        "en": "✅ You're booked!\nCode: {code}\n{day} at {time}, {party}.\n"
        "To change or cancel it, just message me here.",
    },
    "what_to_change": {
        "es": "Vale. ¿Qué cambio: el día, la hora o las personas?",
        "en": "OK. What should I change: the day, the time or the number of people?",
    },
    "no_upcoming": {
        "es": "No tienes reservas próximas con nosotros. ¿Quieres hacer una?",
        "en": "You have no upcoming bookings with us. Would you like to make one?",
    },
    "your_bookings": {
        "es": "Tus reservas:",
        "en": "Your bookings:",
    },
    "which_booking": {
        "es": "¿Cuál de tus reservas?",
        "en": "Which of your bookings?",
    },
    "not_yours": {
        "es": "No encuentro la reserva {code} entre las tuyas.",
        "en": "I can't find booking {code} among yours.",
    },
    "confirm_cancel": {
        "es": "¿Cancelo tu reserva {code} del {day} a las {time} para {party}?",
        "en": "Shall I cancel your booking {code} on {day} at {time} for {party}?",
    },
    "cancelled": {
        "es": "Hecho: tu reserva {code} del {day} a las {time} está cancelada. ¡Esperamos "
        "verte pronto!",
        "en": "Done: your booking {code} on {day} at {time} is cancelled. Hope to see you soon!",
    },
    "link_sent": {
        "es": "Te he enviado un código de 6 cifras a {contact}. Escríbelo aquí y veré tus "
        "reservas.",
        "en": "I've sent a 6-digit code to {contact}. Type it here and I'll find your bookings.",
    },
    "link_cannot": {
        "es": "Desde aquí no puedo enviar un código a {contact}. Escríbenos desde ese número "
        "o esa dirección.",
        "en": "I can't send a code to {contact} from here. Write to us from that number or "
        "address.",
    },
    "link_capped": {
        "es": "Ahora mismo no puedo enviar más códigos de verificación. Inténtalo de nuevo "
        "más tarde, o escríbenos desde ese número o esa dirección.",
        "en": "I can't send more verification codes right now. Please try again later, or "
        "write to us from that number or address.",
    },
    "link_bad_contact": {
        "es": "{contact} no me parece un teléfono o un email válido.",
        "en": "{contact} doesn't look like a valid phone number or email.",
    },
    "link_done": {
        "es": "¡Listo! Ya sé quién eres.",
        "en": "Done! I know who you are now.",
    },
    "link_wrong": {
        "es": "Ese código no es correcto. Te quedan {left} intentos.",
        "en": "That code isn't right. {left} tries left.",
    },
    "link_expired": {
        "es": "Ese código ya no vale. Dime otra vez tu teléfono o email y te envío otro.",
        "en": "That code is no longer valid. Tell me your phone or email again for a new one.",
    },
    "prove_sent": {
        "es": "Para ver o cambiar las reservas de {contact} necesito saber que eres tú: te "
        "he enviado un código de 6 cifras a esa dirección. Escríbelo aquí, o simplemente "
        "responde a este email desde tu buzón.",
        "en": "To show or change the bookings of {contact} I need to know it's you: I've sent "
        "a 6-digit code to that address. Type it here, or simply reply to this email from "
        "your mailbox.",
    },
    "prove_reply": {
        "es": "Para ver o cambiar las reservas de {contact} necesito saber que eres tú: "
        "responde a este email desde tu buzón.",
        "en": "To show or change the bookings of {contact} I need to know it's you: reply to "
        "this email from your mailbox.",
    },
    "link_hint": {
        "es": "Si reservaste por teléfono, WhatsApp o email, dime ese número o email y te "
        "envío un código para verlas.",
        "en": "If you booked by phone, WhatsApp or email, tell me that number or address and "
        "I'll send you a code to see them.",
    },
    "kept_none": {
        "es": "De acuerdo. Aquí estoy si necesitas algo.",
        "en": "All right. I'm here if you need anything.",
    },
    "kept": {
        "es": "De acuerdo, dejo tu reserva como está.",
        "en": "OK, I'll leave your booking as it is.",
    },
    "too_late_cancel": {
        "es": "Ya no se puede cancelar online (faltan menos de {hours} h). Te paso con el equipo.",
        "en": "It's too late to cancel online (less than {hours} h to go). I'm passing you "
        "to our team.",
    },
    "too_late_change": {
        "es": "Ya no se puede cambiar online (faltan menos de {hours} h). Te paso con el equipo.",
        "en": "It's too late to change it online (less than {hours} h to go). I'm passing "
        "you to our team.",
    },
    "confirm_modify": {
        "es": "¿Cambio tu reserva {code} a {party} el {day} a las {time}?",
        "en": "Shall I change your booking {code} to {party} on {day} at {time}?",
    },
    "modified": {
        "es": "✅ Reserva {code} cambiada: {day} a las {time}, {party}.",
        "en": "✅ Booking {code} changed: {day} at {time}, {party}.",
    },
    "unchanged": {
        "es": "Tu reserva {code} ya es el {day} a las {time} para {party}.",
        "en": "Your booking {code} is already on {day} at {time} for {party}.",
    },
    "handoff": {
        "es": "Te paso con una persona del equipo; te responderá por aquí en cuanto pueda.",
        "en": "I'm passing you to someone from our team; they'll answer here as soon as they can.",
    },
    "not_understood": {
        "es": "Perdona, no te he entendido. Puedes decirme, por ejemplo, «mesa para 2 mañana "
        "a las 21:00».",
        "en": 'Sorry, I didn\'t get that. You can say, for example, "table for 2 tomorrow at 8pm".',
    },
    "help": {
        "es": "Creo que no te estoy entendiendo. ¿Te ayudo con una de estas cosas, o "
        "prefieres hablar con una persona?",
        "en": "I don't think I'm understanding you. Can I help with one of these, or would "
        "you rather talk to a person?",
    },
    "hours_day": {
        "es": "El {day} abrimos {hours}.",
        "en": "On {day} we're open {hours}.",
    },
    "hours_week": {
        "es": "Nuestro horario:\n{lines}",
        "en": "Our opening hours:\n{lines}",
    },
    "closed_always": {
        "es": "Ahora mismo no tenemos servicios abiertos a reservas.",
        "en": "We have no services open for booking right now.",
    },
    "see_you": {
        "es": "¡Genial! Te esperamos el {day} a las {time}. Enseña tu código QR en la puerta.",
        "en": "Great! We look forward to seeing you on {day} at {time}. "
        "Show your QR code at the door.",
    },
    "expired": {
        "es": "Tu solicitud anterior caducó; empecemos de nuevo.",
        "en": "Your earlier request expired; let's start again.",
    },
    "error": {
        "es": "Ha habido un problema al hacerlo. Te paso con el equipo.",
        "en": "Something went wrong doing that. I'm passing you to our team.",
    },
    # Button and list titles (≤ 20 characters).
    "yes": {"es": "Sí", "en": "Yes"},
    "no": {"es": "No", "en": "No"},
    "btn_book": {"es": "Reservar mesa", "en": "Book a table"},
    "btn_mine": {"es": "Mis reservas", "en": "My bookings"},
    "btn_human": {"es": "Hablar con alguien", "en": "Talk to a person"},
    "btn_hours": {"es": "Horario", "en": "Opening hours"},
    "see_times": {"es": "Ver horas", "en": "See times"},
    "see_bookings": {"es": "Ver reservas", "en": "See bookings"},
    "and": {"es": "y", "en": "and"},
    "from_to": {"es": "de {opens} a {closes}", "en": "from {opens} to {closes}"},
    "closed": {"es": "cerrado", "en": "closed"},
    "under_name": {"es": " a nombre de {name}", "en": " under {name}"},
    "terrace": {"es": " en terraza", "en": " on the terrace"},
    "indoor": {"es": " en el interior", "en": " inside"},
}


def say(lang: str, key: str, **values: object) -> str:
    phrase = PHRASES[key]
    return phrase.get(lang, phrase["es"]).format(**values)
