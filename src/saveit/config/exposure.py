"""The development secret must never sign for people outside this machine."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from saveit.config.security import MIN_SECRET_BYTES
from saveit.config.settings import Settings


class ExposedDevelopmentSecret(RuntimeError):
    """The development secret would sign tokens that people outside this machine see."""


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_exposed_development_secret(settings: Settings, *, bind_host: str | None = None) -> None:
    """Stop a process that would serve others while signing with the published
    development secret: anyone could then forge manage tokens and QR codes offline.

    Exposed means listening on a non-loopback ``bind_host``, or links going out
    under a non-loopback ``SAVEIT_PUBLIC_BASE_URL``.
    """
    if not settings.uses_development_secret:
        return
    where: list[str] = []
    if bind_host is not None and not is_loopback(bind_host):
        where.append(f"listening on {bind_host}")
    public_host = urlsplit(settings.public_base_url or "").hostname
    if public_host and not is_loopback(public_host):
        where.append(f"public at {settings.public_base_url}")
    if where:
        raise ExposedDevelopmentSecret(
            f"Refusing to run {' and '.join(where)} with the development SAVEIT_SECRET_KEY: "
            "set SAVEIT_SECRET_KEY to a random value of at least "
            f"{MIN_SECRET_BYTES} bytes, or listen on 127.0.0.1."
        )
