"""A strict check of HTML snippets for the notebook tests: every tag closed in order; table
cells and text collected for comparison with the data."""

from __future__ import annotations

import html.parser

VOID = {"br", "hr", "img", "input", "meta", "link", "col", "wbr", "polyline", "progress"}


class _Tree(html.parser.HTMLParser):
    """Checks that every tag is closed in order, and collects table cells and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.rows: list[list[str]] = []
        self.header: list[str] = []
        self._cell: list[str] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell)
            (self.header.append(text) if tag == "th" else self.rows[-1].append(text))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        self.text.append(data)


def parse(h: str) -> _Tree:
    t = _Tree()
    t.feed(h)
    t.close()
    assert t.stack == [], f"unclosed tags: {t.stack}"
    return t
