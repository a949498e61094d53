"""The web chat: our own widget over a WebSocket (:mod:`.protocol` is the wire
protocol, :mod:`.session` one guest's connection; the route is
:mod:`saveit.api.routers.webchat`). No webhook and no provider."""

from __future__ import annotations

from saveit.channels.connector import Connector
from saveit.channels.webchat.sender import WebchatSender

CONNECTOR = Connector("webchat", sender=lambda settings: WebchatSender())
