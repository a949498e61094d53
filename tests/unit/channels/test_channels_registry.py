"""The registry is the one list of connectors: the senders and the webhook routes
come from it, and the routes keep the paths, methods and names they had when
they were written by hand (the OpenAPI operation ids depend on the names)."""

from __future__ import annotations

from fastapi.routing import APIRoute

from saveit.api.routers.webhooks import router
from saveit.channels import registry
from saveit.config import Settings


def test_each_channel_registers_once() -> None:
    names = [connector.name for connector in registry.CONNECTORS]
    assert names == ["webchat", "whatsapp", "instagram", "sms", "email"]


def test_unconfigured_providers_have_no_sender() -> None:
    senders = registry.build_senders(Settings(secret_key="s"))  # type: ignore[arg-type]
    assert list(senders) == ["webchat", "whatsapp", "instagram"]


def test_configured_providers_have_a_sender_each() -> None:
    settings = Settings(
        secret_key="s",  # type: ignore[arg-type]
        twilio_account_sid="AC0",
        twilio_auth_token="t",  # type: ignore[arg-type]
        smtp_relay_host="smtp.example",
    )
    senders = registry.build_senders(settings)
    assert list(senders) == ["webchat", "whatsapp", "instagram", "sms", "email"]
    assert all(sender.channel == name for name, sender in senders.items())


def test_webhook_routes_come_from_the_registry() -> None:
    routes = [
        (sorted(r.methods)[0], r.path, r.name) for r in router.routes if isinstance(r, APIRoute)
    ]
    assert routes == [
        ("GET", "/webhooks/whatsapp", "whatsapp_handshake"),
        ("POST", "/webhooks/whatsapp", "whatsapp_webhook"),
        ("GET", "/webhooks/instagram", "instagram_handshake"),
        ("POST", "/webhooks/instagram", "instagram_webhook"),
        ("POST", "/webhooks/twilio/sms", "twilio_sms_webhook"),
        ("POST", "/webhooks/twilio/status", "twilio_status_webhook"),
    ]
