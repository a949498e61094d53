"""Inbound email: raw RFC 5322 bytes from our SMTP server -> :class:`InboundMessage`.

An email reply carries the whole conversation below the guest's new words
(quoted with ``>``, under an "On … wrote:" line, or below an Outlook header
block). If that quote reached the conversation, an earlier request ("a table
for 4 on Friday") would be read again as if the guest had just asked for it. So
this module keeps only what the guest wrote this time: quoted lines,
attributions, forwarded-header blocks, signatures and "Sent from my iPhone"
trailers are cut, in English and Spanish (and the few other languages tourists
write in).

Everything here is pure: bytes in, a message out. Any input that cannot be
read as an email from someone raises :class:`MalformedPayload` and nothing
else, whatever the bytes are (the SMTP server hands us whatever a stranger
sent).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from saveit.channels.model import InboundMessage
from saveit.channels.ports import MalformedPayload
from saveit.domain.errors import ValidationFailed
from saveit.store.guests import normalise_email

MAX_ID_LENGTH = 250  # longer Message-IDs are hashed: they are dedup keys stored in an index
MAX_REFERENCES = 50  # a long thread keeps its newest ids; the oldest matter least
_ATTRIBUTION_MAX_LINE = 300  # attribution lines are short; long lines are never checked

# --- quote and signature markers -------------------------------------------------------

# "On Mon, 2 Dec 2026 at 10:00, Ana <a@b.es> wrote:", "El lun, 2 dic 2026 a las 10:00,
# Ana (<a@b.es>) escribió:", and the same in the languages a restaurant's guests write in.
_ATTRIBUTION = re.compile(
    r"^(?:on|el|le|am|em|il|op|w dniu)\s.*\S\s*"
    r"(?:wrote|escribió|escribio|va escriure|a écrit|schrieb|escreveu|ha scritto|schreef"
    r"|napisał)\s*:\s*$",
    re.IGNORECASE,
)
# Apple Mail and some webmails put the date first: "2 dic 2026, a las 10:00, Ana <a@b.es>
# escribió:". Matched as: a digit, an address, and one of these verbs at the end.
_ATTRIBUTION_END = re.compile(
    r"(?:wrote|escribió|escribio|a écrit|schrieb|escreveu|ha scritto)\s*:\s*$", re.IGNORECASE
)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(?:original message|mensaje original|message d'origine"
    r"|ursprüngliche nachricht|mensagem original|messaggio originale|missatge original)"
    r"\s*-{2,}\s*$",
    re.IGNORECASE,
)
# Outlook quotes the parent as a header block: "From: …" then "Sent: …" (or "Date:").
_HEADER_FROM = re.compile(r"^\s*\**\s*(?:from|de|von|da|van)\s*\**\s*:\s*\**\s*\S", re.IGNORECASE)
_HEADER_SENT = re.compile(
    r"^\s*\**\s*(?:sent|date|enviado(?: el)?|fecha|gesendet|envoyé|inviato|data|verzonden)"
    r"\s*\**\s*:",
    re.IGNORECASE,
)
_HEADER_ONE_LINE = re.compile(
    r"^\s*\**\s*(?:from|de)\s*\**\s*:.+\b(?:sent|enviado(?: el)?)\s*\**\s*:",
    re.IGNORECASE,
)
_MOBILE_TRAILER = re.compile(
    r"^\s*(?:(?:sent|enviado|envoyé|gesendet|inviato|enviat)\s+(?:from|desde|de|depuis|von|da)"
    r"\s+(?:(?:my|mi|mon|meinem|mio|el meu)\s+[\w .'-]{1,40}"
    r"|(?:yahoo|outlook|mail|gmail|aol|proton|samsung|huawei|xiaomi|android|iphone|ipad)"
    r"\b[\w .'-]{0,30})"
    r"|(?:get|obtener|obtenga|descargar)\s+outlook\s+(?:for|para)\s+\w+)\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(r"^\s*[_\-=*]{5,}\s*$")
_MSG_ID = re.compile(r"<([^<>\s]+)>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_REPLY_SUBJECT = re.compile(r"^\s*(?:re|aw|sv|rv|fw|fwd|tr|wg|r)\s*(?:\[\d+\])?\s*:", re.I)


def parse_email(raw: bytes, recipient: str, *, now: datetime | None = None) -> InboundMessage:
    """The guest's message in ``raw``, as received for the envelope ``recipient``.

    ``recipient`` comes from the SMTP envelope, not the ``To`` header: it is the
    address our server accepted, the one that names the restaurant, even when
    the guest wrote to several people or we were Bcc'd. ``now`` is the fallback
    ``sent_at`` when the Date header is missing or unreadable (default: the
    current time).
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise MalformedPayload("an email is bytes")
    raw = bytes(raw)
    if not raw.strip():
        raise MalformedPayload("empty message")
    try:
        return _parse(raw, recipient, now)
    except MalformedPayload:
        raise
    except Exception as exc:
        # The standard library's parser has raised many kinds of errors on
        # hostile input over the years; the caller only needs "unreadable".
        raise MalformedPayload(f"unreadable email: {type(exc).__name__}") from exc


def is_automatic(raw: bytes) -> bool:
    """True for mail no person wrote: bounces, out-of-office and other auto-replies.

    The gateway should store such messages but never answer them: two
    automatic responders answering each other loop forever (RFC 3834).
    """
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(bytes(raw), headersonly=True)
        auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
        if auto and not auto.startswith("no"):
            return True
        precedence = str(msg.get("Precedence", "")).strip().lower()
        if precedence in {"bulk", "junk", "list", "auto_reply"}:
            return True
        if msg.get("X-Autoreply") is not None or msg.get("X-Autorespond") is not None:
            return True
        content_type = msg.get_content_type()
        if content_type == "multipart/report":
            return True
        sender = getaddresses([str(msg.get("From", ""))])
        local = sender[0][1].partition("@")[0].lower() if sender else ""
        return local in {"mailer-daemon", "postmaster"}
    except Exception:
        return False


def _parse(raw: bytes, recipient: str, now: datetime | None) -> InboundMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    headers = _raw_headers(msg)
    if not headers:
        raise MalformedPayload("no headers")

    sender, sender_name = _sender(msg, headers.get("from"))
    rcpt = _envelope_address(recipient)
    message_id = _message_id(headers.get("message-id"), raw)
    in_reply_to = _first_id(headers.get("in-reply-to"))
    references = _references(headers.get("references"), in_reply_to)
    reply_to = in_reply_to or (references[-1] if references else None)
    subject = _subject(msg)
    sent_at = _date(headers.get("date")) or now or datetime.now(UTC)
    if sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=UTC)

    text = strip_quotes(_body_text(msg))
    if not text and subject and not _REPLY_SUBJECT.match(subject) and not references:
        # Some guests write the whole request in the subject line ("Mesa para 4 el sábado").
        text = subject

    return InboundMessage(
        channel="email",
        provider_message_id=message_id,
        sender=sender,
        recipient=rcpt,
        text=text,
        sent_at=sent_at.astimezone(UTC),
        sender_name=sender_name,
        reply_to=reply_to,
        references=references,
        subject=subject,
        raw=_clean(raw.decode("utf-8", errors="replace"), keep_newlines=True),
    )


# --- headers ---------------------------------------------------------------------------


def _raw_headers(msg: Message) -> dict[str, str]:
    """The first value of each header, unfolded and unparsed.

    Reading the raw value sidesteps the header classes for the fields we parse
    ourselves (ids, Date), so a malformed header costs that field, not the
    message.
    """
    found: dict[str, str] = {}
    for name, value in msg.raw_items():
        key = name.strip().lower()
        if key not in found:
            found[key] = _clean(re.sub(r"\r?\n[ \t]", " ", str(value))).strip()
    return found


def _unsurrogate(text: str) -> str:
    """Undecodable bytes (kept by the parser as lone surrogates) become U+FFFD."""
    if any("\ud800" <= c <= "\udfff" for c in text):
        try:
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:  # a surrogate that is no escaped byte
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _clean(text: str, *, keep_newlines: bool = False) -> str:
    """Text safe to store: no lone surrogates, no NUL (PostgreSQL refuses it in
    text), and for one-line values no control characters or line breaks."""
    text = _unsurrogate(text)
    if keep_newlines:
        return text.replace("\x00", "\ufffd")
    return _CONTROL.sub("", text).replace("\n", " ").replace("\r", " ")


def _sender(msg: EmailMessage, raw_from: str | None) -> tuple[str, str | None]:
    if not raw_from:
        raise MalformedPayload("no From address")
    candidates: list[tuple[str, str]] = []
    try:
        header = msg["From"]
        addresses: tuple[Address, ...] = getattr(header, "addresses", ())
        candidates.extend((a.display_name, a.addr_spec) for a in addresses)
    except Exception:  # noqa: S110 - the raw header is parsed again below
        pass
    candidates.extend(getaddresses([raw_from]))
    for name, address in candidates:
        address = _clean(address).strip()
        if not _looks_like_address(address):
            continue
        try:
            sender = normalise_email(address)
        except ValidationFailed:
            continue
        display = _clean(name).strip().strip('"').strip()
        return sender, display or None
    raise MalformedPayload("no readable From address")


def _looks_like_address(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(
        at
        and local
        and domain
        and not any(c.isspace() or c in '<>()[],;:"\\' for c in domain)
        and not any(c.isspace() or c in "<>" for c in local)
    )


def _envelope_address(recipient: str) -> str:
    address = recipient.strip().strip("<>").strip().lower()
    if not _looks_like_address(address):
        raise MalformedPayload("the envelope recipient is not an address")
    return address


def _bounded_id(value: str) -> str:
    if len(value) <= MAX_ID_LENGTH:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()


def _ids(value: str | None) -> list[str]:
    if not value:
        return []
    found = _MSG_ID.findall(value)
    if not found:  # some clients leave out the brackets
        found = [v for v in value.replace(",", " ").split() if "@" in v]
    return [_bounded_id(v) for v in found if v]


def _first_id(value: str | None) -> str | None:
    ids = _ids(value)
    return ids[0] if ids else None


def _message_id(value: str | None, raw: bytes) -> str:
    """The Message-ID, or a hash of the bytes: a retried delivery of the same
    message still deduplicates."""
    found = _first_id(value)
    if found:
        return found
    stripped = (value or "").strip().strip("<>").strip()
    if stripped and not any(c.isspace() for c in stripped):
        return _bounded_id(stripped)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _references(value: str | None, in_reply_to: str | None) -> tuple[str, ...]:
    ordered: list[str] = []
    seen: set[str] = set()
    for ref in [*_ids(value), *([in_reply_to] if in_reply_to else [])]:
        if ref not in seen:
            seen.add(ref)
            ordered.append(ref)
    return tuple(ordered[-MAX_REFERENCES:])


def _subject(msg: EmailMessage) -> str | None:
    try:
        value = msg.get("Subject")
    except Exception:
        return None
    if value is None:
        return None
    subject = re.sub(r"\s+", " ", _clean(str(value))).strip()
    return subject or None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000": UTC with an unknown local zone (RFC 5322 3.3)
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# --- body ------------------------------------------------------------------------------


def _body_text(msg: EmailMessage) -> str:
    """The guest's text: the text/plain part, else the HTML part as text."""
    part = _find_body(msg)
    if part is None:
        return ""
    text = _decoded(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    elif str(part.get_param("format", "")).lower() == "flowed":
        text = _unflow(text, delsp=str(part.get_param("delsp", "")).lower() == "yes")
    return text


def _find_body(msg: EmailMessage) -> Message | None:
    try:
        body = msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        body = None
    if body is not None:
        return body
    # A malformed multipart can defeat get_body: take the first inline text part.
    for subtype in ("plain", "html"):
        for part in _walk(msg):
            if (
                part.get_content_maintype() == "text"
                and part.get_content_subtype() == subtype
                and part.get_content_disposition() != "attachment"
            ):
                return part
    return None


def _walk(msg: Message) -> Iterator[Message]:
    try:
        yield from msg.walk()
    except Exception:  # a broken tree yields what was readable
        return


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        value = part.get_payload()
        return _unsurrogate(value) if isinstance(value, str) else ""
    charset = str(part.get_param("charset", "") or "").strip().strip('"') or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except (LookupError, ValueError):  # unknown or bogus charset name
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            text = payload.decode("cp1252", errors="replace")
    return _unsurrogate(text)  # control characters go in strip_quotes


def _unflow(text: str, *, delsp: bool) -> str:
    """Join the soft line breaks of ``format=flowed`` text (RFC 3676)."""
    out: list[str] = []
    pending = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith(" "):
            line = line[1:]  # space-stuffing
        if line.endswith(" ") and line != "-- " and not line.startswith(">"):
            pending += line[:-1] if delsp else line
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return "\n".join(out)


class _HtmlText(HTMLParser):
    """HTML -> plain lines, the way a mail client shows them.

    Block elements break lines (paragraphs leave a blank line, nested ``div``
    soup does not pile up empty ones), ``<br>`` is a line break, script and
    style content is dropped, and blockquotes come out as ``>`` lines so that
    :func:`strip_quotes` treats an HTML quote like a plain-text one.
    """

    _SKIP = frozenset({"script", "style", "head", "title", "template", "svg"})
    _PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"})
    _BLOCK = frozenset(
        {
            "div", "li", "tr", "hr", "section", "article", "header", "footer", "dl", "dt",
            "dd", "address", "center", "form", "fieldset", "body", "html", "main", "nav",
        }
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._lines: list[list[str]] = [[]]  # words of each line
        self._depths: list[int] = [0]  # blockquote depth of each line
        self._depth = 0
        self._pending = 0  # line breaks owed before the next text (1: line, 2: paragraph)
        self._skipping: list[str] = []
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._skipping.clear()  # an unclosed <head> ends where the body starts
        if tag in self._SKIP:
            self._skipping.append(tag)
        elif tag == "br":
            self._newline()
        elif tag == "blockquote":
            self._break(1)
            self._depth += 1
        elif tag == "li":
            self._break(1)
            self._text("- ")
        else:
            self._block(tag)
        if tag == "pre":
            self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._newline()
        else:
            self._block(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            if tag in self._skipping:
                while self._skipping and self._skipping.pop() != tag:
                    pass
        elif tag == "blockquote":
            self._break(1)
            self._depth = max(0, self._depth - 1)
        else:
            self._block(tag)
        if tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if self._pre:
            first, *rest = data.replace("\r\n", "\n").split("\n")
            self._text(first)
            for line in rest:
                self._newline()
                self._text(line)
            return
        self._text(re.sub(r"[ \t\r\n\f]+", " ", data))

    def _block(self, tag: str) -> None:
        if tag in self._PARAGRAPH:
            self._break(2)
        elif tag in self._BLOCK:
            self._break(1)

    def _break(self, level: int) -> None:
        self._pending = max(self._pending, level)

    def _newline(self) -> None:
        self._flush()
        self._lines.append([])
        self._depths.append(self._depth)

    def _flush(self) -> None:
        pending, self._pending = self._pending, 0
        if not "".join(self._lines[-1]).strip():
            pending -= 1  # already at the start of a line
            self._lines[-1] = []
            self._depths[-1] = self._depth
        for _ in range(pending):
            self._lines.append([])
            self._depths.append(self._depth)

    def _text(self, text: str) -> None:
        at_line_start = not "".join(self._lines[-1]).strip()
        if not text.strip() and (self._pending or at_line_start) and not self._pre:
            return  # whitespace between blocks
        if self._pending:
            self._flush()
        self._lines[-1].append(text)

    def text(self) -> str:
        out = []
        for words, depth in zip(self._lines, self._depths, strict=True):
            line = "".join(words).strip()
            out.append(("> " * depth + line) if depth and line else line)
        return "\n".join(out)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body, without script or style content."""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
        return parser.text()
    except Exception:
        # Never fail on bad markup: strip the tags bluntly instead.
        text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", html)
        return re.sub(r"<[^>]*>", " ", text)


# --- quotes and signatures -------------------------------------------------------------


def strip_quotes(text: str) -> str:
    """Only what the guest wrote this time: no quoted earlier messages, no signature.

    ``>`` lines are dropped wherever they are (a guest may answer between
    quoted lines). An attribution line ("On … wrote:") followed by ``>`` lines
    is dropped with them, and the text after the quote is kept (bottom
    posting). Below an attribution without ``>`` lines, an Outlook header block,
    an "Original Message" line, a signature delimiter or a mobile "Sent from"
    trailer, everything is cut: what follows is the old message or the
    signature.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    text = text.replace("\u200b", "").replace("\ufeff", "")
    text = _CONTROL.sub("", text)
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_quoted(line):
            i += 1
            continue
        span = _attribution_span(lines, i)
        if span:
            after = i + span
            while after < len(lines) and not lines[after].strip():
                after += 1
            if after < len(lines) and _is_quoted(lines[after]):
                i += span
                continue
            break
        if _cuts_here(lines, i):
            break
        out.append(line.rstrip())
        i += 1
    while out and (not out[-1].strip() or _SEPARATOR.match(out[-1])):
        out.pop()
    result = "\n".join(out).strip("\n")
    result = re.sub(r"\n{3,}", "\n\n", result)
    return result.strip()


def _is_quoted(line: str) -> bool:
    return line.lstrip(" ").startswith(">")


def _is_attribution(line: str) -> bool:
    line = line.strip()
    if not line or len(line) > _ATTRIBUTION_MAX_LINE or not any(c.isdigit() for c in line):
        return False
    if _ATTRIBUTION.match(line):
        return True
    return "@" in line and _ATTRIBUTION_END.search(line) is not None


def _attribution_span(lines: list[str], i: int) -> int:
    """1 or 2 when an attribution starts at line ``i`` (Gmail wraps long ones), else 0."""
    if _is_attribution(lines[i]):
        return 1
    if (
        i + 1 < len(lines)
        and lines[i].strip()
        and lines[i + 1].strip()
        and not _is_attribution(lines[i + 1])  # then line i is the guest's own
    ):
        first = lines[i].strip()
        if (
            len(first) <= _ATTRIBUTION_MAX_LINE
            and not first.endswith((".", "?", "!"))
            and _is_attribution(first + " " + lines[i + 1].strip())
        ):
            return 2
    return 0


def _cuts_here(lines: list[str], i: int) -> bool:
    line = lines[i]
    stripped = line.strip()
    if line.rstrip() == "--" or _ORIGINAL_MESSAGE.match(line):
        return True
    if len(stripped) <= 80 and _MOBILE_TRAILER.match(stripped):
        return True
    if _HEADER_ONE_LINE.match(line):
        return True
    if _HEADER_FROM.match(line):
        following = [ln for ln in lines[i + 1 : i + 6] if ln.strip()][:3]
        return any(_HEADER_SENT.match(ln) for ln in following)
    return False
