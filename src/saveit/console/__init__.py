"""The staff console: server-rendered pages at ``/console`` for the people who
run a restaurant, on the same services the API uses.

The API's app factory mounts it (:func:`mount`); the console reaches data only
through services (:class:`.services.ConsoleServices`), never the store.

* :mod:`.session` — sign-in cookie, the restaurant/role guard, CSRF on forms.
* :mod:`.render` — Jinja2 templates, versioned static URLs.
* :mod:`.i18n`, :mod:`.messages` — Spanish and English.
* :mod:`.nav` — the navigation registry pages plug into.
* :mod:`.headers` — CSP and caching.
* :mod:`.pages` — one module per page.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from saveit.console import messages as _messages  # noqa: F401 - registers the core texts
from saveit.console.headers import ConsoleHeaders
from saveit.console.pages import PAGES
from saveit.console.render import STATIC, STATIC_PREFIX, render
from saveit.console.services import ConsoleServices
from saveit.console.session import MustChangePassword, NotSignedIn, PageError, language_of

__all__ = ["ConsoleServices", "mount"]


def mount(app: FastAPI, services: ConsoleServices) -> None:
    app.state.console = services
    for router in PAGES:
        app.include_router(router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(MustChangePassword, _must_change_password)
    app.add_exception_handler(PageError, _page_error)
    app.add_middleware(ConsoleHeaders)


def _go(request: Request, target: str) -> Response:
    if request.headers.get("hx-request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _not_signed_in(request: Request, _exc: Exception) -> Response:
    target = "/console/sign-in"
    if request.method == "GET" and request.url.path != "/console":
        target += f"?next={quote(request.url.path)}"
    return _go(request, target)


async def _must_change_password(request: Request, _exc: Exception) -> Response:
    return _go(request, "/console/account/password")


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    return render(
        "error.html", lang=language_of(request), csrf="", status=exc.status, message=exc.message
    )
