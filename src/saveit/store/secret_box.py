"""Provider secrets at rest: sealed with Fernet (AES-128-CBC + HMAC-SHA256) under a
list of keys, the first of which seals and all of which open (rotation).

A database dump, a backup or a read replica therefore holds no usable access
token. Keys come from ``SAVEIT_ENCRYPTION_KEYS``; unset, one key is derived from
``SAVEIT_SECRET_KEY`` (HKDF-SHA256) so the embedded default needs no setup. The
list may name that derived key as ``"derived"`` to move off it by rotation.

A sealed value whose key is no longer listed is never skipped or served empty:
:class:`SecretsUnreadable` is raised, naming nothing secret.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from saveit.config.security import DERIVED

_INFO = b"saveit: provider secrets at rest"


class SecretsUnreadable(RuntimeError):
    """A sealed secret opens under none of the configured keys (a key was removed
    before ``saveit secrets rotate`` moved everything off it, or the data is damaged)."""


def derived_key(secret_key: str) -> bytes:
    """The Fernet key the embedded default uses, derived from ``SAVEIT_SECRET_KEY``."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw)


class SecretBox:
    """Seals a mapping of secrets into one opaque text, and opens it again."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a SecretBox needs at least one key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_keys(cls, keys: Sequence[str], *, secret_key: str) -> SecretBox:
        """``keys`` as configured (newest first); empty means the derived key alone."""
        chosen = list(keys) or [DERIVED]
        return cls([derived_key(secret_key) if k == DERIVED else k.encode() for k in chosen])

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()

    def seal(self, secrets: Mapping[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(dict(secrets), sort_keys=True).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        try:
            plain = self._fernet.decrypt(sealed.encode())
        except InvalidToken as exc:
            raise SecretsUnreadable(
                "A stored secret opens under none of SAVEIT_ENCRYPTION_KEYS: a key it was "
                "sealed with was removed before `saveit secrets rotate` re-sealed it"
            ) from exc
        opened: dict[str, Any] = json.loads(plain)
        return opened

    def reseal(self, sealed: str) -> str:
        """The same secrets sealed under the newest key."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken as exc:
            raise SecretsUnreadable(
                "A stored secret opens under none of SAVEIT_ENCRYPTION_KEYS; it cannot be "
                "re-sealed (put the old key back in the list, rotate, then remove it)"
            ) from exc
