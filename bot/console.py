"""The local console: questions typed at a prompt, answered with the bot's own renderer as plain text."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.render import Rendered, render_answer, render_episode, to_text
from bot.replies import Refusal, clean_question
from bot.settings import Settings
from index.live import LiveIndex

BANNER = """Ask a question about the indexed episodes (Ctrl-D to quit).
Type "more" to see the next answers to the previous question, "episode TITLE" for an episode's card."""


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
        if line.lower().startswith("episode "):
            live.refresh()
            print(episode_text(live, line[len("episode ") :], bold), file=stdout, flush=True)
            continue
        if line.lower() == "more" and question:
            offset += settings.results_per_page
        else:
            try:  # the limits of /ask: a long question is refused, as on Discord, not cut short
                question, offset = clean_question(line, settings.max_question_chars), 0
            except Refusal as refusal:
                print(str(refusal), file=stdout, flush=True)
                continue
        live.refresh()
        hits = live.searcher.search(
            question, k=settings.results_per_page, offset=offset, min_score=settings.score_floor
        )
        print(to_text(render_answer(question, hits, first_rank=offset + 1), bold=bold), file=stdout, flush=True)


def episode_text(live: LiveIndex, title: str, bold: tuple[str, str]) -> str:
    """The card of the first episode whose title contains `title` (any case), as /episode shows it."""
    wanted = " ".join(title.split()).casefold()
    searcher = live.searcher
    row = next((e for e in searcher.store.episodes if wanted and wanted in e.title.casefold()), None)
    if row is None:
        return f"No episode title contains “{title.strip()}”."
    return to_text(Rendered("", [render_episode(searcher.episode_card(row))]), bold=bold)
