"""Inbound email: raw RFC 5322 bytes from our SMTP server -> :class:`InboundMessage`.

An email reply carries the whole conversation below the guest's new words.
This module reads the headers and finds the body (the text/plain part, else
the HTML part laid out as text by :mod:`saveit.channels.email.html`); what the
guest wrote this time is cut out of it by :mod:`saveit.channels.email.quotes`.

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

from saveit.channels.email.html import html_to_text
from saveit.channels.email.quotes import is_forward_subject, strip_quotes
from saveit.domain.channel_ports import MalformedPayload
from saveit.domain.errors import ValidationFailed
from saveit.domain.messages import InboundMessage
from saveit.store.guests import normalise_email

MAX_ID_LENGTH = 250  # longer Message-IDs are hashed: they are dedup keys stored in an index
MAX_REFERENCES = 50  # a long thread keeps its newest ids; the oldest matter least
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

    text = strip_quotes(_body_text(msg), forwarded=is_forward_subject(subject))
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
