"""HTML mail bodies as the plain lines a mail client shows.

Guests who write from webmail or a phone often send HTML only. The bot reads
text, and the quote stripping in :mod:`saveit.channels.email.quotes` works on
lines, so an HTML body is laid out here the way a reader sees it: blocks on
their own lines, ``<br>`` as a line break, and quoted blocks (``<blockquote>``)
as ``>`` lines, so an HTML quote is recognised like a plain-text one.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _HtmlText(HTMLParser):
    """HTML -> plain lines, the way a mail client shows them.

    Block elements break lines (paragraphs leave a blank line, nested ``div``
    soup does not pile up empty ones), ``<br>`` is a line break, script and
    style content is dropped, and blockquotes come out as ``>`` lines so that
    :func:`strip_quotes` treats an HTML quote like a plain-text one.
    """

    _SKIP = frozenset({"script", "style", "head", "title", "template", "svg"})
    _PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"})
    _BLOCK = frozenset(
        {
            "div", "li", "tr", "hr", "section", "article", "header", "footer", "dl", "dt",
            "dd", "address", "center", "form", "fieldset", "body", "html", "main", "nav",
        }
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._lines: list[list[str]] = [[]]  # words of each line
        self._depths: list[int] = [0]  # blockquote depth of each line
        self._depth = 0
        self._pending = 0  # line breaks owed before the next text (1: line, 2: paragraph)
        self._skipping: list[str] = []
        self._pre = 0
        self._paragraphs: list[bool] = []  # open <p>s: True for a line-like one

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._skipping.clear()  # an unclosed <head> ends where the body starts
        if tag in self._SKIP:
            self._skipping.append(tag)
        elif tag == "br":
            self._newline()
        elif tag == "blockquote":
            self._break(1)
            self._depth += 1
        elif tag == "li":
            self._break(1)
            self._text("- ")
        elif tag == "p":
            # Outlook (Word) writes every line as a margin-less MsoNormal paragraph:
            # on screen those are lines, not paragraphs.
            line = "msonormal" in (dict(attrs).get("class") or "").lower()
            self._paragraphs.append(line)
            self._break(1 if line else 2)
        else:
            self._block(tag)
        if tag == "pre":
            self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._newline()
        else:
            self._block(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            if tag in self._skipping:
                while self._skipping and self._skipping.pop() != tag:
                    pass
        elif tag == "blockquote":
            self._break(1)
            self._depth = max(0, self._depth - 1)
        elif tag == "p":
            line = self._paragraphs.pop() if self._paragraphs else False
            self._break(1 if line else 2)
        else:
            self._block(tag)
        if tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if self._pre:
            first, *rest = data.replace("\r\n", "\n").split("\n")
            self._text(first)
            for line in rest:
                self._newline()
                self._text(line)
            return
        self._text(re.sub(r"[ \t\r\n\f]+", " ", data))

    def _block(self, tag: str) -> None:
        if tag in self._PARAGRAPH:
            self._break(2)
        elif tag in self._BLOCK:
            self._break(1)

    def _break(self, level: int) -> None:
        self._pending = max(self._pending, level)

    def _newline(self) -> None:
        self._flush()
        self._lines.append([])
        self._depths.append(self._depth)

    def _flush(self) -> None:
        pending, self._pending = self._pending, 0
        if _blank("".join(self._lines[-1])):
            pending -= 1  # already at the start of a line
            self._lines[-1] = []
            self._depths[-1] = self._depth
        for _ in range(pending):
            self._lines.append([])
            self._depths.append(self._depth)

    def _text(self, text: str) -> None:
        at_line_start = _blank("".join(self._lines[-1]))
        if _blank(text) and (self._pending or at_line_start) and not self._pre:
            return  # whitespace between blocks
        if self._pending:
            self._flush()
        self._lines[-1].append(text)

    def text(self) -> str:
        out = []
        for words, depth in zip(self._lines, self._depths, strict=True):
            line = "".join(words).strip()
            out.append(("> " * depth + line) if depth and line else line)
        return "\n".join(out)


def _blank(text: str) -> bool:
    """Only layout whitespace. A lone ``&nbsp;`` is not: Outlook and Gmail write an
    empty line as a block holding one, and a reader sees that empty line."""
    return not text.strip(" \t\r\n\f")


def html_to_text(html: str) -> str:
    """Readable text of an HTML body, without script or style content."""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
        return parser.text()
    except Exception:
        # Never fail on bad markup: strip the tags bluntly instead.
        text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", html)
        return re.sub(r"<[^>]*>", " ", text)
