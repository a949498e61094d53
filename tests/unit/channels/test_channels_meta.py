"""Meta webhook authentication: X-Hub-Signature-256 and the subscription handshake.

Expected signatures are computed here with hmac/hashlib over the fixture bytes,
independently of the module under test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saveit.channels.meta.webhook import handshake, verify_signature
from saveit.domain.channel_ports import SignatureInvalid

FIXTURES = Path(__file__).parents[2] / "fixtures" / "channels"
SECRET = b"app-secret-for-tests-only"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sign(body: bytes, secret: bytes = SECRET) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


BODY = fixture("whatsapp/button_reply.json")


@pytest.mark.parametrize(
    "name",
    [
        "whatsapp/text_escaped.json",
        "whatsapp/statuses.json",
        "whatsapp/batched.json",
        "instagram/text.json",
        "instagram/batched.json",
    ],
)
def test_a_body_signed_with_the_app_secret_is_accepted(name: str) -> None:
    body = fixture(name)
    verify_signature(body, sign(body), SECRET)


def test_one_changed_byte_is_refused() -> None:
    tampered = bytearray(BODY)
    tampered[BODY.index(b"Confirmar")] ^= 0x20  # "confirmar"
    with pytest.raises(SignatureInvalid):
        verify_signature(bytes(tampered), sign(BODY), SECRET)


def test_a_signature_made_with_another_secret_is_refused() -> None:
    with pytest.raises(SignatureInvalid):
        verify_signature(BODY, sign(BODY, b"someone-else"), SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=abc",
        "sha1=" + hashlib.sha1(BODY).hexdigest(),
        "sha256=" + "zz" * 32,
        "sha256 " + "00" * 32,
        "sha256=" + "é" * 64,
        sign(BODY) + "00",
        sign(BODY)[7:],  # the digest without its "sha256=" prefix
    ],
)
def test_a_missing_or_garbled_header_is_refused(header: str | None) -> None:
    with pytest.raises(SignatureInvalid):
        verify_signature(BODY, header, SECRET)


def test_hex_case_and_surrounding_spaces_do_not_matter() -> None:
    header = sign(BODY)
    verify_signature(BODY, " sha256=" + header[7:].upper() + " ", SECRET)


def test_no_configured_secret_refuses_everything() -> None:
    with pytest.raises(SignatureInvalid):
        verify_signature(BODY, sign(BODY, b""), b"")


def test_the_two_fixture_forms_hold_the_same_json() -> None:
    escaped = fixture("whatsapp/text_escaped.json")
    utf8 = fixture("whatsapp/text_utf8.json")
    assert escaped.isascii()
    assert b"\\u00f1" in escaped
    assert b"\\ud83d\\ude00" in escaped
    assert "😀".encode() in utf8
    assert json.loads(escaped) == json.loads(utf8)


def test_a_utf8_body_is_accepted_with_the_signature_meta_made_over_its_escaped_form() -> None:
    # Meta signs the body with non-ASCII written as \uXXXX (emoji as surrogate pairs);
    # the same body can reach us with those characters as UTF-8.
    signed_by_meta = sign(fixture("whatsapp/text_escaped.json"))
    verify_signature(fixture("whatsapp/text_utf8.json"), signed_by_meta, SECRET)


def test_the_escaped_fallback_still_refuses_a_changed_body() -> None:
    signed_by_meta = sign(fixture("whatsapp/text_escaped.json"))
    tampered = fixture("whatsapp/text_utf8.json").replace(b"21:00", b"22:00")
    with pytest.raises(SignatureInvalid):
        verify_signature(tampered, signed_by_meta, SECRET)


def test_a_signature_over_another_serialisation_is_refused() -> None:
    # Signed over the UTF-8 text while the escaped bytes arrive: nothing is unescaped
    # or re-serialised to make them agree.
    header = sign(fixture("whatsapp/text_utf8.json"))
    with pytest.raises(SignatureInvalid):
        verify_signature(fixture("whatsapp/text_escaped.json"), header, SECRET)
    compact = json.dumps(json.loads(BODY), separators=(", ", ": ")).encode()
    with pytest.raises(SignatureInvalid):
        verify_signature(compact, sign(BODY), SECRET)


@given(body=st.binary(max_size=300), header=st.one_of(st.none(), st.text(max_size=80)))
def test_any_body_and_header_is_refused_cleanly(body: bytes, header: str | None) -> None:
    with pytest.raises(SignatureInvalid):
        verify_signature(body, header, SECRET)


@given(text=st.text(st.characters(codec="utf-8", exclude_characters="\x7f"), max_size=80))
def test_any_text_signed_in_its_escaped_form_is_accepted_as_utf8(text: str) -> None:
    # json.dumps(ensure_ascii=True) writes non-ASCII as Meta does (it also escapes
    # DEL, which is ASCII and left alone by both sides, hence excluded).
    body = json.dumps({"text": text}, ensure_ascii=False).encode("utf-8")
    escaped = json.dumps({"text": text}, ensure_ascii=True).encode("ascii")
    verify_signature(body, sign(escaped), SECRET)


# --- handshake ----------------------------------------------------------------------


def params(
    mode: str = "subscribe", token: str = "verify-me", challenge: str = "1158201444"
) -> dict[str, str]:
    return {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}


def test_handshake_echoes_the_challenge_when_the_token_matches() -> None:
    assert handshake(params(), "verify-me") == "1158201444"


@pytest.mark.parametrize(
    ("query", "configured"),
    [
        (params(token="guess"), "verify-me"),
        (params(token=""), "verify-me"),
        (params(token="verify-me "), "verify-me"),
        (params(mode="unsubscribe"), "verify-me"),
        (params(), None),
        (params(token=""), ""),
        ({"hub.mode": "subscribe", "hub.challenge": "1"}, "verify-me"),
        ({"hub.mode": "subscribe", "hub.verify_token": "verify-me"}, "verify-me"),
        ({}, "verify-me"),
        (params(token="vérify-me"), "verify-me"),
    ],
)
def test_handshake_is_refused_otherwise(query: dict[str, str], configured: str | None) -> None:
    with pytest.raises(SignatureInvalid):
        handshake(query, configured)
