"""A restaurant's home in the console: who you are there and what you can open."""

from __future__ import annotations

from fastapi import APIRouter, Response

from saveit.console import nav
from saveit.console.render import render
from saveit.console.session import HostAt

router = APIRouter(prefix="/console/r/{slug}", include_in_schema=False)

HOME = nav.register(nav.NavEntry("home", "home.title", "", "host", 0))


@router.get("")
def home(at: HostAt) -> Response:
    return render("home.html", lang=at.visit.lang, csrf=at.visit.csrf, at=at, current="home")
