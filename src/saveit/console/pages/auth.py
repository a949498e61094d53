"""Signing in and out, choosing a restaurant, and one's own account (password,
language). These routes have fixed paths; a restaurant's pages live under
``/console/r/{slug}``."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from saveit.accounts import SignInRefused
from saveit.console import csrf
from saveit.console.problems import said
from saveit.console.render import render
from saveit.console.session import (
    PRE_COOKIE,
    SESSION_COOKIE,
    Form,
    PageError,
    SignedIn,
    check_origin,
    clear_cookie,
    cookie_name,
    language_of,
    read_form,
    safe_next,
    services_of,
    set_cookie,
)
from saveit.domain import errors
from saveit.ratelimit import RateLimited

router = APIRouter(prefix="/console", include_in_schema=False)

Next = Annotated[str | None, Query(alias="next", max_length=500)]


def _see_other(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303)


@router.get("")
def index(visit: SignedIn) -> Response:
    """Straight to the one restaurant, or to the chooser."""
    memberships = visit.session.memberships
    if len(memberships) == 1:
        return _see_other(f"/console/r/{memberships[0].slug}")
    return _see_other("/console/choose")


@router.get("/choose")
def choose(visit: SignedIn) -> Response:
    return render("choose.html", lang=visit.lang, csrf=visit.csrf, visit=visit)


def _sign_in_page(
    request: Request,
    *,
    status: int = 200,
    error: str | None = None,
    email: str = "",
    target: str | None = None,
    notice: str | None = None,
) -> Response:
    services = services_of(request)
    pre = request.cookies.get(cookie_name(request, PRE_COOKIE)) or secrets.token_urlsafe(24)
    lang = language_of(request)
    response = render(
        "sign_in.html",
        lang=lang,
        csrf=csrf.token_for(services.secret, "pre", pre),
        status=status,
        error=error,
        email=email,
        next=safe_next(target),
        notice=notice,
    )
    set_cookie(response, request, PRE_COOKIE, pre, max_age=None)
    return response


@router.get("/sign-in")
async def sign_in_form(request: Request, target: Next = None) -> Response:
    token = request.cookies.get(cookie_name(request, SESSION_COOKIE))
    if token:
        session = await run_in_threadpool(services_of(request).signin.session, token)
        if session is not None:
            return _see_other(safe_next(target))
    notice = "signout.done" if request.query_params.get("signed_out") else None
    return _sign_in_page(request, target=target, notice=notice)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    services = services_of(request)
    check_origin(request)
    data = await read_form(request)
    pre = request.cookies.get(cookie_name(request, PRE_COOKIE), "")
    if not csrf.valid(services.secret, "pre", pre, data.get(csrf.FIELD)):
        raise PageError(403, "error.csrf")
    email = data.get("email", "")[:254]
    target = data.get("next")
    client = request.client.host if request.client else None
    try:
        opened = await run_in_threadpool(
            services.signin.sign_in, email, data.get("password", ""), client_ip=client
        )
    except SignInRefused:
        return _sign_in_page(
            request, status=401, error="signin.refused", email=email, target=target
        )
    except RateLimited as exc:
        page = _sign_in_page(
            request, status=429, error="signin.throttled", email=email, target=target
        )
        page.headers["Retry-After"] = str(exc.data.get("retry_after", 60))
        return page
    response = _see_other(safe_next(target))
    max_age = services.settings.console_session_hours * 3600
    set_cookie(response, request, SESSION_COOKIE, opened.token, max_age=max_age)
    clear_cookie(response, request, PRE_COOKIE)
    return response


@router.post("/sign-out")
def sign_out(request: Request, visit: SignedIn, _form: Form) -> Response:
    services_of(request).signin.sign_out(visit.token)
    response = _see_other("/console/sign-in?signed_out=1")
    clear_cookie(response, request, SESSION_COOKIE)
    return response


@router.get("/account/password")
def password_form(visit: SignedIn) -> Response:
    return render(
        "password.html",
        lang=visit.lang,
        csrf=visit.csrf,
        visit=visit,
        error=None,
        problem=None,
        field=None,
    )


@router.post("/account/password")
def change_password(request: Request, visit: SignedIn, form: Form) -> Response:
    new = form.get("new_password", "")
    try:
        if new != form.get("repeat_password", ""):
            raise errors.ValidationFailed("mismatch", field="repeat_password")
        opened = services_of(request).signin.change_password(
            visit.session, form.get("current_password", ""), new
        )
    except errors.DomainError as exc:
        message = "password.mismatch" if exc.detail == "mismatch" else None
        return render(
            "password.html",
            lang=visit.lang,
            csrf=visit.csrf,
            visit=visit,
            status=422,
            error=message,
            problem=None if message else said(visit.lang, exc),
            field=exc.data.get("field"),
        )
    response = _see_other("/console")
    max_age = services_of(request).settings.console_session_hours * 3600
    set_cookie(response, request, SESSION_COOKIE, opened.token, max_age=max_age)
    return response


@router.post("/account/language")
def set_language(request: Request, visit: SignedIn, form: Form) -> Response:
    language = form.get("language")
    try:
        services_of(request).signin.set_language(visit.session, language)
    except errors.ValidationFailed as exc:
        raise PageError(400, "error.404") from exc
    back = form.get("next") or urlsplit(request.headers.get("referer", "")).path
    return _see_other(safe_next(back))
