"""Who is asking, and may they: the session cookie, the restaurant guard, and
the CSRF check on every form, as FastAPI dependencies for the console's pages.

* :data:`SignedIn` — a live session (else a redirect to the sign-in page, or a
  401 with ``HX-Redirect`` for an htmx request).
* :data:`HostAt`, :data:`ManagerAt`, :data:`OwnerAt` — the person works at the
  ``{slug}`` of the URL with at least that role. Someone who does not work there
  gets 404 (the page does not say whether the restaurant exists); a role too low
  gets 403. The rest of the request is scoped to that restaurant (row-level
  security on PostgreSQL).
* :data:`Form` — the request's urlencoded form, after its CSRF token (field
  ``csrf`` or header ``X-CSRF-Token``) and its ``Origin`` were checked.

The cookie is ``HttpOnly`` and ``SameSite=Lax``, and ``Secure`` (with the
``__Host-`` name prefix) except on plain http to a loopback address outside
production, where a browser would drop a secure cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, cast
from urllib.parse import parse_qsl, urlsplit

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import Response

from saveit.accounts import Membership, StaffSession, at_least, enter_restaurant
from saveit.config.security import Environment
from saveit.console import csrf, i18n
from saveit.console.services import ConsoleServices

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
TEMPORARY_PASSWORD_PATHS = frozenset(
    {"/console/account/password", "/console/sign-out", "/console/account/language"}
)
MAX_FORM_FIELDS = 50


class NotSignedIn(Exception):
    """No live session: the page sends the browser to sign in."""


class MustChangePassword(Exception):
    """Signed in with a temporary password: only the password page opens."""


class PageError(Exception):
    """A page refused; ``message`` is a catalogue id shown on the error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def services_of(conn: HTTPConnection) -> ConsoleServices:
    return cast(ConsoleServices, conn.app.state.console)


def secure(conn: HTTPConnection) -> bool:
    """Whether cookies are ``Secure``: always, but on http to loopback in development."""
    if services_of(conn).settings.env is Environment.PRODUCTION:
        return True
    # A WebSocket's URL says ws: where its page's says http:.
    return not (conn.url.scheme in {"http", "ws"} and (conn.url.hostname or "") in LOOPBACK)


def cookie_name(conn: HTTPConnection, base: str) -> str:
    return f"__Host-{base}" if secure(conn) else base


SESSION_COOKIE = "saveit_console"
PRE_COOKIE = "saveit_console_pre"


def set_cookie(
    response: Response, conn: HTTPConnection, base: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        cookie_name(conn, base),
        value,
        max_age=max_age,
        path="/",
        secure=secure(conn),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, conn: HTTPConnection, base: str) -> None:
    response.delete_cookie(
        cookie_name(conn, base), path="/", secure=secure(conn), httponly=True, samesite="lax"
    )


def language_of(conn: HTTPConnection, preferred: str | None = None) -> str:
    """The stored preference, else ``?lang=``, else the browser's, else Spanish."""
    if preferred is not None and preferred in i18n.LANGUAGES:
        return preferred
    asked = conn.query_params.get("lang")
    if asked is not None and asked in i18n.LANGUAGES:
        return asked
    return i18n.from_accept_language(conn.headers.get("accept-language")) or i18n.DEFAULT


@dataclass(frozen=True, slots=True)
class Visit:
    """A request from a signed-in person."""

    session: StaffSession
    token: str
    lang: str
    csrf: str


@dataclass(frozen=True, slots=True)
class AtRestaurant:
    """A signed-in person on one of their restaurants' pages."""

    visit: Visit
    membership: Membership

    @property
    def slug(self) -> str:
        return self.membership.slug

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def restaurant_id(self) -> int:
        return self.membership.restaurant_id


async def _visit(request: Request) -> Visit:
    services = services_of(request)
    token = request.cookies.get(cookie_name(request, SESSION_COOKIE))
    if not token:
        raise NotSignedIn
    session = await run_in_threadpool(services.signin.session, token)
    if session is None:
        raise NotSignedIn
    if session.must_change_password and request.url.path not in TEMPORARY_PASSWORD_PATHS:
        raise MustChangePassword
    return Visit(
        session,
        token,
        language_of(request, session.language),
        csrf.token_for(services.secret, "session", session.token_hash),
    )


SignedIn = Annotated[Visit, Depends(_visit)]


def _staff_at(minimum: str) -> Any:
    async def dependency(slug: str, visit: SignedIn) -> AtRestaurant:
        membership = visit.session.membership(slug)
        if membership is None:
            raise PageError(404, "error.404")
        if not at_least(membership.role, minimum):
            raise PageError(403, "error.403")
        # Async so the scope is set in the request's own context, which the
        # endpoint's thread inherits (as saveit.api.auth does for tokens).
        enter_restaurant(membership.restaurant_id)
        return AtRestaurant(visit, membership)

    return Depends(dependency)


HostAt = Annotated[AtRestaurant, _staff_at("host")]
ManagerAt = Annotated[AtRestaurant, _staff_at("manager")]
OwnerAt = Annotated[AtRestaurant, _staff_at("owner")]


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body (the last value of a repeated field wins)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise PageError(400, "error.csrf")
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError as exc:
        raise PageError(400, "error.csrf") from exc
    return dict(pairs)


def check_origin(request: Request) -> None:
    """A browser's ``Origin`` on a form post must be this site (defence in depth)."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    parts = urlsplit(origin)
    if (parts.scheme, parts.netloc) != (request.url.scheme, request.url.netloc):
        raise PageError(403, "error.csrf")


async def _form(request: Request, visit: SignedIn) -> dict[str, str]:
    check_origin(request)
    data = await read_form(request)
    presented = data.pop(csrf.FIELD, None) or request.headers.get(csrf.HEADER)
    if not csrf.valid(services_of(request).secret, "session", visit.session.token_hash, presented):
        raise PageError(403, "error.csrf")
    return data


Form = Annotated[dict[str, str], Depends(_form)]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of ours, never another site."""
    if (
        target
        and target.startswith("/console")
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return "/console"
