"""Outbound email, the message itself: an :class:`OutboundMessage` becomes a MIME
message (plain and HTML parts, threading headers, attachments such as the
``.ics``), ready for :class:`~saveit.channels.email.sender.EmailSender` to hand to
the relay.

Email has no buttons: choices become a numbered list in both the plain and the
HTML part, and the gateway maps a guest's "2" back to the second choice.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from saveit.domain.channel_ports import ChannelAccount, SendContext
from saveit.domain.messages import (
    Attachment,
    Button,
    Image,
    ListOption,
    OutboundMessage,
)

SUBJECT_MAX = 70  # what a phone's inbox shows of a subject line
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_URL = re.compile(r"https?://[^\s<>\"']+")
_METHOD = re.compile(rb"^METHOD:([A-Za-z-]+)\r?$", re.MULTILINE)
_DEFAULT_SUBJECT = {"es": "Mensaje de {name}", "en": "Message from {name}"}


# --- building the message --------------------------------------------------------------


def build_email(
    account: ChannelAccount,
    to: str,
    message: OutboundMessage,
    context: SendContext,
    *,
    reply_to: str | None = None,
) -> EmailMessage:
    """The MIME message for ``message``: plain + HTML alternatives, related inline
    images, then attachments (an ``.ics`` as ``text/calendar; method=…``).

    ``reply_to`` is the guest's own reply address: a reply to it proves the
    guest reads this mailbox (see :mod:`saveit.channels.email.proof`)."""
    if any(c in to for c in "\r\n") or any(c in account.address for c in "\r\n"):
        raise ValueError("line breaks in an address")
    domain = _domain(account.address)
    email = EmailMessage()
    name = " ".join(context.restaurant_name.split())
    email["From"] = Address(display_name=name, addr_spec=account.address.strip())
    email["To"] = Address(addr_spec=to.strip())
    if reply_to:
        email["Reply-To"] = Address(display_name=name, addr_spec=reply_to)
    email["Subject"] = _subject(message, context)
    when = context.now or datetime.now(UTC)
    email["Date"] = format_datetime(when if when.tzinfo else when.replace(tzinfo=UTC))
    email["Message-ID"] = f"<{_id_local(context.message_id)}@{domain}>"
    parent = _bare_id(context.in_reply_to) if context.in_reply_to else None
    references = [_bare_id(r) for r in context.references if _bare_id(r)]
    if parent and parent not in references:
        references.append(parent)
    if parent:
        email["In-Reply-To"] = f"<{parent}>"
    if references:
        email["References"] = " ".join(f"<{r}>" for r in references)
    email["Auto-Submitted"] = "auto-replied" if parent else "auto-generated"
    email["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    if context.language:
        email["Content-Language"] = context.language

    inline = [a for a in message.attachments if a.inline and a.content_type.startswith("image/")]
    image_cid = make_msgid(domain=domain) if message.image and message.image.data else None
    inline_cids = [a.content_id or make_msgid(domain=domain) for a in inline]

    email.set_content(_plain(message), charset="utf-8", cte="quoted-printable")
    email.add_alternative(
        _html(message, context, image_cid, [*zip(inline, inline_cids, strict=True)]),
        subtype="html",
        charset="utf-8",
        cte="quoted-printable",
    )
    html_part = list(email.iter_parts())[1]
    if message.image and message.image.data and image_cid:
        maintype, subtype = _split_type(message.image.content_type, "image/png")
        html_part.add_related(
            message.image.data,
            maintype=maintype,
            subtype=subtype,
            cid=image_cid,
            disposition="inline",
            filename=f"image.{subtype}",
        )
    for attachment, cid in zip(inline, inline_cids, strict=True):
        maintype, subtype = _split_type(attachment.content_type, "image/png")
        html_part.add_related(
            attachment.data,
            maintype=maintype,
            subtype=subtype,
            cid=_angle(cid),
            disposition="inline",
            filename=attachment.filename,
        )
    for attachment in message.attachments:
        if not any(attachment is a for a in inline):
            _attach(email, attachment)
    return email


def _attach(email: EmailMessage, attachment: Attachment) -> None:
    maintype, subtype = _split_type(attachment.content_type, "application/octet-stream")
    params: dict[str, str] = {}
    if (maintype, subtype) == ("text", "calendar"):
        # Calendar clients offer "add to calendar" only with the iTIP method in
        # the Content-Type, and it must match the METHOD inside the file.
        found = _METHOD.search(attachment.data)
        params["method"] = found.group(1).decode("ascii").upper() if found else "REQUEST"
        params["charset"] = "utf-8"
    email.add_attachment(
        attachment.data,
        maintype=maintype,
        subtype=subtype,
        filename=attachment.filename,
        params=params,
    )


def _split_type(content_type: str, default: str) -> tuple[str, str]:
    maintype, _, subtype = (content_type or default).partition(";")[0].strip().partition("/")
    if not maintype or not subtype:
        maintype, _, subtype = default.partition("/")
    return maintype.lower(), subtype.lower()


def _domain(address: str) -> str:
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"{address!r} is not an email address")
    try:
        return domain.lower().encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"{address!r} has an unusable domain") from exc


def _id_local(message_id: str) -> str:
    """Our id as the left part of a Message-ID (dot-atom characters only)."""
    local = _ID_UNSAFE.sub("-", message_id.strip()).strip(".")
    local = re.sub(r"\.{2,}", ".", local)
    if not local:
        raise ValueError("empty message id")
    return local


def _bare_id(value: str) -> str:
    return value.strip().strip("<>").strip()


def _angle(cid: str) -> str:
    return f"<{_bare_id(cid)}>"


def _subject(message: OutboundMessage, context: SendContext) -> str:
    if message.subject and message.subject.strip():
        return " ".join(message.subject.split())
    for line in message.text.splitlines():
        line = " ".join(line.split())
        if line:
            if len(line) <= SUBJECT_MAX:
                return line
            cut = line[: SUBJECT_MAX - 1].rsplit(" ", 1)[0]
            return cut.rstrip(" ,;:.-") + "…"
    name = context.restaurant_name or "SaveIt"
    template = _DEFAULT_SUBJECT.get(context.language[:2], _DEFAULT_SUBJECT["en"])
    return template.format(name=name)


def _choice_line(n: int, choice: Button | ListOption) -> str:
    description = getattr(choice, "description", "")
    return f"{n}. {choice.title}" + (f" — {description}" if description else "")


def _plain(message: OutboundMessage) -> str:
    blocks = [message.text.strip()] if message.text.strip() else []
    image = message.image
    if image is not None and (image.caption or image.url):
        blocks.append("\n".join(p for p in (image.caption, image.url) if p))
    if message.choices:
        lines = [message.options_label] if message.options and message.options_label else []
        lines += [_choice_line(n, c) for n, c in enumerate(message.choices, start=1)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _linkify(escaped: str) -> str:
    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        trail = ""
        while url and url[-1] in ".,;:!?)":
            url, trail = url[:-1], url[-1] + trail
        return f'<a href="{url}">{url}</a>{trail}'

    return _URL.sub(link, escaped)


def _paragraphs(text: str) -> str:
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        if block.strip():
            lines = [_linkify(html.escape(line.strip())) for line in block.splitlines()]
            out.append("<p>" + "<br>\n".join(lines) + "</p>")
    return "\n".join(out)


def _img(src: str, image_caption: str) -> str:
    alt = html.escape(image_caption, quote=True)
    return (
        f'<p><img src="{html.escape(src, quote=True)}" alt="{alt}" '
        'style="max-width:100%;height:auto"></p>'
    )


def _html(
    message: OutboundMessage,
    context: SendContext,
    image_cid: str | None,
    inline: list[tuple[Attachment, str]],
) -> str:
    parts = [_paragraphs(message.text)] if message.text.strip() else []
    image: Image | None = message.image
    if image is not None:
        if image_cid:
            parts.append(_img(f"cid:{_bare_id(image_cid)}", image.caption))
        elif image.url:
            parts.append(_img(image.url, image.caption))
        if image.caption:
            parts.append(f"<p><small>{html.escape(image.caption)}</small></p>")
        if image.url and image_cid:
            parts.append(f"<p>{_linkify(html.escape(image.url))}</p>")
    for attachment, cid in inline:
        parts.append(_img(f"cid:{_bare_id(cid)}", attachment.filename))
    if message.choices:
        if message.options and message.options_label:
            parts.append(f"<p><strong>{html.escape(message.options_label)}</strong></p>")
        items = []
        for choice in message.choices:
            description = getattr(choice, "description", "")
            extra = f" <small>{html.escape(description)}</small>" if description else ""
            items.append(f"<li>{html.escape(choice.title)}{extra}</li>")
        parts.append("<ol>\n" + "\n".join(items) + "\n</ol>")
    lang = html.escape(context.language or "es", quote=True)
    title = html.escape(context.restaurant_name)
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n</head>\n"
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;'
        'line-height:1.5;color:#222222">\n' + "\n".join(parts) + "\n</body>\n</html>\n"
    )
