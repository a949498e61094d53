"""Pages from Jinja2 templates, with every asset served by SaveIt itself.

Templates are autoescaped; each gets ``t`` (the request's language bound to the
catalogue), ``lang``, ``csrf`` (the request's token, for forms), ``static_url``
(a versioned URL, so browsers may cache assets and still see a new release),
``moment`` (a date and time in the request's language) and, on a restaurant's
pages, ``at`` and ``nav``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache, partial
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from saveit.console import i18n, nav

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_PREFIX = "/console/static"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_url"] = static_url
    return env


@cache
def static_url(name: str) -> str:
    data = (STATIC / name).read_bytes()
    return f"{STATIC_PREFIX}/{name}?v={hashlib.sha256(data).hexdigest()[:12]}"


def render(
    template: str,
    *,
    lang: str,
    csrf: str,
    status: int = 200,
    at: Any = None,
    current: str | None = None,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """``at`` is the restaurant in view (:class:`saveit.console.session.AtRestaurant`)."""
    values: dict[str, Any] = {
        "t": partial(i18n.translate, lang),
        "lang": lang,
        "languages": i18n.LANGUAGES,
        "csrf": csrf,
        "moment": partial(_moment, lang),
        "at": at,
        "nav": nav.visible(at.role) if at is not None else [],
        "current": current,
        "visit": at.visit if at is not None else context.pop("visit", None),
    }
    values.update(context)
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))


def _moment(lang: str, value: Any) -> str:
    return i18n.moment(value, lang)
