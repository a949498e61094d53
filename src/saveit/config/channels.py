"""Guest messaging: the providers' credentials, outbound email, `saveit smtp`,
and the workers that answer and deliver behind the webhook acknowledgement."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


class ChannelSettings(BaseModel):
    """The channel knobs of :class:`saveit.config.Settings` (see there)."""

    public_base_url: str | None = Field(
        default=None,
        description="The URL guests and providers reach SaveIt at (https://book.example.com). "
        "Twilio signs the public URL, which a TLS-terminating proxy hides from the app; "
        "links in messages use it too. Unset: the URL of the request as the app sees it.",
    )
    meta_app_secret: SecretStr | None = Field(
        default=None,
        description="Meta app secret: verifies X-Hub-Signature-256 on WhatsApp and Instagram "
        "webhooks (unset: those webhooks answer 403).",
    )
    meta_verify_token: SecretStr | None = Field(
        default=None, description="Token Meta echoes in the webhook subscription handshake."
    )
    graph_api_base: str = Field(
        default="https://graph.facebook.com", description="Meta Graph API base URL."
    )
    graph_api_version: str = Field(default="v21.0", description="Meta Graph API version.")
    twilio_account_sid: str | None = Field(default=None, description="Twilio account SID.")
    twilio_auth_token: SecretStr | None = Field(
        default=None,
        description="Twilio auth token: verifies X-Twilio-Signature and authenticates sends.",
    )
    twilio_api_base: str = Field(
        default="https://api.twilio.com", description="Twilio REST API base URL."
    )
    smtp_relay_host: str | None = Field(
        default=None, description="SMTP relay for outbound email (unset: email is not sent)."
    )
    smtp_relay_port: int = Field(default=587, ge=1, le=65535)
    smtp_relay_username: str | None = Field(default=None)
    smtp_relay_password: SecretStr | None = Field(default=None)
    smtp_relay_starttls: bool = Field(
        default=True, description="Upgrade the relay connection with STARTTLS."
    )
    smtp_inbound_host: str = Field(
        default="127.0.0.1", description="Interface `saveit smtp` listens on."
    )
    smtp_inbound_port: int = Field(
        default=2525, ge=1, le=65535, description="Port `saveit smtp` listens on."
    )
    smtp_inbound_tls_cert: Path | None = Field(
        default=None,
        description="PEM certificate (chain) for STARTTLS on `saveit smtp` (unset: no STARTTLS).",
    )
    smtp_inbound_tls_key: Path | None = Field(
        default=None,
        description="PEM private key of SAVEIT_SMTP_INBOUND_TLS_CERT (unset: in the cert file).",
    )
    smtp_inbound_max_recipients: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Recipients accepted per message on `saveit smtp`; more get 452.",
    )
    smtp_inbound_max_connections_per_ip: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Open connections to `saveit smtp` per client address; more get 421.",
    )
    channel_http_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of one call to a provider's API."
    )
    channel_send_attempts: int = Field(
        default=6,
        ge=1,
        le=50,
        description="Tries of one outbound message (5xx, timeouts) before it is marked failed.",
    )
    channel_send_backoff_s: float = Field(
        default=2.0,
        gt=0,
        le=3600,
        description="First retry delay of an outbound message; doubles on each try.",
    )
    channel_guest_per_minute: int = Field(
        default=20,
        ge=1,
        description="Messages one guest identity may send per minute before the bot stops "
        "answering them (they are still stored).",
    )
    chat_bot: bool = Field(
        default=True,
        description="Let the bot answer guests (book, change, cancel, hours). Off, guests "
        "get one acknowledgement and staff answer every conversation from the dashboard.",
    )
    chat_pending_minutes: int = Field(
        default=30,
        ge=1,
        le=1440,
        description="How long the bot keeps a guest's unconfirmed booking, change or "
        'cancellation before dropping it (a late "yes" then starts over).',
    )
    email_proof_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 90,
        description="How long an email sender's proof of its address (a reply to our reply "
        "address, a DKIM signature, a typed code) lets it see and change that address's "
        "bookings; each proven message renews it.",
    )
    channel_workers_in_api: bool | None = Field(
        default=None,
        description="Answer and deliver guest messages inside the API processes too; unset "
        "means only where no `saveit worker` runs (the relay runs in process). Production "
        "leaves the API processes to acknowledging webhooks and serving screens, and the "
        "worker, woken by PostgreSQL NOTIFY, answers.",
    )
    channel_workers_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much `saveit worker` lowers the CPU priority (Unix nice, per thread, "
        "Linux) of its threads that answer and deliver guest messages: that work waits behind "
        "an acknowledgement, while providers and people wait on the API. 0 keeps it equal.",
    )
    channel_worker_poll_s: float = Field(
        default=0.2,
        gt=0,
        le=60,
        description="How often channel workers look for inbound messages and due sends "
        "that another process received (a process's own are handled at once).",
    )
    channel_answerers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Guests a channel worker answers at once on PostgreSQL (one guest's "
        "messages always in order; SQLite answers one at a time). A turn waits mostly on the "
        "database, so where the worker has cores of its own (`saveit worker --only channels` "
        "on its own host or task) 4 answers more guests a second; on a host it shares with "
        "the API it takes the CPU the webhook acknowledgements need (bench/README.md).",
    )
    delivery_concurrency: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Guests a channel worker sends to at once (one guest's messages always "
        "go out in order); each send waits on the provider's network round trip.",
    )
    delivery_lease_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long a channel worker holds a message it answers or sends before "
        "another process may take it over.",
    )
