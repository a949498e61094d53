"""WhatsApp Cloud API webhook bodies as Meta sends them, signed with the app secret
(``X-Hub-Signature-256``), for tests that play a guest writing on WhatsApp."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json

_ids = itertools.count(1)


def whatsapp_text(*, phone_number_id: str, sender: str, name: str, text: str) -> bytes:
    message = {
        "from": sender,
        "id": f"wamid.TEST{next(_ids):06d}{hashlib.sha256(text.encode()).hexdigest()[:12]}",
        "timestamp": "1780304400",
        "type": "text",
        "text": {"body": text},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "34910000001", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": name}, "wa_id": sender}],
        "messages": [message],
    }
    doc = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "2000001", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(doc).encode()


def signed(body: bytes, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def graph_answer(body: bytes) -> dict[str, object]:
    """What the Graph API answers a send with (a message id)."""
    doc = json.loads(body)
    n = next(_ids)
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": doc.get("to"), "wa_id": doc.get("to")}],
        "messages": [{"id": f"wamid.OUT{n:031d}"}],
    }
