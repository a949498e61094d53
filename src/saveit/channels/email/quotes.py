"""What the guest wrote this time, out of a reply's text.

A reply carries the conversation below the guest's new words: quoted with
``>``, under an attribution ("On … wrote:", "El … escribió:", "Am … schrieb …:"),
below a header block ("From: / Sent: / To: / Subject:" in the client's
language, in any order, sometimes on one line) or a separator ("-----Original
Message-----"). If that text reached the conversation, an earlier request ("a
table for 4 on Friday") would be read again as if the guest had just asked for
it. Mobile trailers ("Sent from my iPhone"), ``-- `` signature blocks and
mailing-list footers go too; a short sign-off above them ("Gracias, Marta")
stays, since the bot may need the name.

A forwarded message is different: a guest who forwards a friend's booking
request means that request. Its marker and header block go (a "Date:" line
would read as a booking date) and its text stays.

The rule throughout: when a line might be the guest's own or might be quoting,
keep it. A lost request is worse than a repeated one, which the dialogue can
sort out. So an attribution without an address cuts only when quoted lines
follow it, and a header block needs an address or a date, or three fields.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MAX_LINE = 300  # attribution and header lines are short; long lines are never checked
_URL = re.compile(r"\s*<(?:https?://|mailto:)[^>]*>")

# --- attributions ------------------------------------------------------------------------

# The verb that ends an attribution, in the languages guests write in.
_VERB_END = re.compile(
    r"(?:wrote|writes|escribió|escribio|escribe|va escriure|a écrit|a ecrit|schrieb|escreveu"
    r"|ha scritto|schreef|het volgende geschreven|folgendes geschrieben|napisał\(a\)|napisał"
    r"|napisała|skrev|kirjoitti|napsal\(a\)|napsal|napsala|yazdı|έγραψε|написал\(а\)|написал"
    r"|написала|a scris|írta|写道|寫道|작성)"
    r"\s*[:：]?$",  # Zoho's "---- On … wrote ----" has no colon
    re.IGNORECASE,
)
# Languages that put the verb first: "Am 1. Dez. 2026 um 10:00 schrieb Ana <a@b>:".
_VERB_FIRST = re.compile(
    r"^(?:am|op|den|po|på)\s.*\b(?:schrieb|schreef|skrev|odesílatel)\s.{1,160}[:：]\s*$",
    re.IGNORECASE,
)
# How a date-led attribution opens (Gmail, Apple Mail, Thunderbird, Yahoo, …).
_OPENER = re.compile(
    r"^(?:on|el|le|am|em|il|il giorno|op|den|w dniu|στις|dne|в|the)\b", re.IGNORECASE
)
# A date or a time: "10:00", "1/12/26", "01.12.2026", "2026".
_DATE_TOKEN = re.compile(r"\d{1,2}[:.h/]\d{2}|\d{1,2}/\d{1,2}|\b(?:19|20)\d{2}\b|\d{4}年|\d{4}년")
# No verb, just "… <address>:" ("2026年12月1日(月) 10:00 Ana <a@b>:", Mutt's "* Ana <a@b> [date]:").
_ADDRESS_END = re.compile(r"<[^<>\s]+@[^<>\s]+>\)?\s*(?:\[[^\]]*\])?\s*[:：]\s*$")
_DASHES = re.compile(r"^[-*\s]+|[-\s]+$")
_MIDLINE_START = re.compile(r"\s(?=(?:On|El|Le|Am|Em|Il|Op|Den)\s\S[^@]*@)")

# --- header blocks -----------------------------------------------------------------------

_ROLES = {
    "from": r"from|de|de la|von|da|van|från|fra|od|kimden|от|від|发件人|寄件者|差出人|보낸 사람"
    r"|από|afzender|feladó|lähettäjä|šalje|מאת|من",
    "date": r"sent|date|enviado(?: el)?|enviada em|fecha|gesendet|datum|envoyé|envoye|inviato|data"
    r"|verzonden|skickat|sendt|wysłane|odesláno|odoslané|gönderildi|tarih|отправлено|надіслано"
    r"|дата|发送时间|日期|送信日時|日付|보낸 날짜|στάλθηκε|ημερομηνία|lähetetty|elküldve|trimis"
    r"|poslano|נשלח|تاريخ",
    "to": r"to|para|an|à|a|aan|till|til|do|komu|kime|кому|收件人|宛先|받는 사람|προς|cc"
    r"|vastaanottaja|címzett|către|prima|אל|إلى",
    "subject": r"subject|asunto|betreff|objet|oggetto|ogg|assunto|onderwerp|ämne|emne|temat"
    r"|předmět|predmet|konu|тема|主题|件名|제목|θέμα|aihe|tárgy|subiect|נושא|الموضوع",
}
_HEADER = re.compile(
    r"^\s*\**\s*(?:(?P<from>" + _ROLES["from"] + r")|(?P<date>" + _ROLES["date"] + r")"
    r"|(?P<to>" + _ROLES["to"] + r")|(?P<subject>" + _ROLES["subject"] + r"))"
    r"\s*\**\s*[:：]\s*\**(?P<value>.*)$",
    re.IGNORECASE,
)
_ONE_LINE_HEADER = re.compile(
    r"^\s*\**\s*(?:" + _ROLES["from"] + r")\s*\**\s*:.*\S.*\s(?:sent|date|enviado(?: el)?"
    r"|gesendet|envoyé|inviato|enviada em|verzonden|fecha|datum)\s*\**\s*:",
    re.IGNORECASE,
)
_ADDRESS = re.compile(r"@|mailto:")

# --- separators, forwards, trailers, footers ---------------------------------------------

_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:original message|mensaje original|message d'origine|mail original"
    r"|ursprüngliche nachricht|originalnachricht|mensagem original|messaggio originale"
    r"|missatge original|oorspronkelijk bericht|originalmeddelande|oprindelig meddelelse"
    r"|původní zpráva|oryginalna wiadomość|исходное сообщение|原始邮件|元のメッセージ)"
    r"\s*-{2,}\s*$",
    re.IGNORECASE,
)
# Any short title between dashes ("---------- Původní e-mail ----------"): a separator
# when a header block follows it.
_FRAMED_TITLE = re.compile(r"^\s*-{2,}\s*[^\W\d_](?:[^-]|-(?!-)){1,40}?\s*-{2,}\s*$")
_FORWARD = re.compile(
    r"^\s*(?:-{2,}\s*(?:forwarded message|mensaje reenviado|message transféré|weitergeleitete"
    r" nachricht|messaggio inoltrato|mensagem encaminhada|mensagem reencaminhada|doorgestuurd"
    r" bericht|vidarebefordrat meddelande|videresendt meddelelse|missatge reenviat"
    r"|przekazana wiadomość|přeposlaná zpráva|пересылаемое сообщение|转发邮件|転送メッセージ)"
    r"\s*-{2,}"
    r"|(?:begin forwarded message|inicio del mensaje reenviado|début du message réexpédié"
    r"|début du message transféré|anfang der weitergeleiteten nachricht"
    r"|inizio messaggio inoltrato|início da mensagem reencaminhada"
    r"|início da mensagem encaminhada|begin doorgestuurd bericht)\s*:)\s*$",
    re.IGNORECASE,
)
_FORWARD_SUBJECT = re.compile(
    r"^\s*(?:fwd?|fw|rv|wg|tr|enc|i|doorst|vb|vl|pd|İlt|ilt)\s*(?:\[\d+\])?\s*:", re.I
)
_TRAILER = re.compile(
    r"^(?:(?:sent|enviado|enviada|envoyé|envoye|gesendet|inviato|enviat|verzonden|verstuurd"
    r"|skickat|sendt|wysłane|odesláno|отправлено|στάλθηκε)"
    r"\s+(?:from|desde|de|depuis|von|da|dal|dalla|do|del|vanaf|via|with|con|com|från|fra|z|из|с|со"
    r"|από)\s.{1,60}"
    r"|von meine[mn]?\s.{1,40}\sgesendet"
    r"|.{1,30}\s(?:gönderildi|lähetetty)"
    r"|.{0,20}\boutlook\s+(?:for|para|pour|per|für)\s+(?:ios|android)\b.{0,20})$",
    re.IGNORECASE,
)
# "Sent from my Pixel 8": a possessive and a few words, nothing more, is a device's name.
_TRAILER_MY = re.compile(
    r"^(?:sent|enviado|envoyé|gesendet|inviato|enviat|verzonden|verstuurd|skickat|sendt)\s+"
    r"(?:from|desde|de|depuis|von|da|dal|do|vanaf|från|fra)\s+"
    r"(?:my|mi|mon|ma|meinem|mio|il mio|el meu|meu|o meu|mijn|min|mitt)(?:\s+[\w'+-]+){1,4}$",
    re.IGNORECASE,
)
_DEVICE = re.compile(
    r"iphone|ipad|android|galaxy|samsung|huawei|xiaomi|blackberry|mobile|móvil|movil|smartphone"
    r"|phone|teléfono|telefono|outlook|yahoo|mail|correo|proton|superhuman|dispositivo|device"
    r"|appareil|handy|tablet|windows|\baol\b|spark|airmail",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(r"^\s*(?:[_\-=*]{5,}|(?:-=){3,}-?)\s*$")
_LIST_FOOTER = re.compile(
    r"mailing list|listinfo|unsubscribe|groups\.io|lista de correo|darse de baja"
    r"|cancelar la suscripción|se désabonner|abmelden",
    re.IGNORECASE,
)


def is_forward_subject(subject: str | None) -> bool:
    """True for "Fwd:", "FW:", "RV:", "WG:", "TR:", "I:" … subjects: a forwarded message."""
    return bool(subject and _FORWARD_SUBJECT.match(subject))


def strip_quotes(text: str, *, forwarded: bool = False) -> str:
    """Only what the guest wrote this time: no quoted earlier messages, no signature.

    ``>`` lines are dropped wherever they are (a guest may answer between
    quoted lines). An attribution followed by ``>`` lines is dropped with them
    and the text after the quote is kept (bottom posting). Below an
    attribution with an address and no ``>`` lines, a header block, an
    "Original Message" line, a signature delimiter, a mobile trailer or a
    mailing-list footer, everything is cut. A forwarded message keeps its
    text, without its header block; ``forwarded`` (the subject says "Fwd:")
    also reads the first header block as a forward's, for clients that write
    no "Forwarded message" line.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    text = text.replace("\u200b", "").replace("\ufeff", "").replace("\u200e", "")
    lines = _CONTROL.sub("", text).split("\n")
    out: list[str] = []
    forward_pending = forwarded
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_quoted(line):
            i += 1
            continue
        if _FORWARD.match(line) or (forward_pending and _titles_header_block(lines, i)):
            # Samsung and others forward under an "Original message" line.
            i = _skip_header_block(lines, i + 1)
            _end_paragraph(out)
            forward_pending = False
            continue
        if _titles_header_block(lines, i):
            break
        head, span, has_address = _attribution(lines, i)
        if span:
            if head:
                out.append(head)
            after = _next_text(lines, i + span)
            if after < len(lines) and _is_quoted(lines[after]):
                i += span
                continue
            if has_address:
                break
            # no address and no quote: it may be the guest's own sentence
        block = _header_block(lines, i)
        if block:
            if not forward_pending:
                break
            forward_pending = False
            while out and (not out[-1].strip() or _SEPARATOR.match(out[-1])):
                out.pop()
            _end_paragraph(out)
            i = _skip_header_block(lines, i)
            continue
        trailer = _is_trailer(line)
        if trailer:
            after = _next_text(lines, i + 1)
            if after < len(lines) and _FORWARD.match(lines[after]):
                i += 1
                continue
            break
        if _cuts_here(lines, i):
            break
        out.append(line.rstrip())
        i += 1
    while out and (not out[-1].strip() or _SEPARATOR.match(out[-1])):
        out.pop()
    result = "\n".join(out).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", result).strip()


def _titles_header_block(lines: list[str], i: int) -> bool:
    """A separator line ("-----Original Message-----", "---- Původní e-mail ----") above
    a header block."""
    if not (_ORIGINAL.match(lines[i]) or _FRAMED_TITLE.match(lines[i])):
        return False
    after = _next_text(lines, i + 1)
    return after < len(lines) and _header_block(lines, after)


def _is_quoted(line: str) -> bool:
    return line.lstrip(" ").startswith(">")


def _next_text(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def _end_paragraph(out: list[str]) -> None:
    if out and out[-1].strip():
        out.append("")


# --- attributions ------------------------------------------------------------------------


def _attribution(lines: list[str], i: int) -> tuple[str, int, bool]:
    """(guest text before it on the same line, lines it spans, whether it names an address).

    Span 0: no attribution starts at line ``i``. Long names push "wrote:" to a
    second or third line; a client that lost a line break leaves it after the
    guest's words ("vale, gracias El lun, … escribió:").
    """
    first = lines[i].strip()
    if not first or len(first) > _MAX_LINE:
        return "", 0, False
    if not any(_DATE_TOKEN.search(line) for line in lines[i : i + 3]):
        return "", 0, False  # every attribution carries a date or a time
    # The latest possible start keeps the most of the guest's words.
    for midline in reversed(list(_MIDLINE_START.finditer(first))):
        head, rest = first[: midline.start()].rstrip(), first[midline.end() :]
        if (
            re.search(r"\w", head)  # not just the dashes some clients put before it
            and "@" in rest
            and _is_attribution(rest)
            and not _is_attribution_start(head)
        ):
            return head, 1, True
    if _is_attribution(first):
        return "", 1, "@" in first
    if first.endswith((".", "?", "!")):
        return "", 0, False
    joined = first
    for extra in (1, 2):
        if i + extra >= len(lines):
            break
        nxt = lines[i + extra].strip()
        if not nxt or _is_quoted(nxt) or _is_attribution(nxt):
            break  # then line i is the guest's own, followed by a one-line attribution
        joined = f"{joined} {nxt}" if not joined.endswith("<") else joined + nxt
        if len(joined) <= 2 * _MAX_LINE and _is_attribution(joined):
            return "", extra + 1, "@" in joined
    return "", 0, False


def _is_attribution_start(text: str) -> bool:
    """The first part of an attribution ("El lun, 1 dic 2026 a las 10:00, "), not guest text."""
    return bool(_OPENER.match(text) and _DATE_TOKEN.search(text))


def _is_attribution(line: str) -> bool:
    if not _DATE_TOKEN.search(line):
        return False
    line = _DASHES.sub("", line)  # "--- On … wrote:", "---- On … wrote ----"
    if _VERB_END.search(line):
        return bool(_OPENER.match(line) or "@" in line)
    if _VERB_FIRST.match(line):
        return True
    return _ADDRESS_END.search(line) is not None


# --- header blocks -----------------------------------------------------------------------


def _header_roles(line: str) -> tuple[str, str] | None:
    if len(line) > _MAX_LINE:
        return None
    m = _HEADER.match(line)
    if not m:
        return None
    role = next(r for r in ("from", "date", "to", "subject") if m.group(r) is not None)
    return role, m.group("value")


def _header_block(lines: list[str], i: int) -> bool:
    """True when an Outlook-style header block of a quoted message starts at line ``i``."""
    if len(lines[i]) > 2 * _MAX_LINE:
        return False
    if _ONE_LINE_HEADER.match(lines[i]) and _ADDRESS.search(lines[i]):
        return True
    roles: dict[str, str] = {}
    j = i
    while j < len(lines) and j < i + 8:
        found = _header_roles(lines[j])
        if found is None:
            break
        roles.setdefault(found[0], found[1])
        j += 1
    if "from" not in roles or len(roles) < 2:
        return False
    if len(roles) >= 3:
        return True
    evidence = " ".join(roles.values())
    return "date" in roles and bool(_ADDRESS.search(evidence) or _DATE_TOKEN.search(evidence))


def _skip_header_block(lines: list[str], i: int) -> int:
    """The first line after the (forwarded message's) header block at or after ``i``."""
    i = _next_text(lines, i)
    while i < len(lines) and _header_roles(lines[i]) is not None:
        i += 1
    return _next_text(lines, i)


# --- trailers, signatures, separators ----------------------------------------------------


def _is_trailer(line: str) -> bool:
    if len(line) > _MAX_LINE:
        return False
    stripped = _URL.sub("", line).strip().rstrip(".!…®™ ")
    stripped = stripped.replace("®", "").replace("™", "")
    if not stripped or len(stripped) > 80:
        return False
    if _TRAILER_MY.match(stripped):
        return True
    return bool(_TRAILER.match(stripped) and _DEVICE.search(stripped))


def _cuts_here(lines: list[str], i: int) -> bool:
    line = lines[i]
    if line.rstrip() in ("--", "-- ") or line == "-- " or _ORIGINAL.match(line):
        return True
    if _SEPARATOR.match(line):
        following = [ln for ln in lines[i + 1 : i + 6] if ln.strip()][:3]
        return any(_LIST_FOOTER.search(ln) for ln in following)
    return False
