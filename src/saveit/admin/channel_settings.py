"""What a manager gives to claim each channel's address, and the code that proves
an emailed claim: one model per channel, so the API documents (and checks) each
body and the console's forms are checked by exactly the same rules.

Secrets (:data:`SECRETS`) go in and never come back out: reads show only whether
they are set.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from saveit.admin.fields import NOT_A_PHONE, NOT_AN_EMAIL, rules, text
from saveit.admin.setup import Spec

# Sent as an HTTP header to the provider: printable ASCII only (anything else
# could not be sent, and once answered 500).
Secret = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1000,
        pattern=r"^[ -~]+$",
        json_schema_extra={"pattern": r"^[ -~]*[!-~][ -~]*$"},  # blanks alone are stripped
    ),
]


class WhatsAppAccount(Spec):
    phone_number_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\d+$")]
    access_token: Secret
    template_name: Annotated[str, text(512, min_length=1)] | None = None
    template_language: Annotated[str, text(16, min_length=2)] | None = None


class InstagramAccount(Spec):
    account_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\d+$")]
    access_token: Secret


class SmsAccount(Spec):
    model_config = ConfigDict(json_schema_extra=rules(NOT_A_PHONE))

    number: Annotated[str, text(32, min_length=3, examples=["+34600111222"])]
    messaging_service_sid: Annotated[str, Field(pattern=r"^MG[0-9a-fA-F]{32}$")] | None = None


class EmailAccount(Spec):
    model_config = ConfigDict(json_schema_extra=rules(NOT_AN_EMAIL))

    address: Annotated[str, text(254, min_length=3, examples=["reservas@example.com"])]


ACCOUNT_BODIES: dict[str, type[BaseModel]] = {
    "whatsapp": WhatsAppAccount,
    "instagram": InstagramAccount,
    "sms": SmsAccount,
    "email": EmailAccount,
}
SECRETS: dict[str, tuple[str, ...]] = {
    "whatsapp": ("access_token",),
    "instagram": ("access_token",),
}


class Proof(Spec):
    code: Annotated[str, Field(pattern=r"^\d{6}$")] | None = None
