"""The pure parts of email proof: reply subaddresses and their tokens."""

from __future__ import annotations

from saveit.channels.email.proof import ReplyAddresses, header_tokens, split_subaddress


def test_a_reply_address_names_the_restaurants_address_and_a_token_for_that_guest() -> None:
    replies = ReplyAddresses(b"secret")
    address = replies.address("reservas@demo.example", 7, "Ana@Example.com")
    base, token = split_subaddress(address)
    assert base == "reservas@demo.example"
    assert token is not None
    assert replies.proves(7, "ana@example.com", [token])
    assert not replies.proves(8, "ana@example.com", [token])  # another restaurant
    assert not replies.proves(7, "eve@example.com", [token])  # another sender
    assert not ReplyAddresses(b"other").proves(7, "ana@example.com", [token])


def test_only_well_formed_reply_tags_are_split_off() -> None:
    assert split_subaddress("reservas+news@demo.example") == ("reservas+news@demo.example", None)
    assert split_subaddress("reservas+r-short@demo.example")[1] is None
    assert split_subaddress("<Reservas+R-ABCDEFGHIJKLMNOP@Demo.Example>") == (
        "reservas@demo.example",
        "abcdefghijklmnop",
    )


def test_tokens_are_read_from_to_and_cc_for_that_restaurant_only() -> None:
    raw = (
        b"From: ana@example.com\r\n"
        b"To: Demo <reservas+r-abcdefghijklmnop@demo.example>\r\n"
        b"Cc: other+r-bbbbbbbbbbbbbbbb@elsewhere.example\r\n\r\nhola\r\n"
    )
    assert header_tokens(raw, "reservas@demo.example") == ["abcdefghijklmnop"]
