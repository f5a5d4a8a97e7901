"""Podcasting 2.0 HTML transcripts: `<cite>Speaker:</cite> <time>0:00</time> <p>text</p>`, repeated.

The spec's low-fidelity format, which hosts such as Buzzsprout publish as a bare fragment or inside a whole
page. Speaker and time are "if available": a cite holds until the next one, and paragraphs without a time of
their own are timed between their neighbours' (`paragraphs`). Read with the standard library's tolerant
`html.parser`, so unclosed tags and stray markup cost nothing more than text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from index.errors import TranscriptError

from .paragraphs import TimedParagraphs
from .segments import Draft
from .timecodes import parse_timecode

_IGNORED = frozenset({"head", "title"})  # never spoken text
# A four-hour episode is well under 1 MB of HTML, markup included; html.parser is slow on hostile markup (seconds
# per MB on 2 cores), so HTML gets a tighter cap than the 20 MB of other formats.
MAX_HTML_CHARS = 5 * 2**20
# Constructs html.parser (before Python 3.13.4) rescans to the end of the input for, once per occurrence when
# they are unclosed: 5 MB of `<!--` takes hours. None can hold spoken text, so a linear pass removes them first.
_HIDDEN = re.compile(r"<!--|<(script|style|template)\b", re.IGNORECASE)
_CLOSERS = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style", "template")}
_DECLARATION = re.compile(r"<[!?][^<>]*>?")  # <!DOCTYPE html>, <?xml ...?>, <![CDATA[
# A `<` that opens no tag: not followed by a name, or with another `<` (or the end) before its `>`.
_NOT_A_TAG = re.compile(r"<(?![A-Za-z]|/[A-Za-z])|<(?=[^<>]*(?:<|\Z))")


def parse_html(text: str, source: str) -> list[Draft]:
    """Each `<p>` as a segment (long ones cut at sentence ends), with the last `<cite>` as its speaker."""
    if len(text) > MAX_HTML_CHARS:
        raise TranscriptError(source, f"HTML transcript larger than {MAX_HTML_CHARS // 2**20} MB")
    reader = _TranscriptReader(source)
    reader.feed(_NOT_A_TAG.sub("&lt;", _DECLARATION.sub(_newlines_of, _without_hidden(text))))
    reader.close()
    reader.end_paragraph()
    return reader.timed.drafts("no <time> start times: nothing to link answers to")


def _without_hidden(text: str) -> str:
    """`text` less comments, scripts, styles and templates; an unclosed one hides the rest, as in a browser.
    Each keeps its line breaks, so errors still name the line of the file."""
    kept: list[str] = []
    position = 0
    while (opening := _HIDDEN.search(text, position)) is not None:
        kept.append(text[position : opening.start()])
        if opening[1] is None:
            close = text.find("-->", opening.end())
            position = len(text) if close < 0 else close + 3
        else:
            closing = _CLOSERS[opening[1].lower()].search(text, opening.end())
            position = len(text) if closing is None else closing.end()
        kept.append("\n" * text.count("\n", opening.start(), position))
    kept.append(text[position:])
    return "".join(kept)


def _newlines_of(match: re.Match[str]) -> str:
    return "\n" * match[0].count("\n")


class _TranscriptReader(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.timed = TimedParagraphs(source)
        self.speaker: str | None = None
        self.field: str | None = None  # "cite" or "time" while inside one
        self.buffer: list[str] = []  # the open cite's or time's text
        self.paragraph: tuple[int, int] | None = None  # (first word, line) of the open <p>
        self.text: list[str] = []  # the open <p>'s text since the last time mark (tags split no words)
        self.ignored = 0  # depth inside <head>, <script>...

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _IGNORED:
            self.ignored += 1
        elif tag in ("cite", "time"):
            if self.paragraph is not None and (len(self.timed.words) > self.paragraph[0] or "".join(self.text).strip()):
                self.end_paragraph()  # a new turn after an unclosed <p>; a cite inside a <p> opens it
            self.field, self.buffer = tag, []
        elif tag == "p":
            self.end_paragraph()  # <p> may go unclosed in HTML: the next one closes it
            self.paragraph = (len(self.timed.words), self.getpos()[0])
        elif tag == "br":
            self.text.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _IGNORED:
            self.ignored = max(self.ignored - 1, 0)
        elif tag == self.field:
            self._close_field()
        elif tag == "p":
            self.end_paragraph()

    def handle_data(self, data: str) -> None:
        if self.ignored:
            return
        if self.field is not None:
            self.buffer.append(data)
        elif self.paragraph is not None:
            self.text.append(data)

    def _close_field(self) -> None:
        value = " ".join("".join(self.buffer).split())
        if self.field == "cite":
            self.speaker = value.rstrip(": ") or self.speaker
        elif value:
            seconds = parse_timecode(value)
            if seconds is None:
                raise TranscriptError(self.source, f"invalid <time> {value[:40]!r}", self.getpos()[0])
            self._flush()
            self.timed.mark(seconds, self.getpos()[0])
        self.field, self.buffer = None, []

    def end_paragraph(self) -> None:
        if self.field is not None:
            self._close_field()
        if self.paragraph is not None:
            self._flush()
            self.timed.end_paragraph(self.paragraph[0], self.speaker, self.paragraph[1])
            self.paragraph = None

    def _flush(self) -> None:
        self.timed.add_words("".join(self.text))
        self.text = []
