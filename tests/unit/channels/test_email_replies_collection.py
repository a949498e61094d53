"""The bot reads exactly what the guest just wrote, from any mail client.

``tests/fixtures/email_replies/`` holds raw messages as clients send them
(Gmail, Apple Mail on iPhone and Mac, Outlook desktop, web and mobile, Yahoo,
Thunderbird, Windows Mail, Hotmail, GMX, Zimbra, Samsung, Proton, mail.ru,
QQ, mailing lists …; multipart/alternative, HTML-only and plain, quoted-printable,
base64 and 8bit, in a dozen charsets) with the guest's new text in
``cases.jsonl``. ``bench/email_replies.py`` prints the same figures per kind.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from saveit.channels.email.parse import parse_email

COLLECTION = Path(__file__).resolve().parents[2] / "fixtures" / "email_replies"
ROWS = [json.loads(line) for line in (COLLECTION / "cases.jsonl").read_text("utf-8").splitlines()]
KINDS = {
    "header_block", "attribution", "attribution_split", "attribution_midline",
    "attribution_dashes", "separator", "trailer", "signature", "list_footer", "forward",
    "html_quote", "guard",
}  # fmt: skip


def normalise(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.replace("\xa0", " ").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def nothing_lost(expected: str, got: str) -> bool:
    """Every line of the guest's new text is in the output, in order."""
    lines = iter(line.strip() for line in normalise(got).split("\n"))
    wanted = (w.strip() for w in normalise(expected).split("\n"))
    return all(any(line == want for line in lines) for want in wanted if want)


def extracted(row: dict[str, str]) -> str:
    raw = (COLLECTION / row["file"]).read_bytes()
    return parse_email(raw, "reservas@casalola.example").text


def test_the_collection_covers_every_kind_of_reply_and_message_shape() -> None:
    assert len(ROWS) >= 100
    kinds = Counter(kind for row in ROWS for kind in row["kinds"])
    assert set(kinds) >= KINDS, KINDS - set(kinds)
    shapes: Counter[str] = Counter()
    charsets: set[str] = set()
    for row in ROWS:
        msg = BytesParser(policy=policy.default).parsebytes((COLLECTION / row["file"]).read_bytes())
        shapes[msg.get_content_type()] += 1
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                charsets.add(str(part.get_content_charset()))
                shapes[str(part["Content-Transfer-Encoding"]).lower()] += 1
    assert shapes["multipart/alternative"] >= 30
    assert shapes["text/html"] >= 20  # HTML only
    assert shapes["text/plain"] >= 30
    assert shapes["multipart/mixed"] >= 1
    assert {"quoted-printable", "base64", "8bit"} <= set(shapes)
    assert len(charsets) >= 10


def test_the_guests_new_text_is_extracted_exactly_in_95_percent() -> None:
    misses = [
        (row["file"], row["expected"], got)
        for row in ROWS
        if normalise(got := extracted(row)) != normalise(row["expected"])
    ]
    share = 1 - len(misses) / len(ROWS)
    print(f"\nexact: {len(ROWS) - len(misses)}/{len(ROWS)} = {share:.1%}")
    assert share >= 0.95, misses


def test_the_guests_own_words_are_never_lost() -> None:
    lost = [
        (row["file"], got)
        for row in ROWS
        if not nothing_lost(row["expected"], got := extracted(row))
    ]
    assert lost == []


@pytest.mark.parametrize(
    "row", [r for r in ROWS if "forward" in r["kinds"]], ids=lambda r: r["file"]
)
def test_a_forwarded_booking_request_keeps_its_text_without_the_header_block(
    row: dict[str, str],
) -> None:
    text = extracted(row)
    assert normalise(text) == normalise(row["expected"])
    assert not re.search(r"(?m)^\s*(?:Date|Fecha|Datum|Sent|Enviado)\s*:", text)
