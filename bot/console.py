"""The local console: questions typed at a prompt, answered with the bot's own renderer as plain text."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.render import render_answer, to_text
from bot.settings import Settings
from index.live import LiveIndex

BANNER = """Ask a question about the indexed episodes (Ctrl-D to quit).
Start a line with "more" to see the next answers to the previous question."""


def run_console(live: LiveIndex, settings: Settings, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    interactive = stdin.isatty()
    bold = ("\033[1m", "\033[0m") if stdout.isatty() else ("", "")
    if interactive:
        print(BANNER, file=stdout)
    question, offset = "", 0
    while True:
        if interactive:
            print("\nask> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        if line.lower() == "more" and question:
            offset += settings.results_per_page
        else:
            question, offset = line[: settings.max_question_chars], 0
        live.refresh()
        hits = live.searcher.search(
            question, k=settings.results_per_page, offset=offset, min_score=settings.score_floor
        )
        print(to_text(render_answer(question, hits, first_rank=offset + 1), bold=bold), file=stdout, flush=True)
