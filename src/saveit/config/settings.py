"""All of SaveIt's knobs as one ``Settings``, read once from ``SAVEIT_*``
environment variables by the composition root.

Nothing here is built at import time: call :func:`load_settings` (or build a
``Settings`` directly in tests) and hand the result down. The knobs are
declared by concern in the sibling modules; the checks that span concerns
(production secrets, a signing key that exists) are here.
"""

from __future__ import annotations

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from saveit.config.channels import ChannelSettings
from saveit.config.console import ConsoleSettings
from saveit.config.events import EventSettings
from saveit.config.guests import GuestSettings
from saveit.config.operations import OperationsSettings
from saveit.config.security import MIN_SECRET_BYTES, Environment, SecuritySettings
from saveit.config.storage import StorageSettings


class Settings(
    BaseSettings,
    OperationsSettings,
    SecuritySettings,
    ConsoleSettings,
    GuestSettings,
    ChannelSettings,
    EventSettings,
    StorageSettings,
):
    """Every knob SaveIt reads; the README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_prefix="SAVEIT_", env_file=".env", extra="ignore")

    @model_validator(mode="after")
    def _signing_key_known(self) -> Settings:
        if self.qr_key_id is not None and self.qr_key_id not in self.qr_keys:
            raise ValueError("SAVEIT_QR_KEY_ID must name one of SAVEIT_QR_KEYS")
        if self.staff_token_ttl_days > self.staff_token_max_ttl_days:
            raise ValueError("SAVEIT_STAFF_TOKEN_TTL_DAYS exceeds SAVEIT_STAFF_TOKEN_MAX_TTL_DAYS")
        return self

    @property
    def resolved_log_format(self) -> str:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.env is Environment.PRODUCTION else "text"

    @property
    def runs_channel_workers_in_api(self) -> bool:
        if self.channel_workers_in_api is None:
            return self.runs_relay_in_process
        return self.channel_workers_in_api

    @model_validator(mode="after")
    def _strong_secrets_in_production(self) -> Settings:
        if self.env is not Environment.PRODUCTION:
            return self
        if self.uses_development_secret:
            raise ValueError("SAVEIT_SECRET_KEY must be set when SAVEIT_ENV=production")
        weak = [
            name
            for name, secret in (
                ("SAVEIT_SECRET_KEY", self.secret_key),
                ("SAVEIT_ADMIN_TOKEN", self.admin_token),
                *((f"SAVEIT_QR_KEYS[{k}]", v) for k, v in self.qr_keys.items()),
            )
            if secret is not None and len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES
        ]
        if weak:
            raise ValueError(
                f"{', '.join(weak)} must be at least {MIN_SECRET_BYTES} bytes when "
                "SAVEIT_ENV=production (python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')"
            )
        return self


def load_settings() -> Settings:
    return Settings()
