"""Meta's side of proving a channel account: the Graph API reads the WhatsApp
number (``display_phone_number,verified_name``) or the Instagram account
(``id,username``) with the restaurant's own access token, and answers with that
very id when the token can use it (the flow is
:mod:`saveit.messaging.account_proof`)."""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx

from saveit.messaging.account_proof import Verdict

log = logging.getLogger(__name__)

_GRAPH_FIELDS = {"whatsapp": "display_phone_number,verified_name", "instagram": "id,username"}


class GraphOwnership:
    """Asks the Graph API whether an access token can use a WhatsApp phone number id
    or an Instagram account id."""

    def __init__(self, base_url: str, version: str, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.version = version.strip("/")
        self.timeout_s = timeout_s

    def check(self, channel: str, node: str, token: str) -> Verdict:
        url = f"{self.base_url}/{self.version}/{quote(node, safe='')}"
        try:
            response = httpx.get(
                url,
                params={"fields": _GRAPH_FIELDS[channel]},
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.timeout_s,
            )
        except httpx.HTTPError as exc:
            log.warning("graph ownership check for %s unreachable: %s", channel, type(exc).__name__)
            return Verdict.UNREACHABLE
        if response.status_code >= 500 or response.status_code == 429:
            return Verdict.UNREACHABLE
        if response.status_code != 200:
            return Verdict.REFUSED
        try:
            body = response.json()
        except ValueError:
            return Verdict.REFUSED
        if isinstance(body, dict) and str(body.get("id", "")) == node:
            return Verdict.PROVEN
        return Verdict.REFUSED
