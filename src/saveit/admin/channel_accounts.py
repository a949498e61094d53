"""A restaurant's accounts on the messaging channels, managed by its managers.

Secrets (access tokens) go in and never come back out: reads show only which
settings are set (they are sealed at rest). A claimed address routes nothing
until it is proven (:mod:`saveit.messaging.account_proof`); every change makes
the gateway's directory of routes read again.
"""

from __future__ import annotations

from typing import Any

from saveit.domain import errors
from saveit.domain.messages import ChannelName
from saveit.messaging.account_proof import AccountProofs
from saveit.messaging.gateway import Gateway
from saveit.store.channel_accounts import Claim
from saveit.store.guests import normalise_email, normalise_phone
from saveit.store.unit_of_work import Database

__all__ = ["ChannelAccounts", "Claim"]

# The field of each channel's settings that is its address.
ADDRESS_FIELD = {
    "whatsapp": "phone_number_id",
    "instagram": "account_id",
    "sms": "number",
    "email": "address",
}


class ChannelAccounts:
    def __init__(
        self,
        db: Database,
        *,
        proofs: AccountProofs | None,
        gateway: Gateway | None,
        phone_region: str,
    ) -> None:
        self.db = db
        self._proofs = proofs
        self._gateway = gateway
        self.phone_region = phone_region

    def _enabled(self) -> tuple[AccountProofs, Gateway]:
        if self._proofs is None or self._gateway is None:
            raise errors.NotFound("Channels are not enabled")
        return self._proofs, self._gateway

    def _restaurant_id(self, slug: str) -> int:
        with self.db.reading() as r:
            return r.restaurants.id_of(slug)

    def listed(self, slug: str) -> list[Claim]:
        with self.db.reading() as r:
            restaurant_id = r.restaurants.id_of(slug)
            return r.accounts.of_restaurant(restaurant_id, self._enabled()[0].box)

    def claim(
        self, slug: str, channel: ChannelName, fields: dict[str, Any], *, admin: bool
    ) -> Claim:
        """Claim the address in ``fields`` (a channel's body, without unset fields);
        the admin's claim is proven at once."""
        settings = dict(fields)
        raw = settings.pop(ADDRESS_FIELD[channel])
        if channel == "sms":
            address = normalise_phone(raw, self.phone_region)
        elif channel == "email":
            address = normalise_email(raw).lower()
        else:
            address = raw
        restaurant_id = self._restaurant_id(slug)
        proofs, gateway = self._enabled()
        claim = proofs.claim(restaurant_id, channel, address, settings, admin=admin)
        gateway.directory.forget()
        return claim

    def verify(self, slug: str, channel: ChannelName, code: str | None, *, admin: bool) -> Claim:
        restaurant_id = self._restaurant_id(slug)
        proofs, gateway = self._enabled()
        claim = proofs.verify(restaurant_id, channel, code, admin=admin)
        gateway.directory.forget()
        return claim

    def remove(self, slug: str, channel: ChannelName) -> None:
        with self.db.unit_of_work() as uow:
            removed = uow.accounts.remove(uow.restaurants.id_of(slug), channel)
        if not removed:
            raise errors.NotFound(f"No {channel} account for '{slug}'")
        self._enabled()[1].directory.forget()
