"""Check-in tokens: they say what was signed, and nothing else gets past verify."""

from __future__ import annotations

import io
import string
from datetime import UTC, datetime, timedelta

import pytest
import zxingcpp
from PIL import Image

from saveit.api.problems import STATUS
from saveit.checkin import qr
from saveit.checkin.tokens import CheckInToken, Keyring
from saveit.config import Settings
from saveit.domain import errors

START = datetime(2026, 6, 3, 19, 0, tzinfo=UTC)
ALLOWED = string.ascii_uppercase + string.digits + ".-"


def issue(ring: Keyring, **overrides: object) -> str:
    fields: dict[str, object] = {
        "restaurant_id": 1,
        "code": "ABCD2345",
        "start": START,
        "early_minutes": 30,
        "late_minutes": 45,
    }
    fields.update(overrides)
    return ring.issue(**fields)  # type: ignore[arg-type]


@pytest.fixture
def ring() -> Keyring:
    return Keyring({"K1": b"k1-secret-of-32-bytes-for-tests!"})


def test_a_token_says_what_was_signed(ring: Keyring) -> None:
    token = issue(ring, restaurant_id=123456, code="ZZ99XX22", early_minutes=0, late_minutes=90)
    assert ring.verify(token) == CheckInToken(
        key_id="K1",
        restaurant_id=123456,
        code="ZZ99XX22",
        start=START,
        early_minutes=0,
        late_minutes=90,
    )
    said = ring.verify(token)
    assert said.opens_at == START
    assert said.closes_at == START + timedelta(minutes=90)


def test_a_token_is_compact_qr_alphanumeric_and_personal_data_free(ring: Keyring) -> None:
    token = issue(ring)
    assert set(token) <= set(ALLOWED)
    assert token.startswith("1.K1.1.ABCD2345.")
    assert len(token) == 53
    parts = token.split(".")
    assert len(parts) == 8
    assert len(parts[-1]) == 26  # 128-bit tag in base32
    assert qr.version(token) == 3


def test_seconds_in_the_start_are_dropped_to_the_minute(ring: Keyring) -> None:
    token = issue(ring, start=START + timedelta(seconds=59))
    assert ring.verify(token).start == START


def test_every_single_character_changed_is_refused(ring: Keyring) -> None:
    token = issue(ring)
    key_id = slice(2, 4)  # "K1"
    tried = 0
    for i, original in enumerate(token):
        for replacement in ALLOWED:
            if replacement == original:
                continue
            tampered = token[:i] + replacement + token[i + 1 :]
            expected: type[errors.DomainError] = errors.QrInvalidSignature
            if key_id.start <= i < key_id.stop and replacement.isalnum():
                expected = errors.QrUnknownKey
            with pytest.raises(expected):
                ring.verify(tampered)
            tried += 1
    assert tried == len(token) * (len(ALLOWED) - 1)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "1",
        "HELLO",
        "1.K1.1.ABCD2345.HO1JO.U.19",  # no tag
        "1.K1.1.ABCD2345.HO1JO.U.19.",
        "1.k1.1.ABCD2345.HO1JO.U.19.UYQVZM3ZZXTXYK4R5PTUZJY27M",  # lower case key id
        "1.K1.01.ABCD2345.HO1JO.U.19.UYQVZM3ZZXTXYK4R5PTUZJY27M",  # non-canonical number
        "1.K1.1.ABCD2345.HO1JO.U.19.UYQVZM3ZZXTXYK4R5PTUZJY27M.X",
        "2.K1.1.ABCD2345.HO1JO.U.19.UYQVZM3ZZXTXYK4R5PTUZJY27M",  # unknown format
        "1.K1.1.ABCD2345.HO1JO.U.19.UYQVZM3ZZXTXYK4R5PTUZJY27M" * 3,
        "https://example.com/?t=1.K1.1.ABCD2345",
    ],
)
def test_anything_not_shaped_like_a_token_is_an_invalid_signature(
    ring: Keyring, garbage: str
) -> None:
    with pytest.raises(errors.QrInvalidSignature):
        ring.verify(garbage)


def test_a_tag_with_the_last_characters_spare_bits_changed_is_refused(ring: Keyring) -> None:
    """26 base32 characters hold 130 bits; decoding would accept four spellings."""
    token = issue(ring)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    last = alphabet.index(token[-1])
    for spare in range(1, 4):
        sibling = alphabet[(last & ~3) | ((last & 3) ^ spare)]
        with pytest.raises(errors.QrInvalidSignature):
            ring.verify(token[:-1] + sibling)


def test_a_token_signed_with_another_secret_under_the_same_id_is_refused(
    ring: Keyring,
) -> None:
    forged = issue(Keyring({"K1": b"not-the-restaurants-secret-key!!"}))
    with pytest.raises(errors.QrInvalidSignature):
        ring.verify(forged)


def test_a_retired_key_no_longer_verifies() -> None:
    old = Keyring({"K1": b"k1-secret-of-32-bytes-for-tests!"})
    token = issue(old)
    retired = Keyring({"K2": b"k2-secret-of-32-bytes-for-tests!"})
    with pytest.raises(errors.QrUnknownKey) as refused:
        retired.verify(token)
    assert refused.value.data == {"key_id": "K1"}


def test_rotation_signs_with_the_new_key_and_still_verifies_the_old() -> None:
    k1, k2 = b"k1-secret-of-32-bytes-for-tests!", b"k2-secret-of-32-bytes-for-tests!"
    before = issue(Keyring({"K1": k1}))
    rotated = Keyring({"K1": k1, "K2": k2}, signing_id="K2")
    after = issue(rotated)
    assert after.split(".")[1] == "K2"
    assert rotated.verify(before).key_id == "K1"
    assert rotated.verify(after).key_id == "K2"
    assert Keyring({"K2": k2}).verify(after).code == "ABCD2345"


def test_settings_without_keys_derive_one_from_the_secret_key() -> None:
    one = Keyring.from_settings(Settings(secret_key="s1"))  # type: ignore[arg-type]
    same = Keyring.from_settings(Settings(secret_key="s1"))  # type: ignore[arg-type]
    other = Keyring.from_settings(Settings(secret_key="s2"))  # type: ignore[arg-type]
    assert one.key_ids == ("K0",)
    token = issue(one)
    assert token.split(".")[1] == "K0"
    assert same.verify(token).code == "ABCD2345"
    with pytest.raises(errors.QrInvalidSignature):
        other.verify(token)


def test_settings_keys_rotate_by_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SAVEIT_QR_KEYS",
        '{"K1": "k1-secret-of-32-bytes-for-tests!", "K2": "k2-secret-of-32-bytes-for-tests!"}',
    )
    monkeypatch.setenv("SAVEIT_QR_KEY_ID", "K2")
    ring = Keyring.from_settings(Settings())
    assert ring.key_ids == ("K1", "K2")
    assert ring.signing_id == "K2"
    old = issue(Keyring({"K1": b"k1-secret-of-32-bytes-for-tests!"}))
    assert ring.verify(old).key_id == "K1"


@pytest.mark.parametrize(
    "keys",
    [{}, {"k1": b"k1-secret-of-32-bytes-for-tests!"}, {"K.1": b"x" * 32}, {"K1": b"short"}],
)
def test_a_keyring_refuses_unusable_keys(keys: dict[str, bytes]) -> None:
    with pytest.raises(ValueError, match="key"):
        Keyring(keys)


def test_the_png_decodes_back_to_the_token(ring: Keyring) -> None:
    token = issue(ring)
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.png(token))))
    assert [(r.text, r.format) for r in found] == [(token, zxingcpp.BarcodeFormat.QRCode)]
    assert qr.svg(token).startswith(b"<svg")


def test_every_door_code_has_an_http_status() -> None:
    door = [
        errors.QrInvalidSignature,
        errors.QrUnknownKey,
        errors.QrWrongRestaurant,
        errors.QrTooEarly,
        errors.QrExpired,
        errors.QrSuperseded,
        errors.ReservationCancelled,
        errors.ReservationNoShow,
        errors.AlreadyCheckedIn,
    ]
    assert {cls.code: STATUS[cls.code] for cls in door} == {
        "QR_INVALID_SIGNATURE": 422,
        "QR_UNKNOWN_KEY": 422,
        "QR_WRONG_RESTAURANT": 422,
        "QR_TOO_EARLY": 422,
        "QR_EXPIRED": 422,
        "QR_SUPERSEDED": 422,
        "RESERVATION_CANCELLED": 409,
        "RESERVATION_NO_SHOW": 409,
        "ALREADY_CHECKED_IN": 409,
    }
