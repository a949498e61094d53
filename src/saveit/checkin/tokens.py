"""Check-in tokens: what the guest's QR code says, signed so that only we make them.

A token is one line of QR-alphanumeric text (``A-Z``, ``0-9``, ``.``), so segno
encodes it in alphanumeric mode; 53 characters fit a version-3 code (29 x 29)::

    1.K0.1.ABCD2345.HO1JO.U.19.UYQVZM3ZZXTXYK4R5PTUZJY27M
    │ │  │ │        │     │ │  └ tag: HMAC-SHA256 over everything before its dot,
    │ │  │ │        │     │ │     first 128 bits, base32 without padding (26 chars)
    │ │  │ │        │     │ └ minutes after the start it still scans (base36)
    │ │  │ │        │     └ minutes before the start it scans from (base36)
    │ │  │ │        └ the reservation's start, minutes since the epoch (base36)
    │ │  │ └ reservation code
    │ │  └ restaurant id (base36)
    │ └ key id
    └ format version

No personal data: the code, the time and the restaurant's number. The window is
the restaurant's rule when the token was issued (``Rules.checkin_*_minutes``).

Keys come from settings (``SAVEIT_QR_KEYS``, key id -> secret): every listed key
verifies, ``SAVEIT_QR_KEY_ID`` (default: the first) signs. To rotate, add a new
key and make it the signing one; old tokens keep scanning while their key is
listed, and removing a key retires every token it signed (``QR_UNKNOWN_KEY``).
With no keys configured there is one, ``K0``, derived from ``SAVEIT_SECRET_KEY``.

The tag is compared as text with :func:`hmac.compare_digest`, not decoded: 128
bits take 26 base32 characters whose last one carries two spare bits, and a
decoder would accept four spellings of one tag.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from saveit.config import Settings
from saveit.domain import errors

FORMAT = "1"
DERIVED_KEY_ID = "K0"
TAG_CHARS = 26  # 128 bits in base32, padding dropped
MAX_LENGTH = 120  # far above any real token; longer input is refused unparsed
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KEY_ID = re.compile(r"[A-Z0-9]{1,8}")
_B36 = r"(?:0|[1-9A-Z][0-9A-Z]{0,7})"  # canonical: no leading zeros
_TOKEN = re.compile(
    rf"(?P<body>{FORMAT}\.(?P<key>[A-Z0-9]{{1,8}})\.(?P<restaurant>{_B36})"
    rf"\.(?P<code>[A-Z0-9]{{4,16}})\.(?P<start>{_B36})\.(?P<early>{_B36})\.(?P<late>{_B36}))"
    rf"\.(?P<tag>[A-Z2-7]{{{TAG_CHARS}}})"
)


@dataclass(frozen=True, slots=True)
class CheckInToken:
    """What a verified token says."""

    key_id: str
    restaurant_id: int
    code: str
    start: datetime  # UTC, whole minutes
    early_minutes: int
    late_minutes: int

    @property
    def opens_at(self) -> datetime:
        return self.start - timedelta(minutes=self.early_minutes)

    @property
    def closes_at(self) -> datetime:
        return self.start + timedelta(minutes=self.late_minutes)


class Keyring:
    """The check-in keys: all of them verify, one signs."""

    def __init__(self, keys: Mapping[str, bytes], signing_id: str | None = None) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        for key_id, secret in keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise ValueError(f"check-in key id {key_id!r} must be 1-8 of A-Z and 0-9")
            if len(secret) < 16:
                raise ValueError(f"check-in key {key_id} must be at least 16 bytes")
        self._keys = dict(keys)
        self.signing_id = signing_id or next(iter(keys))
        if self.signing_id not in self._keys:
            raise ValueError(f"the signing key id {self.signing_id!r} is not in the keyring")

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        if not settings.qr_keys:
            secret = settings.secret_key.get_secret_value().encode()
            return cls({DERIVED_KEY_ID: hmac.new(secret, b"qr-key", hashlib.sha256).digest()})
        return cls(_secrets(settings.qr_keys), settings.qr_key_id)

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def _tag(self, key_id: str, body: str) -> str:
        digest = hmac.new(self._keys[key_id], body.encode("ascii"), hashlib.sha256).digest()
        return base64.b32encode(digest[:16]).decode("ascii").rstrip("=")

    def issue(
        self,
        *,
        restaurant_id: int,
        code: str,
        start: datetime,
        early_minutes: int,
        late_minutes: int,
    ) -> str:
        if restaurant_id < 0 or early_minutes < 0 or late_minutes < 0:
            raise ValueError("restaurant id and window minutes are never negative")
        if not re.fullmatch(r"[A-Z0-9]{4,16}", code):
            raise ValueError(f"reservation code {code!r} does not fit a check-in token")
        minutes = (start - _EPOCH) // timedelta(minutes=1)
        body = ".".join(
            (
                FORMAT,
                self.signing_id,
                _base36(restaurant_id),
                code,
                _base36(minutes),
                _base36(early_minutes),
                _base36(late_minutes),
            )
        )
        return f"{body}.{self._tag(self.signing_id, body)}"

    def verify(self, token: str) -> CheckInToken:
        """What ``token`` says, if we signed it with a key still held.

        Raises ``QrUnknownKey`` for a well-formed token whose key id is not held
        (before looking at the tag) and ``QrInvalidSignature`` for anything else
        that is not exactly a token we issued."""
        found = _TOKEN.fullmatch(token) if len(token) <= MAX_LENGTH else None
        if found is None:
            raise errors.QrInvalidSignature("This is not a SaveIt check-in code")
        key_id = found["key"]
        if key_id not in self._keys:
            raise errors.QrUnknownKey(
                "This check-in code was signed with a key that is no longer valid", key_id=key_id
            )
        if not hmac.compare_digest(self._tag(key_id, found["body"]), found["tag"]):
            raise errors.QrInvalidSignature("This check-in code has been altered or is not ours")
        return CheckInToken(
            key_id=key_id,
            restaurant_id=int(found["restaurant"], 36),
            code=found["code"],
            start=_EPOCH + timedelta(minutes=int(found["start"], 36)),
            early_minutes=int(found["early"], 36),
            late_minutes=int(found["late"], 36),
        )


def _secrets(keys: Mapping[str, SecretStr]) -> dict[str, bytes]:
    return {key_id: secret.get_secret_value().encode() for key_id, secret in keys.items()}


def _base36(value: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if value == 0:
        return "0"
    out = ""
    while value:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
    return out
