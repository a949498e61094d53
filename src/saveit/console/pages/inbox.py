"""The Inbox (hosts and up): every guest conversation across the channels, the
ones handed to a person on top, then the newest; one conversation's thread with
each message's delivery state; a staff reply; taking over from the bot and
handing back.

Replies go through :class:`~saveit.admin.inbox.StaffInbox` (the staff API's own
service): queued like the bot's and sent on the guest's own channel by the
delivery workers. Where WhatsApp's 24-hour window has closed the page says so
before anyone types, and refuses the reply when no approved template can carry it.

The list and the thread's messages refresh themselves with a small htmx poll
that answers 204 while nothing changed (a fingerprint of what is shown travels
in the poll's URL), and at once on a ``saveit:live`` event (``inbox.js``).
Without JavaScript every form posts and comes back to the thread.
"""

from __future__ import annotations

import hashlib
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from saveit.admin.inbox import InboxEntry, StaffInbox, StoredMessage
from saveit.console import messages_inbox as messages_inbox
from saveit.console import nav
from saveit.console.problems import said
from saveit.console.render import render
from saveit.console.session import AtRestaurant, Form, HostAt, PageError, services_of
from saveit.domain import errors

router = APIRouter(prefix="/console/r/{slug}/inbox", include_in_schema=False)

nav.register(nav.NavEntry("inbox", "inbox.nav", "inbox", "host", 40))

LIST_LIMIT = 100
THREAD_LIMIT = 100


def _inbox(request: Request) -> StaffInbox:
    return services_of(request).inbox


def _stamp(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _list_stamp(entries: list[InboxEntry]) -> str:
    return _stamp(
        [(e.conversation.id, e.conversation.handoff, e.guest_name, e.last) for e in entries]
    )


def _messages_stamp(found: list[StoredMessage]) -> str:
    return _stamp([(m.id, m.status, m.error_code) for m in found])


def _hx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _context(
    request: Request, at: AtRestaurant, conversation_id: int | None, **extra: Any
) -> dict[str, Any]:
    inbox = _inbox(request)
    entries = inbox.overview(at.slug, limit=LIST_LIMIT)
    values: dict[str, Any] = {
        "entries": entries,
        "list_stamp": _list_stamp(entries),
        "selected": conversation_id,
        "zone": ZoneInfo(inbox.timezone(at.slug)),
        "entry": None,
        "thread": None,
        "window": None,
        "messages_stamp": "",
        "problem": None,
        "done": None,
        "entered": "",
        "oob": False,
    }
    if conversation_id is not None:
        values["entry"] = inbox.entry(at.slug, conversation_id)
        view = inbox.conversation(at.slug, conversation_id, limit=THREAD_LIMIT, before=None)
        values["thread"] = view.messages or []
        values["messages_stamp"] = _messages_stamp(values["thread"])
        values["window"] = inbox.window(at.slug, conversation_id)
    values.update(extra)
    return values


def _show(
    request: Request,
    at: AtRestaurant,
    template: str,
    conversation_id: int | None,
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    try:
        values = _context(request, at, conversation_id, **extra)
    except errors.NotFound:
        raise PageError(404, "error.404") from None
    return render(
        template,
        lang=at.visit.lang,
        csrf=at.visit.csrf,
        at=at,
        current="inbox",
        status=status,
        **values,
    )


@router.get("")
def inbox_page(request: Request, at: HostAt) -> Response:
    return _show(request, at, "inbox/page.html", None)


@router.get("/list")
def inbox_list(request: Request, at: HostAt, stamp: str = "", c: int | None = None) -> Response:
    entries = _inbox(request).overview(at.slug, limit=LIST_LIMIT)
    if stamp and stamp == _list_stamp(entries):
        return Response(status_code=204)
    return _show(request, at, "inbox/_list.html", None, selected=c)


@router.get("/{conversation_id}")
def thread_page(request: Request, at: HostAt, conversation_id: int) -> Response:
    return _show(request, at, "inbox/page.html", conversation_id)


@router.get("/{conversation_id}/messages")
def thread_messages(
    request: Request, at: HostAt, conversation_id: int, stamp: str = ""
) -> Response:
    try:
        view = _inbox(request).conversation(
            at.slug, conversation_id, limit=THREAD_LIMIT, before=None
        )
    except errors.NotFound:
        raise PageError(404, "error.404") from None
    if stamp and stamp == _messages_stamp(view.messages or []):
        return Response(status_code=204)
    return _show(request, at, "inbox/_messages.html", conversation_id)


def _after_post(
    request: Request,
    at: AtRestaurant,
    conversation_id: int,
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    """htmx: the thread, and the list out of band (its order may have changed);
    a plain form: back to the thread (or the whole page with the refusal)."""
    if _hx(request):
        return _show(
            request, at, "inbox/_posted.html", conversation_id, status=status, oob=True, **extra
        )
    if status != 200:
        return _show(request, at, "inbox/page.html", conversation_id, status=status, **extra)
    return RedirectResponse(f"/console/r/{at.slug}/inbox/{conversation_id}", status_code=303)


@router.post("/{conversation_id}/reply")
def reply(request: Request, at: HostAt, conversation_id: int, form: Form) -> Response:
    text = form.get("text", "")
    session = at.visit.session
    try:
        queued = _inbox(request).staff_reply(
            at.slug,
            conversation_id,
            text,
            author=session.name or session.email,
            sender=session.name,
        )
    except errors.NotFound:
        raise PageError(404, "error.404") from None
    except errors.DomainError as exc:
        return _after_post(
            request, at, conversation_id, status=422, problem=said(at.visit.lang, exc), entered=text
        )
    return _after_post(request, at, conversation_id, done=("inbox.reply.sent", queued.channel))


def _hand_off(request: Request, at: AtRestaurant, conversation_id: int, active: bool) -> Response:
    try:
        _inbox(request).hand_off(
            at.slug, conversation_id, active=active, by=f"staff:{at.visit.session.name}"[:64]
        )
    except errors.NotFound:
        raise PageError(404, "error.404") from None
    done = ("inbox.taken" if active else "inbox.released", None)
    return _after_post(request, at, conversation_id, done=done)


@router.post("/{conversation_id}/take")
def take_over(request: Request, at: HostAt, conversation_id: int, form: Form) -> Response:
    return _hand_off(request, at, conversation_id, True)


@router.post("/{conversation_id}/release")
def hand_back(request: Request, at: HostAt, conversation_id: int, form: Form) -> Response:
    return _hand_off(request, at, conversation_id, False)
