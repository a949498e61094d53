"""The check-in token drawn as a QR code (segno): PNG for messages, SVG for pages.

Error correction M (15% of the code may be smudged or covered) and the standard
quiet zone of four modules; a token is QR-alphanumeric text, so segno encodes it
in alphanumeric mode and a token fits version 3 (29 x 29 modules).
"""

from __future__ import annotations

import io

import segno

ERROR = "m"
BORDER = 4


def _code(token: str) -> segno.QRCode:
    return segno.make_qr(token, error=ERROR, boost_error=False)


def png(token: str, *, scale: int = 8) -> bytes:
    """A PNG of ``scale`` pixels per module (8: 296 px square for a version-3 code)."""
    out = io.BytesIO()
    _code(token).save(out, kind="png", scale=scale, border=BORDER)
    return out.getvalue()


def svg(token: str, *, scale: int = 8) -> bytes:
    out = io.BytesIO()
    _code(token).save(out, kind="svg", scale=scale, border=BORDER, xmldecl=False)
    return out.getvalue()


def version(token: str) -> int:
    """The QR version the token needs (its size: 17 + 4 x version modules a side)."""
    return int(_code(token).version)
