"""Inbound email parsing, judged by what a guest would notice.

The bot must read only what the guest wrote this time (never a quoted earlier
request), answer in the right thread, and know who wrote. The fixtures under
``tests/fixtures/channels/email/`` are byte-exact wire messages (CRLF).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saveit.channels.email.parse import html_to_text, is_automatic, parse_email, strip_quotes
from saveit.domain.channel_ports import MalformedPayload
from saveit.domain.messages import InboundMessage

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "channels" / "email"
RESTAURANT = "reservas@casalola.example"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(raw: bytes, recipient: str = RESTAURANT) -> InboundMessage:
    return parse_email(raw, recipient, now=NOW)


def wire(text: str) -> bytes:
    """A message as it travels: CRLF line endings, UTF-8 (8bit) where not ASCII."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def simple(
    body: str, *, headers: str = "", content_type: str = "text/plain; charset=utf-8"
) -> bytes:
    return wire(
        "From: Ana Gil <ana.gil@example.com>\n"
        f"To: {RESTAURANT}\n"
        "Subject: Reserva\n"
        "Date: Mon, 30 Nov 2026 10:00:00 +0100\n"
        "Message-ID: <msg-1@example.com>\n"
        f"{headers}"
        "MIME-Version: 1.0\n"
        f"Content-Type: {content_type}\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        f"{body}"
    )


# --- the fixtures ----------------------------------------------------------------------


def test_gmail_reply_in_spanish_keeps_only_the_new_request() -> None:
    msg = parse(fixture("gmail_reply_es.eml"))

    assert msg.text == (
        "Hola, ¿podríamos cambiarla a las 21:30? Seremos 5 en vez de 4.\n\nGracias,\nMarta"
    )
    assert "Quiero reservar" not in msg.text  # the quoted first request is not read again
    assert "escribió" not in msg.text
    assert msg.channel == "email"
    assert msg.sender == "Marta.Ruiz@example.com"  # domain lowercased, local part kept
    assert msg.sender_name == "Marta Ruiz Peña"
    assert msg.recipient == RESTAURANT
    assert msg.subject == "Re: Tu reserva en Casa Lola — sábado 5 de diciembre"
    assert msg.provider_message_id == "CAF3xq9Zk2vYt0aB1c2D3e4F5g6H7i8J9k0L=Qw@mail.gmail.example"
    assert msg.reply_to == "b81d9f4e-0002@casalola.example"
    assert msg.references == ("7f3c1e2a-0001@casalola.example", "b81d9f4e-0002@casalola.example")
    assert msg.sent_at == datetime(2026, 12, 1, 8, 14, 3, tzinfo=UTC)
    assert msg.choice is None


def test_gmail_reply_read_from_its_html_part_gives_the_same_text() -> None:
    original = parse(fixture("gmail_reply_es.eml"))
    from email import policy
    from email.parser import BytesParser

    parsed = BytesParser(policy=policy.default).parsebytes(fixture("gmail_reply_es.eml"))
    html_part = parsed.get_body(preferencelist=("html",))
    assert html_part is not None
    html_only = EmailMessage()
    for name in ("From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References"):
        html_only[name] = str(parsed[name])
    html_only.set_content(html_part.get_content(), subtype="html")

    msg = parse(html_only.as_bytes())

    assert msg.text == original.text
    assert msg.references == original.references


def test_outlook_reply_cuts_at_original_message() -> None:
    msg = parse(fixture("outlook_reply_en.eml"))

    assert msg.text == (
        "Hi,\n\nCould we add a high chair for our toddler, please? Everything else stays the\n"
        "same.\n\nThanks,\nOliver"
    )
    assert "table for 2" not in msg.text
    assert msg.sender == "oliver.bennett@example.org"
    assert msg.sender_name == "Oliver Bennett"
    assert msg.provider_message_id == "000001db4c2a$5e6f7080$1b2c3d4e$@example.org"
    assert msg.reply_to == "c93a5e10-0003@casalola.example"
    assert msg.references == ("c93a5e10-0003@casalola.example",)
    # "-0000" means UTC with the sender's zone unknown (RFC 5322): still an aware time
    assert msg.sent_at == datetime(2026, 12, 2, 16, 45, 10, tzinfo=UTC)


def test_html_only_message_is_read_without_style_script_or_quoted_header_block() -> None:
    msg = parse(fixture("html_only_es.eml"))

    assert msg.text == (
        "Buenos días:\n\n"
        "Necesitamos cancelar la reserva del viernes, lo siento mucho. "
        "Somos 6 personas & dos niños.\n"  # MsoNormal paragraphs have no margin: lines
        "Un saludo,\nLucía"
    )
    assert "MsoNormal" not in msg.text
    assert "script" not in msg.text
    assert "confirmamos tu mesa" not in msg.text
    assert msg.sender == "lucia.fernandez@example.net"
    assert msg.sender_name == "Lucía Fernández"
    assert msg.provider_message_id == (
        "AM0PR01MB12345678ABCDEF0123456789ABCDEF@AM0PR01MB1234.eurprd01.prod.outlook.example"
    )


def test_latin1_quoted_printable_message_reads_accents_and_drops_the_signature() -> None:
    msg = parse(fixture("latin1_qp.eml"))

    assert msg.text == (
        "Buenas tardes:\n\n"
        "Quería reservar una mesa para 8 personas el sábado 12 de diciembre a las 14:30, "
        "es un cumpleaños. ¿Tienen menú para niños?\n\n"
        "Muchas gracias."
    )
    assert "Logroño" not in msg.text  # signature below "-- "
    assert msg.sender == "jamunoz@example.net"
    assert msg.sender_name == "José Ángel Muñoz"
    assert msg.subject == "Reserva para un cumpleaños"
    assert msg.reply_to is None
    assert msg.references == ()
    assert msg.sent_at == datetime(2026, 12, 5, 16, 30, 12, tzinfo=UTC)


def test_multipart_with_attachments_reads_the_body_not_the_attached_text() -> None:
    msg = parse(fixture("multipart_attachment.eml"))

    assert msg.text == (
        "Hola,\n\n"
        "Os adjunto la lista de alergias del grupo para la cena del día 18 (reserva a nombre "
        "de Carmen Vidal, 10 personas). Dos personas son celíacas."
    )
    assert "Mesa para 40" not in msg.text  # notas.txt is an attachment
    assert "iPhone" not in msg.text
    assert msg.sender == "carmen.vidal@example.com"
    assert msg.provider_message_id == "9B1E4F2A-3C5D-4E6F-8A7B-0C1D2E3F4A5B@example.com"
    assert msg.sent_at == datetime(2026, 12, 5, 4, 59, 59, tzinfo=UTC)  # from -0500


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.eml")), ids=lambda p: p.name)
def test_every_fixture_keeps_its_raw_text_for_audit(path: Path) -> None:
    raw = path.read_bytes()
    assert b"\r\n" in raw  # stored in wire format, byte-exact
    msg = parse(raw)
    assert msg.raw == raw.decode("utf-8", errors="replace")
    assert msg.sent_at.tzinfo is not None


# --- envelope, ids and dates -----------------------------------------------------------


def test_recipient_is_the_envelope_address_lowercased() -> None:
    msg = parse(simple("Hola"), recipient="<Reservas@CasaLola.Example>")
    assert msg.recipient == "reservas@casalola.example"


def test_missing_message_id_falls_back_to_a_stable_hash_of_the_bytes() -> None:
    raw = simple("Mesa para 2 hoy").replace(b"Message-ID: <msg-1@example.com>\r\n", b"")
    first = parse(raw)
    again = parse(raw)
    other = parse(raw + b"!")

    assert first.provider_message_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert again.provider_message_id == first.provider_message_id
    assert other.provider_message_id != first.provider_message_id


def test_message_id_without_brackets_is_still_read() -> None:
    raw = simple("Hola").replace(b"<msg-1@example.com>", b"msg-1@example.com")
    assert parse(raw).provider_message_id == "msg-1@example.com"


def test_references_are_oldest_first_deduplicated_with_in_reply_to_last() -> None:
    raw = simple(
        "Vale",
        headers=(
            "References: <a@casalola.example> <b@casalola.example>\n"
            " <a@casalola.example>\n"
            "In-Reply-To: <c@casalola.example>\n"
        ),
    )
    msg = parse(raw)
    assert msg.references == ("a@casalola.example", "b@casalola.example", "c@casalola.example")
    assert msg.reply_to == "c@casalola.example"


def test_references_without_in_reply_to_answer_the_last_reference() -> None:
    raw = simple("Vale", headers="References: <a@casalola.example> <b@casalola.example>\n")
    assert parse(raw).reply_to == "b@casalola.example"


def test_missing_or_unreadable_date_falls_back_to_now() -> None:
    no_date = simple("Hola").replace(b"Date: Mon, 30 Nov 2026 10:00:00 +0100\r\n", b"")
    bad_date = simple("Hola").replace(b"Mon, 30 Nov 2026 10:00:00 +0100", b"el lunes")
    assert parse(no_date).sent_at == NOW
    assert parse(bad_date).sent_at == NOW
    assert parse_email(no_date, RESTAURANT).sent_at.tzinfo is not None


def test_sender_domain_is_lowercased_and_display_name_decoded() -> None:
    raw = simple("Hola").replace(
        b"From: Ana Gil <ana.gil@example.com>",
        b"From: =?utf-8?q?=C3=81ngela_N=C3=BA=C3=B1ez?= <Angela@EXAMPLE.ORG>",
    )
    msg = parse(raw)
    assert msg.sender == "Angela@example.org"
    assert msg.sender_name == "Ángela Núñez"


def test_sender_without_display_name_has_no_name() -> None:
    raw = simple("Hola").replace(b"Ana Gil <ana.gil@example.com>", b"ana.gil@example.com")
    msg = parse(raw)
    assert msg.sender == "ana.gil@example.com"
    assert msg.sender_name is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \r\n",
        b"this is not an email at all",
        b"\xff\xfe\x00\x01garbage",
        wire("To: reservas@casalola.example\nSubject: no sender\n\nHola"),
        wire("From: Ana Gil\nSubject: no address\n\nHola"),
        wire("From: <>\n\nHola"),
        wire("From: ana@localhost\n\nHola"),
    ],
)
def test_unreadable_messages_raise_malformed_payload(raw: bytes) -> None:
    with pytest.raises(MalformedPayload):
        parse(raw)


def test_envelope_recipient_that_is_no_address_is_malformed() -> None:
    with pytest.raises(MalformedPayload):
        parse(simple("Hola"), recipient="nobody")


# --- charsets and encodings ------------------------------------------------------------


def test_base64_utf8_body() -> None:
    import base64

    body = base64.encodebytes("Mesa para 3, ¿a las 20:00?\n".encode()).decode("ascii")
    raw = simple(body).replace(
        b"Content-Transfer-Encoding: 8bit", b"Content-Transfer-Encoding: base64"
    )
    assert parse(raw).text == "Mesa para 3, ¿a las 20:00?"


def test_latin1_8bit_body() -> None:
    raw = simple("").replace(
        b"charset=utf-8", b"charset=iso-8859-1"
    ) + "Añadid una trona, por favor.\r\n".encode("latin-1")
    assert parse(raw).text == "Añadid una trona, por favor."


def test_unknown_charset_is_read_as_utf8_not_rejected() -> None:
    raw = simple("Mesa para dos, gracias").replace(b"charset=utf-8", b"charset=x-made-up")
    assert parse(raw).text == "Mesa para dos, gracias"


def test_utf8_declared_but_broken_bytes_are_replaced() -> None:
    raw = simple("") + b"Hola \xff\xfe que tal\r\n"
    msg = parse(raw)
    assert msg.text.startswith("Hola ")
    assert msg.text.endswith(" que tal")
    msg.text.encode("utf-8")  # storable


def test_nul_bytes_never_reach_the_text() -> None:
    msg = parse(simple("Mesa\x00 para 2"))
    assert "\x00" not in msg.text
    assert "\x00" not in msg.raw
    assert msg.text == "Mesa para 2"


def test_format_flowed_soft_breaks_are_joined() -> None:
    raw = simple(
        "Queremos una mesa para cuatro personas el \nviernes a las nueve.\n",
        content_type="text/plain; charset=utf-8; format=flowed",
    )
    assert parse(raw).text == "Queremos una mesa para cuatro personas el viernes a las nueve."


def test_request_only_in_the_subject_is_read_from_the_subject() -> None:
    raw = simple("").replace(b"Subject: Reserva", b"Subject: Mesa para 4 el sabado a las 14:00")
    assert parse(raw).text == "Mesa para 4 el sabado a las 14:00"


def test_empty_reply_does_not_reread_the_subject() -> None:
    raw = simple("> old text\n", headers="In-Reply-To: <a@casalola.example>\n").replace(
        b"Subject: Reserva", b"Subject: Re: Mesa para 4"
    )
    assert parse(raw).text == ""


# --- quote and signature stripping -----------------------------------------------------


def test_english_attribution_on_one_line_with_quote() -> None:
    text = (
        "9pm works for us.\n\n"
        "On Mon, 2 Dec 2026 at 10:00, Ana <ana@casalola.example> wrote:\n"
        "> Would 9pm suit you?\n"
        "> > We'd like a table for 2 at 8pm.\n"
    )
    assert strip_quotes(text) == "9pm works for us."


def test_spanish_attribution_split_over_two_lines() -> None:
    text = (
        "Perfecto, allí estaremos.\n\n"
        "El lun, 2 dic 2026 a las 10:00, Ana Ruiz (<ana@casalola.example>)\n"
        "escribió:\n\n"
        "> Mesa para 6 confirmada.\n"
    )
    assert strip_quotes(text) == "Perfecto, allí estaremos."


def test_answers_below_and_between_quotes_are_kept() -> None:
    text = (
        "On Mon, 2 Dec 2026 at 10:00, Ana <ana@casalola.example> wrote:\n"
        "> How many people?\n"
        "Four of us.\n"
        "> What time?\n"
        "Around 8pm.\n"
    )
    assert strip_quotes(text) == "Four of us.\nAround 8pm."


def test_a_guest_line_before_an_attribution_is_not_swallowed() -> None:
    text = "Hola Ana\nEl lun, 2 dic 2026 a las 10:00, Ana (<a@casalola.example>) escribió:\n> x"
    assert strip_quotes(text) == "Hola Ana"


def test_outlook_spanish_header_block_with_separator() -> None:
    text = (
        "Vale, gracias.\n\n"
        "________________________________\n"
        "De: Casa Lola <reservas@casalola.example>\n"
        "Enviado: lunes, 2 de diciembre de 2026 10:00\n"
        "Para: Ana <ana@example.com>\n"
        "Asunto: Tu reserva\n\n"
        "Tu mesa para 4 está confirmada.\n"
    )
    assert strip_quotes(text) == "Vale, gracias."


def test_outlook_mensaje_original() -> None:
    text = "Cancelad, por favor.\n\n-----Mensaje original-----\nDe: Casa Lola\nMesa para 4.\n"
    assert strip_quotes(text) == "Cancelad, por favor."


@pytest.mark.parametrize(
    "trailer",
    ["Sent from my iPhone", "Enviado desde mi iPhone", "Enviado desde mi Samsung Galaxy",
     "Get Outlook for Android", "Obtener Outlook para iOS", "Sent from Yahoo Mail for iPhone"],
)  # fmt: skip
def test_mobile_trailers_are_cut(trailer: str) -> None:
    text = f"Somos 3.\n\n{trailer}\n\nOn 2 Dec 2026, at 10:00, Ana <a@b.example> wrote:\n\nold"
    assert strip_quotes(text) == "Somos 3."


def test_signature_delimiter_without_trailing_space_is_cut() -> None:
    assert strip_quotes("Mesa para 2.\n--\nAna Gil\n600 000 000") == "Mesa para 2."


def test_ordinary_sentences_that_look_like_markers_are_kept() -> None:
    text = (
        "Sent from the office: we are 4 people.\n"
        "El sábado 12 queremos cenar.\n"
        "De: nada, gracias por todo."
    )
    assert strip_quotes(text) == text


def test_attribution_after_the_guests_words_on_the_same_line_keeps_the_words() -> None:
    text = (
        "vale, gracias El lun, 1 dic 2026 a las 10:00, Casa Lola (<reservas@casalola.example>)"
        " escribió:\n\n> Tu mesa para 4 está confirmada.\n"
    )
    assert strip_quotes(text) == "vale, gracias"


def test_attribution_split_over_three_lines() -> None:
    text = (
        "Perfecto.\n\nMarta\n\n"
        "El lun, 1 dic 2026 a las 10:00, Reservas Casa Lola Restaurante y\n"
        "Tapas Barcelona (<reservas@casalola.example>)\n"
        "escribió:\n\n> Mesa para 4 confirmada.\n"
    )
    assert strip_quotes(text) == "Perfecto.\n\nMarta"


@pytest.mark.parametrize(
    "block",
    [
        "Gesendet: Montag, 01. Dezember 2026 um 10:00 Uhr\nVon: Casa Lola <r@casalola.example>\n"
        "An: Stefan\nBetreff: Ihre Reservierung",
        "Date: Mon, 1 Dec 2026 10:00:00 +0100\nFrom: r@casalola.example\nTo: a@b.example\n"
        "Subject: Your table",
        "De : Casa Lola <r@casalola.example>\nEnvoyé : lundi 1 décembre 2026 10:00\n"
        "À : Claire\nObjet : Votre réservation",
        "Da: Casa Lola <r@casalola.example>\nInviato: lunedì 1 dicembre 2026 10:00\nA: Giulia\n"
        "Oggetto: La tua prenotazione",
        "From: Casa Lola [mailto:r@casalola.example] Sent: Monday, December 1, 2026 10:00 AM"
        " To: Anna Subject: Your table",
    ],
)
def test_header_blocks_in_any_order_and_language_cut_the_old_message(block: str) -> None:
    text = f"Somos 5.\n\n{block}\n\nTu mesa para 4 está confirmada.\n"
    assert strip_quotes(text) == "Somos 5."


@pytest.mark.parametrize(
    "trailer",
    ["Enviado desde mi iPhone.", "Sent from my Galaxy®", "Enviado desde Outlook para Android",
     "Get Outlook for iOS<https://aka.ms/o0ukef>", "Von meinem iPhone gesendet",
     "Envoyé de mon iPad", "Sent from my Pixel 8", "Sent with Proton Mail secure email."],
)  # fmt: skip
def test_trailers_with_punctuation_symbols_and_links_are_cut(trailer: str) -> None:
    assert strip_quotes(f"Mesa para 2.\n\nGracias,\nMarta\n\n{trailer}\n") == (
        "Mesa para 2.\n\nGracias,\nMarta"
    )


def test_a_forwarded_request_keeps_its_text_but_not_its_header_block() -> None:
    text = (
        "Os reenvío la petición.\n\nEnviado desde mi iPhone\n\nInicio del mensaje reenviado:\n\n"
        "De: Juan <juan@example.net>\nFecha: 1 de diciembre de 2026, 10:00:00 CET\n"
        "Para: Marta <marta@example.com>\nAsunto: Cena\n\nMesa para 12 el viernes 18 a las 21:00.\n"
    )
    assert strip_quotes(text) == (
        "Os reenvío la petición.\n\nMesa para 12 el viernes 18 a las 21:00."
    )


def test_an_outlook_forward_is_known_by_its_subject() -> None:
    body = (
        "Para vosotros.\n\nDe: Juan <juan@example.net>\nEnviado: lunes, 1 de diciembre de 2026"
        " 10:00\nPara: Marta <marta@example.com>\nAsunto: Cena\n\nMesa para 12 el viernes.\n"
    )
    forwarded = simple(body).replace(b"Subject: Reserva", b"Subject: RV: Cena")
    assert parse(forwarded).text == "Para vosotros.\n\nMesa para 12 el viernes."
    assert parse(simple(body)).text == "Para vosotros."  # a reply: the old message goes


def test_a_forward_under_an_original_message_line_keeps_the_request() -> None:
    """Samsung's mail app forwards under "-------- Original message --------"."""
    body = (
        "Fwd from my colleague.\n\n-------- Original message --------\n"
        "From: John <john@example.net>\nDate: 12/1/26 10:00 (GMT+01:00)\nTo: Anna <a@example.org>\n"
        "Subject: Team dinner\n\nA table for 8 on Friday at 8pm, please.\n"
    )
    forwarded = simple(body).replace(b"Subject: Reserva", b"Subject: Fwd: Team dinner")
    assert (
        parse(forwarded).text == "Fwd from my colleague.\n\nA table for 8 on Friday at 8pm, please."
    )
    assert parse(simple(body)).text == "Fwd from my colleague."


def test_a_titled_separator_above_a_header_block_goes_with_it() -> None:
    text = (
        "Díky, přijdeme.\n\n---------- Původní e-mail ----------\n"
        "Od: Casa Lola <r@casalola.example>\nKomu: petr@example.cz\n"
        "Datum: 1. 12. 2026 10:00:00\nPředmět: Rezervace\n\nStůl pro 4.\n"
    )
    assert strip_quotes(text) == "Díky, přijdeme."
    assert strip_quotes("Hola\n----- Menú infantil -----\n2 niños") == (
        "Hola\n----- Menú infantil -----\n2 niños"
    )


@pytest.mark.parametrize(
    "text",
    [
        "De: parte de todos, gracias.\nFecha: la que mejor os vaya, sábado o domingo.",
        "On Friday we'll be 6, like my husband wrote:\n4 adults and 2 kids.",
        "El sábado 12 a las 21:00, como escribió mi marido:\n4 adultos y 2 niños.",
        "From: 8pm onwards is fine.\nTo: the Casa Lola team, thanks!",
        "Am Samstag, 5. Dezember, um 20 Uhr schrieb ich schon:\nwir sind zu viert.",
        "Sent from my office, we are 4 people.",
    ],
)
def test_the_guests_own_lines_that_look_like_markers_are_kept(text: str) -> None:
    assert strip_quotes(text) == text


_PLAIN_LINE = st.text(
    alphabet=st.sampled_from("abcdefghijklmnñopqrstuvwxyzáéí ABCDEFGHIJ0123456789.,?!¿¡'"),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_PLAIN_LINE, min_size=1, max_size=12))
def test_text_without_any_marker_comes_back_whole(lines: list[str]) -> None:
    """Sentences with digits, dates and names but no quote, colon or dash are the guest's."""
    text = "\n".join(lines)
    expected = re.sub(r"\n{3,}", "\n\n", "\n".join(ln.rstrip() for ln in lines)).strip()
    assert strip_quotes(text) == expected


def test_html_blockquote_becomes_quoted_lines() -> None:
    html = (
        "<html><head><style>p{}</style><script>bad()</script></head><body>"
        "<p>Mesa para 2</p><blockquote><p>Old request</p></blockquote>"
        "<div>A</div><div>B</div><p>x&nbsp;&amp;&nbsp;y</p></body></html>"
    )
    text = html_to_text(html)
    assert "bad()" not in text
    assert "p{}" not in text
    assert "> Old request" in text
    assert strip_quotes(text) == "Mesa para 2\n\nA\nB\n\nx & y"


def test_broken_html_is_still_read() -> None:
    assert "Mesa" in html_to_text("<p>Mesa <b>para <i>2</p></div></blockquote>")
    assert strip_quotes(html_to_text("<head><meta charset=utf-8><body>Hola")) == "Hola"


# --- automatic mail ------------------------------------------------------------------------


def test_automatic_mail_is_recognised() -> None:
    assert is_automatic(simple("Estoy fuera", headers="Auto-Submitted: auto-replied\n"))
    assert is_automatic(simple("x", headers="Precedence: bulk\n"))
    assert is_automatic(
        simple("x").replace(b"Ana Gil <ana.gil@example.com>", b"MAILER-DAEMON@example.com")
    )
    assert not is_automatic(simple("Mesa para 2", headers="Auto-Submitted: no\n"))
    assert not is_automatic(fixture("gmail_reply_es.eml"))
    assert not is_automatic(b"\xff\x00garbage")


# --- any bytes -------------------------------------------------------------------------


def _check_storable(msg: InboundMessage) -> None:
    for value in (msg.text, msg.sender, msg.recipient, msg.provider_message_id, msg.raw,
                  msg.subject or "", msg.sender_name or "", *msg.references):  # fmt: skip
        value.encode("utf-8")  # no lone surrogates
        assert "\x00" not in value
    assert msg.sent_at.tzinfo is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_any_bytes_parse_or_raise_malformed_payload(raw: bytes) -> None:
    try:
        msg = parse(raw)
    except MalformedPayload:
        return
    _check_storable(msg)


FIXTURE_BYTES = [p.read_bytes() for p in sorted(FIXTURES.glob("*.eml"))]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(FIXTURE_BYTES),
    st.integers(min_value=0),
    st.binary(max_size=64),
    st.integers(min_value=0, max_value=64),
)
def test_damaged_real_messages_parse_or_raise_malformed_payload(
    base: bytes, at: int, insert: bytes, remove: int
) -> None:
    at %= len(base) + 1
    raw = base[:at] + insert + base[at + remove :]
    try:
        msg = parse(raw)
    except MalformedPayload:
        return
    _check_storable(msg)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200), st.text(max_size=400))
def test_hostile_headers_and_html_parse_or_raise_malformed_payload(header: str, body: str) -> None:
    raw = (
        f"From: {header}\r\nSubject: {header}\r\nMessage-ID: {header}\r\nDate: {header}\r\n"
        f"References: {header}\r\nIn-Reply-To: {header}\r\n"
        f"Content-Type: text/html; charset={header[:12]}\r\n\r\n{body}"
    ).encode("utf-8", "surrogatepass")
    try:
        msg = parse(raw)
    except MalformedPayload:
        return
    _check_storable(msg)
