"""What a guest wants from one message, read from normalized text by rules.

Rules rather than a model: the same message always gets the same answer, a
misread is fixed by a line here, and there is nothing to host. Typos in the
words that carry an intent are forgiven first: a word of five letters or more
that is one or two edits from a known keyword, with the same first letter,
reads as that keyword ("cancelr", "resevar", "availble", "horaio").

One intent per message, settled in this order, because the earlier ones say
more about what must happen next:

1. ``human_handoff``: asking for a person ("quiero hablar con alguien",
   "agent", "un humano por favor"). A guest who asks for a person gets one,
   whatever else the message says.
2. ``cancel``: cancelling outright ("anula la reserva", "cancel my booking"),
   not when negated ("no quiero cancelar, solo cambiar la hora").
3. ``modify``: changing a booking: a change verb ("cambiar", "mover",
   "retrasar", "move", "reschedule", "push back", "make it") or a change of
   count ("uno mas", "one more person", "add two people", "en vez de",
   "instead").
4. ``cancel`` again, for the soft forms ("no podemos ir", "I can't make it"),
   which lose to a change in the same message ("can't make it at 9, can we
   do 10 instead?" moves the booking).
5. ``my_reservations``: asking about the guest's own bookings ("que reservas
   tengo", "do I have a reservation", "when is my booking").
6. With a booking verb ("reservar", "book", "reserve"): ``check_availability``
   when the message asks whether there is room ("hay sitio para reservar?"),
   otherwise ``book``. The verb outranks a question about hours in the same
   message ("a que hora abris? queria reservar" is a booking). A past tense
   ("we booked", "reserve ayer") speaks of a booking already made, and a
   question about booking as such ("do you take bookings for groups?", "how
   far in advance can I book?") asks for none: neither is a booking.
7. ``opening_hours``: when the restaurant opens or closes ("horario", "a que
   hora abris", "are you open on Monday?").
8. ``check_availability``: whether there is room ("teneis mesa manana a las
   9?", "hay sitio?", "is there availability on Saturday").
9. ``book`` without a verb: asking for a table ("mesa para dos el viernes",
   "table for 4 tomorrow at 8", "apuntanos para el sabado"), not describing
   one ("la mesa estaba junto a la puerta").
10. ``greeting``: a message made only of greetings ("hola", "buenas tardes",
    "hi there"); "hola, quiero reservar" is a booking.
11. ``unknown``: everything else.

A message that only carries slot values ("manana a las 9", "4 personas",
"si", "no, mejor a las 10", "a nombre de Ana") is ``unknown``: it has no
request of its own. The dialogue reads such a message as the answer to the
question it asked last, whatever the intent, and an intent such as ``book``
there would instead start a new request over a pending change. Only words
that ask for something (a table, a booking, a change) make an intent.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz, process

from saveit.conversation import lang as _lang

__all__ = ["classify"]

_KEYWORDS = frozenset(
    str.split("""
    reservar reserva reservas reservo reservamos reservado reservada reservation
    reservations reserve reserved reservacion booking bookings booked cancelar cancela
    cancelo cancelad cancelacion cancel cancelled canceled cancelling canceling
    cancellation anular anula anulad anulo anulen anule cambiar cambia cambio cambiad
    cambiarla cambiarlo modificar modifica modificacion change changing changed modify
    reschedule postpone retrasar retrasa adelantar adelanta aplazar aplaza posponer
    mover mueve moverla move moving horario horarios abierto abiertos abierta abris
    abren abrimos cerrais cierran cerrado cerrados apertura opening closing closed
    disponibilidad disponible disponibles availability available hablar humano humana
    persona personas person people someone somebody human manager staff agent
    operator operador agente encargado encargada gerente responsable hello buenas
    buenos evening morning afternoon teneis tienen quedan quiero queria quisiera
    representative tables table
    """)
)
_KNOWN = _KEYWORDS | frozenset(_lang.known_words())
_VOCABULARY = tuple(sorted(_KEYWORDS))
_FUZZY_CUTOFF = 85.0
_REPEATS = re.compile(r"([a-z])\1{2,}")


@lru_cache(maxsize=8192)
def _correct(word: str) -> str:
    if word in _KNOWN or len(word) < 5 or not word.isalpha():
        return word
    best = process.extractOne(word, _VOCABULARY, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
    if best is None or best[0][0] != word[0]:
        return word
    return str(best[0])


def _canonical(norm: str) -> str:
    collapsed = _REPEATS.sub(r"\1", norm)  # "holaaa", "pleeease"
    return " ".join(_correct(w) for w in collapsed.split())


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


# --- human handoff ------------------------------------------------------------------

_WHO = (
    r"(?:una? |el |la |algun |alguna |alguien |some |a |an |the |your |a real |someone )?"
    r"(?:persona(?! mas)|personas reales|humano|humana|alguien|encargad[oa]|gerente|"
    r"responsable|emplead[oa]|camarer[oa]|jefe|jefa|operador[a]?|agente|personal|"
    r"someone|somebody|anyone|person|human|manager|staff|agent|operator|waiter|"
    r"owner|representative|member of (?:the )?staff|real person|people)"
)
_HANDOFF = _rx(
    r"\b(?:hablar|hablo|hable|habla|contactar|comunicarme|atienda|atiende|atender|atenderme|"
    r"pasame|pasadme|pasas|pasais|pasan|ponme|ponedme|pasarme|poner(?:me)?)\b"
    r"(?: \w+){0,3}? (?:con |a |en contacto con )?" + _WHO,
    r"\b(?:speak|talk|chat|speaking|talking|put me through|connect me|transfer me)"
    r"(?: \w+){0,2}? (?:to|with) " + _WHO,
    r"\b(?:persona real|persona de verdad|un humano|una humana|humano por favor|"
    r"atencion al cliente|real person|live person|actual person|a human|human please|"
    r"customer service|customer support)\b",
    r"^(?:(?:hola|hi|hello|hey|please|por favor|quiero|i want|need|necesito|an?|un|una) )*"
    r"(?:agent|agente|human|humano|staff|operator|operador|manager|encargado|person|persona)"
    r"(?: (?:please|por favor|now|ya|ahora))*$",
    r"\b(?:someone|somebody|alguien) (?:on|al) (?:the )?(?:phone|telefono)\b",
    r"\b(?:llamadme|llamame|llamarme|llamenme|me (?:llameis|llamen|llames)|"
    r"me (?:podeis|puedes|pueden|podrian|podriais) llamar|"
    r"call me|give me a call|ring me|phone me)\b",
)

# --- cancel -------------------------------------------------------------------------

_CANCEL = _rx(
    r"\b(?:cancel|anul)\w*",
    r"\b(?:borra|borrar|borrad|elimina|eliminar|eliminad|quita|quitar|quitad)(?:la|lo|me|nos)?"
    r" (?:la|mi|nuestra|esa|esta|las|mis) (?:reserva|reservas|mesa)\b",
    r"\b(?:call off|calling off|delete|remove|drop) (?:my|our|the|that|this) "
    r"(?:booking|reservation|table)\b",
    r"\b(?:desreservar|desapuntar|desapuntame|desapuntanos)\b",
)
_NOT_A_CANCEL = re.compile(
    r"\b(?:politica|policy|condiciones|terms|penalizacion|fee|cargo|charge|cobrais|cobran)\b"
    r"|\bno (?:cancelo|cancelamos|anulo|anulamos)\b"
)
# The subject that changes is not the booking: "el precio cambia el finde".
_NOT_A_CHANGE = re.compile(
    r"\b(?:precio|precios|menu|carta|horario|price|prices|menu) (?:cambia|cambian|changes|change)\b"
)
_SOFT_CANCEL = _rx(
    r"\bno (?:(?:vamos|voy|van) a |(?:podemos|puedo|podre|podremos|puede|pueden) )?"
    r"(?:poder )?(?:ir|venir|acudir|asistir|llegar a ir|ir al final)\b(?! (?:a las|antes|hasta))",
    r"\bya no (?:vamos|venimos|voy|vengo|iremos|necesito|necesitamos|queremos)\b",
    r"\bal final no (?:vamos|venimos|podemos|iremos|puedo)\b",
    r"\b(?:can't|cannot|can not|won't|will not|wont|cant|unable to|not able to|"
    r"can no longer|no longer able to) "
    r"(?:make it|come|attend|go|be there|join)\b(?! (?:at|before|until|till|by) )",
    r"\b(?:won't|will not|wont|not|no longer) (?:be )?(?:coming|able to come|making it)\b",
    r"\bno longer need\b|\bdon't need (?:the|our|my) (?:table|booking|reservation)\b",
    r"\bsomething (?:has )?came up\b|\bsomething (?:has )?come up\b|\bme ha surgido\b|"
    r"\bnos ha surgido\b",
)

# --- modify -------------------------------------------------------------------------

_COUNT = r"(?:una|uno|dos|tres|cuatro|one|two|three|four|\d{1,2})"
_MODIFY = _rx(
    r"\b(?:cambi|modific|retras|adelant|aplaz|pospon|muev|mover)\w*",
    r"\b(?:pasar|pasa|pasarla|pasala|pasadla|ponla|ponerla|poner)"
    r" (?:la reserva |mi reserva |la mesa )?(?:a las|al|a la|para las|para el|a)\b"
    r"(?! \w+ (?:personas?|mas))",
    r"\b(?:change|changing|modify|amend|moving|move|reschedule|rearrange|postpone|switch)\b",
    r"\b(?:push|pushing|bring|put) (?:it|us|that|the \w+|my \w+|our \w+)? ?"
    r"(?:back|forward|later|earlier)\b",
    r"(?<!can't )(?<!cannot )(?<!won't )(?<!not )(?<!cant )\bmake it (?:for |at |a |an )?"
    r"(?:\d|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|half|later|earlier)",
    r"\b" + _COUNT + r" (?:persona |personas |comensal |comensales )?(?:mas|menos"
    # "las tres menos cuarto" is a time
    r"(?! (?:media|cuarto|cinco|diez|veinte|veinticinco|\d)))\b(?! o menos)",
    r"\b(?:anadir|anade|anadid|agregar|agrega|sumar|suma|sumad|apuntar|apunta)(?:me|nos|le)?"
    r" (?:a )?" + _COUNT + r" (?:persona|personas|comensal|comensales|mas)\b",
    r"\b(?:add|adding|bring|bringing) (?:an? )?(?:one|two|three|another|extra|\d)"
    r"(?: more| extra)? (?:person|people|guest|guests|seat|seats|chair|friend|more)\b",
    r"\b(?:one|two|three|\d|an) (?:more|extra|less|fewer) (?:person|people|guest|guests|seat)\b",
    r"\b(?:one|two|three|\d) (?:more|less)$|\bone more\b|\banother person\b",
    r"\ban extra (?:person|guest)\b",
    r"\ben (?:vez|lugar) de\b|\binstead\b|\brather than\b",
    r"\bal final (?:somos|seremos|vamos a ser|vendremos|venimos)\b",
    r"\b(?:mas tarde|mas temprano|mas pronto)\b",
    r"\b(?:come|arrive|be there|get there|eat|dine)(?: a bit| a little| an hour| half an hour|"
    r" \w+ minutes)? (?:later|earlier|sooner)\b",
)

# --- my reservations ----------------------------------------------------------------

_BOOKING_NOUN = r"(?:reservas?|reservations?|bookings?|mesa reservada|mesa|table)"
_MINE = _rx(
    r"\b(?:que|cuales|cuantas) (?:reservas?|mesas?) tengo\b",
    r"\bmis reservas\b|\bmy (?:bookings|reservations)\b",
    r"\btengo (?:alguna |una |ya |yo )?(?:reserva|reservas|mesa reservada|algo reservado)\b",
    r"\b(?:ver|consultar|revisar|comprobar|confirmar|mirar|mira|consulta|revisa|comprueba|"
    r"dime|ensename|ensenadme|recordar|recuerdame) (?:mi|mis|la|las|nuestra|nuestras) "
    r"(?:reserva|reservas)\b",
    r"\b(?:cuando|a que hora|para que hora|para cuando|para que dia|que dia) "
    r"(?:es|era|tengo|tenia|tenemos) (?:mi|la|nuestra) (?:reserva|mesa)\b",
    r"\b(?:esta|sigue) (?:confirmada|en pie|activa|hecha) (?:mi|la|nuestra) reserva\b|"
    r"\b(?:mi|nuestra) reserva (?:esta|sigue) (?:confirmada|en pie|activa|hecha)\b",
    r"\b(?:do|did|have) (?:i|we) (?:have|got|get|make) (?:a|any|an) (?:bookings?|reservations?|"
    r"table (?:booked|reserved))\b",
    r"\b(?:check|see|view|show|look up|confirm|find|remind me of|list)(?: me)? "
    r"(?:my|our) (?:booking|reservation|bookings|reservations)\b",
    r"\b(?:when|what time|what day) is (?:my|our) (?:booking|reservation|table)\b",
    r"\b(?:when|what time|what day) (?:my|our) (?:booking|reservation|table) is\b",
    r"\bis (?:my|our) (?:booking|reservation)(?: \w+){0,3}? "
    r"(?:confirmed|still on|ok|okay|booked|done|still valid)\b",
    r"\bwhat (?:bookings|reservations) (?:do|have) (?:i|we)\b",
    r"^(?:(?:mis?|my|our|nuestra|nuestras) " + _BOOKING_NOUN + r")$",
    r"\bhave i got a (?:booking|reservation)\b|\bam i booked\b|\bare we booked\b",
    r"\b(?:me lo|me la|nos lo|nos la) (?:confirmas|confirmais|confirman|confirma)\b",
    r"\b(?:do|did) (?:i|we) have (?:anything|something) (?:booked|reserved)\b",
)

# --- booking and availability ---------------------------------------------------------

_BOOK_VERB = re.compile(r"\b(?:reserv\w*|book\w*)\b")
# Past forms speak of a booking already made; "reservé" loses its accent to "reserve".
_PAST_BOOKING = frozenset(
    {"booked", "reserved", "reservado", "reservada", "reservamos", "reserve", "reservaste"}
)
_PAST_ES_ONLY = frozenset({"reserve", "reservamos"})
# Questions about booking as such, not asking for one.
_BOOKING_FAQ = re.compile(
    r"\b(?:aceptais|aceptan|admitis|admiten|cogeis|cogen|haceis|hacen|take|accept|do you do)"
    r" (?:reservas|bookings|reservations)\b|\bhow far (?:in advance|ahead)\b|"
    r"\bcon cuanta antelacion\b|\bcuanto antes\b.*\breserv"
)
_AVAILABILITY = _rx(
    r"\bdisponib\w*|\bavailab\w*",
    r"\b(?:teneis|tienen|tiene|tienes|tendreis|tendrian|tendriais|tendrias|tendria|habria|hay|"
    r"queda|quedan|quedara|habra|os queda|les queda|te queda)"
    r" (?:(?:una|alguna|algun|algo|de|libre|libres|disponible|disponibles|todavia|aun|ya) )*"
    r"(?:mesa|mesas|sitio|hueco|huecos|plaza|plazas|lugar|espacio|libre|algo)\b",
    r"\b(?:estais|estan|esta) (?:completos|llenos|completo|lleno|a tope)\b",
    r"\b(?:cabemos|cabriamos|entramos|entrariamos)\b",
    r"\b(?:(?:do|would|will|did) you|have you|you) (?:guys |still )?(?:have|got) "
    r"(?:a |any |an |some )?"
    r"(?:table|tables|room|space|spot|spots|availability|anything|something|seats?|free)\b",
    r"\b(?:is|are) there (?:a |any |still |still a |still any )?"
    r"(?:table|tables|room|space|spot|spots|availability|seats?|anything free|free)\b",
    r"\b(?:any|got any) (?:free )?(?:tables?|room|space|spots?|seats?)\b",
    r"\b(?:room|space) for (?:\d|one|two|three|four|five|six|seven|eight|nine|ten|us)\b",
    r"\bcan you (?:fit|squeeze|seat|accommodate)\b|\bany chance (?:of|for) a table\b",
    r"\b(?:fully booked|are you full|you're full|booked up|are you busy)\b",
    r"\b(?:what|which) times? (?:do you have|have you got|are (?:free|left|open))\b",
    r"\b(?:what's|what is|whats) (?:free|available|left)\b",
    r"\bque horas? (?:teneis|tienen|hay|quedan|os quedan)\b",
)
# Which times are free on a day: a question about tables, not about opening hours.
_FREE_TIMES = _rx(
    r"\b(?:que|a que|cuales|which|what) (?:horas?|horarios?|times?|slots?)\b"
    r"(?: \w+){0,4} (?:libres?|disponibles?|free|available|left)\b",
    r"\b(?:times?|slots?|horas?) (?:are |is )?(?:still )?open\b",
    r"\b(?:horas?|horarios?|times?|slots?) (?:libres?|disponibles?|free|available|left)\b",
    r"\b(?:free|open|available) (?:times?|slots?)\b",
)
_BOOK = _rx(
    # A table asked for, not one described ("la mesa estaba sucia", "the table was lovely").
    r"\b(?:una|a|unas|some|otra|another|nos|me|us) (?:mesa|mesita|table)\b",
    r"\b(?:mesa|mesita|mesas|table|tables) (?:para|pa|for|hoy|manana|tonight|tomorrow|today|"
    r"esta|this|el|on|at|a las|dentro|fuera|inside|outside|en la terraza|on the terrace)\b",
    r"^(?:(?:hola|hi|hello|hey|buenas|ok|vale) )*(?:mesa|mesita|table)\b",
    r"\b(?:apunta|apuntame|apuntanos|apuntadnos|apuntar|apuntas|apuntais|guardame|guardanos|"
    r"guardadnos)\b",
    r"\bhueco\b",
    r"\b(?:queremos|queriamos|quiero|queria|quisiera|quisieramos|vamos|iremos|venimos|"
    r"vendremos|nos gustaria|me gustaria) (?:a |ir a |venir a )?(?:cenar|comer|almorzar)\b",
    r"\b(?:dinner|lunch|brunch) for (?:\d|one|two|three|four|five|six|seven|eight|us)\b",
    r"\b(?:get|grab|have|need|want) a (?:table|spot)\b",
    r"\b(?:we|i)(?:'d| would) (?:like|love) to (?:come|eat|dine|have dinner|have lunch)\b",
)

# --- opening hours --------------------------------------------------------------------

_HOURS = _rx(
    r"\bhorarios?\b(?! de (?:la|mi) reserva)",
    r"\b(?:abris|abren|abre|abrir|abrirais|abreis|abierto|abiertos|abierta|abiertas|"
    r"cerrais|cierran|cierra|cerrar|cerrado|cerrados|cerrada|cierre|apertura|abrimos)\b",
    r"\bhasta (?:que hora|cuando)\b",
    r"\bque hora (?:se puede |puedo |podemos )?(?:sirven|servis|empieza|empiezan|empezais|"
    r"termina|terminan|acaba|acaban|cenar|comer|se cena|se come)\b",
    r"\b(?:open|opening|opens|closing|closes|closed)\b",
    r"\bclose\b(?! (?:to|by)\b)",
    r"(?<!\d )(?<!one )(?<!two )(?<!three )\bhours\b(?! (?:later|before|after|ago|left))",
    r"\b(?:until|till) (?:what time|when)\b|\blast (?:orders|order|seating|sitting)\b",
    r"\bwhen (?:do|does) (?:you|the kitchen) (?:serve|start|stop|finish)\b",
    r"\bwhat time (?:do you|does the kitchen|does dinner|does lunch) "
    r"(?:serve|start|stop|finish|end)\b",
)

# --- greeting ---------------------------------------------------------------------------

_GREETING_CORE = frozenset(
    str.split("""
    hola buenas buenos saludos hello hi hey heya hiya hallo ola ey ei good morning
    afternoon evening greetings howdy yo
    """)
)
_GREETING_FILLER = frozenset(
    str.split("""
    dias dia tardes noches tal que como estas estais esta estan va todo bien muy equipo
    chicos chicas a todos there all everyone guys folks team how are you doing day
    nuevo nueva de hello hi qu y e and oh buen again otra vez
    """)
)

# --- negation ---------------------------------------------------------------------------

_NEGATED_BEFORE = re.compile(
    r"(?:\bno (?:quiero|queremos|quisiera|queria|voy a|vamos a|hace falta|es necesario|"
    r"hay que|necesito|necesitamos|pienso|pensamos)|\bsin|\bwithout|\bdon't(?: \w+){0,2}|"
    r"\bdo not(?: \w+){0,2}|\bdidn't(?: \w+){0,2}|\bnot(?: \w+)?|\bno need to|\bnever)"
    r"(?: \w+)? $"
)


def _found(pattern: re.Pattern[str], text: str, *, negatable: bool = False) -> bool:
    for m in pattern.finditer(text):
        if not negatable or not _NEGATED_BEFORE.search(text[max(0, m.start() - 40) : m.start()]):
            return True
    return False


def _is_greeting(text: str) -> bool:
    tokens = text.split()
    if not tokens or not any(t in _GREETING_CORE for t in tokens):
        return False
    return all(t in _GREETING_CORE or t in _GREETING_FILLER for t in tokens)


def _asks_to_book(text: str, lang: str) -> bool:
    for m in _BOOK_VERB.finditer(text):
        word = m[0]
        if word in _PAST_BOOKING and (lang == "es" or word not in _PAST_ES_ONLY):
            continue
        if not _NEGATED_BEFORE.search(text[max(0, m.start() - 40) : m.start()]):
            return True
    return False


def classify(norm: str, lang: str) -> str:
    """``norm`` is normalized text (see :mod:`.text`); ``lang`` the language
    detected for it. Patterns read both languages, since guests mix them; the
    language only settles words spelled alike in both ("reserve" is a Spanish
    past tense once the accent of "reservé" is gone)."""
    text = _canonical(norm)
    if not text:
        return "unknown"
    if _found(_HANDOFF, text):
        return "human_handoff"
    if _found(_CANCEL, text, negatable=True) and not _NOT_A_CANCEL.search(text):
        return "cancel"
    if _found(_MODIFY, text, negatable=True) and not _NOT_A_CHANGE.search(text):
        return "modify"
    if _found(_SOFT_CANCEL, text):
        return "cancel"
    if _found(_MINE, text):
        return "my_reservations"
    available = _found(_AVAILABILITY, text)
    if _asks_to_book(text, lang) and not _BOOKING_FAQ.search(text):
        return "check_availability" if available else "book"
    if _found(_FREE_TIMES, text):
        return "check_availability"
    if _found(_HOURS, text):
        return "opening_hours"
    if available:
        return "check_availability"
    if _found(_BOOK, text, negatable=True):
        return "book"
    if _is_greeting(text):
        return "greeting"
    return "unknown"
