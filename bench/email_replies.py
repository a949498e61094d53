"""How often the email parser hands the bot exactly what the guest just wrote.

Run: ``.venv/bin/python bench/email_replies.py [--candidates] [--failures] [--kind KIND]``.

Reads the collection in ``tests/fixtures/email_replies/`` (one raw message per
``.eml`` file, the guest's new text in ``cases.jsonl``) and prints, for our
parser (``parse_email``), the share of messages whose text is exactly the
expected one, the share where no line of the guest's own text went missing,
both per kind of reply, and the time per message.

``--candidates`` measures the quote strippers of other libraries the same way,
where they are installed (they are not dependencies of SaveIt): each gets the
body text ``parse_email`` reads (the text/plain part, else the HTML part as
text) in place of our stripping; talon also gets the HTML part itself when the
message has one. Comparison is after the same normalisation: trailing spaces
dropped, blank-line runs collapsed, outer blank lines trimmed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from saveit.channels.email.parse import parse_email

COLLECTION = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "email_replies"
RESTAURANT = "reservas@casalola.example"


@dataclass(frozen=True)
class Case:
    file: str
    client: str
    lang: str
    kinds: tuple[str, ...]
    expected: str
    raw: bytes


def load_cases(folder: Path = COLLECTION) -> list[Case]:
    cases = []
    with (folder / "cases.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            cases.append(
                Case(
                    row["file"],
                    row["client"],
                    row["lang"],
                    tuple(row["kinds"]),
                    row["expected"],
                    (folder / row["file"]).read_bytes(),
                )
            )
    return cases


def normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\xa0", " ")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def exact(expected: str, got: str) -> bool:
    return normalise(expected) == normalise(got)


def nothing_lost(expected: str, got: str) -> bool:
    """Every line of the guest's new text is in the output, in order."""
    lines = iter(line.strip() for line in normalise(got).split("\n"))
    return all(
        any(line == want for line in lines)
        for want in (w.strip() for w in normalise(expected).split("\n"))
        if want
    )


def ours(case: Case) -> str:
    return parse_email(case.raw, RESTAURANT).text


# --- other libraries, where installed ----------------------------------------------------


def _body(raw: bytes) -> tuple[str, str | None]:
    """The text parse_email reads (plain, else HTML as text), and the HTML part if any."""
    from saveit.channels.email.parse import _body_text

    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    html_part = msg.get_body(preferencelist=("html",))
    html = html_part.get_content() if html_part is not None else None
    return _body_text(msg), html


def _candidates() -> dict[str, Callable[[Case], str]]:
    found: dict[str, Callable[[Case], str]] = {}
    try:
        from email_reply_parser import EmailReplyParser  # type: ignore[import-not-found]

        found["email-reply-parser"] = lambda c: EmailReplyParser.parse_reply(_body(c.raw)[0])
    except ImportError:
        pass
    try:
        from mailparser_reply import EmailReplyParser as MailParserReply  # type: ignore[import-not-found]

        languages = ["en", "de", "fr", "it", "ja", "nl", "pl", "sv", "cs", "da", "es", "ko", "zh"]
        parser = MailParserReply(languages=languages)
        found["mail-parser-reply"] = lambda c: parser.parse_reply(text=_body(c.raw)[0]) or ""
    except ImportError:
        pass
    try:
        from talon import quotations  # type: ignore[import-not-found]

        from saveit.channels.email.parse import html_to_text

        found["talon (plain)"] = lambda c: quotations.extract_from_plain(_body(c.raw)[0])

        def talon_html(c: Case) -> str:
            text, html = _body(c.raw)
            if html is None:
                return str(quotations.extract_from_plain(text))
            return html_to_text(quotations.extract_from_html(html))

        found["talon (html first)"] = talon_html
    except ImportError:
        pass
    return found


# --- report ------------------------------------------------------------------------------


def measure(name: str, extract: Callable[[Case], str], cases: list[Case], show: bool) -> None:
    hits = kept = 0
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    start = time.perf_counter()
    outputs = []
    for case in cases:
        try:
            outputs.append(extract(case))
        except Exception as exc:  # a library that fails counts as a miss
            outputs.append(f"<{type(exc).__name__}>")
    elapsed = time.perf_counter() - start
    for case, got in zip(cases, outputs, strict=True):
        ok = exact(case.expected, got)
        hits += ok
        kept += nothing_lost(case.expected, got)
        for kind in case.kinds:
            by_kind[kind][0] += ok
            by_kind[kind][1] += 1
        if show and not ok:
            print(f"--- {case.file} [{', '.join(case.kinds)}]")
            print(f"  want: {case.expected!r}\n  got:  {got!r}")
    n = len(cases)
    print(
        f"{name:20} exact {hits}/{n} = {100 * hits / n:5.1f}%   nothing lost {kept}/{n} = "
        f"{100 * kept / n:5.1f}%   {1000 * elapsed / n:6.2f} ms/message"
    )
    print("    " + "  ".join(f"{k} {a}/{b}" for k, (a, b) in sorted(by_kind.items())))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--candidates", action="store_true", help="also measure installed libraries")
    ap.add_argument("--failures", action="store_true", help="print each miss")
    ap.add_argument("--kind", help="only cases of this kind")
    args = ap.parse_args(argv)
    cases = [c for c in load_cases() if not args.kind or args.kind in c.kinds]
    print(f"{len(cases)} messages from {COLLECTION}")
    measure("saveit", ours, cases, args.failures)
    if args.candidates:
        for name, extract in _candidates().items():
            measure(name, extract, cases, args.failures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
