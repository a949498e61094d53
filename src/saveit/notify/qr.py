"""The check-in QR as each channel can carry it, for the notifier and the bot.

Email and the web chat take the PNG inline (no public URL needed); WhatsApp
and Instagram fetch an image by link, so they need ``SAVEIT_PUBLIC_BASE_URL``;
SMS gets the link in the text. The link is the QR endpoint with a QR link token
(``saveit.booking.codes``): it shows that QR until shortly after the booking
and nothing else, because the URL is kept by Meta, Twilio and the guest's phone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from saveit.domain.messages import Image, OutboundMessage
from saveit.domain.model import Status
from saveit.domain.views import ReservationView

_INLINE = frozenset({"email", "webchat"})
_BY_LINK = frozenset({"whatsapp", "instagram"})


@dataclass(frozen=True, slots=True)
class QrCodes:
    token_for: Callable[[ReservationView], str]
    png: Callable[[str], bytes]
    link_token: Callable[[ReservationView], str]
    public_base_url: str | None = None

    def url(self, view: ReservationView) -> str | None:
        if not self.public_base_url:
            return None
        base = self.public_base_url.rstrip("/")
        token = self.link_token(view)
        return f"{base}/v1/reservations/{view.code}/qr?format=png&token={token}"

    def attach(
        self, message: OutboundMessage, channel: str, view: ReservationView, caption: str
    ) -> OutboundMessage:
        """``message`` with ``view``'s QR added the way ``channel`` shows one; a
        booking that is not confirmed has no QR to show yet."""
        if view.status is not Status.CONFIRMED:
            return message
        if channel in _INLINE:
            image = Image(data=self.png(self.token_for(view)), caption=caption)
            return replace(message, image=image)
        url = self.url(view)
        if url is None:
            return message
        if channel in _BY_LINK:
            return replace(message, image=Image(url=url, caption=caption))
        if channel == "sms":
            return replace(message, text=f"{message.text}\nQR: {url}")
        return message
