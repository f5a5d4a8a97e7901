"""The insights chart: questions per day, answered vs not, as PNG bytes.

Drawn with matplotlib's object API on an Agg canvas, never pyplot: pyplot keeps global state that is not safe
across threads, and the bot draws in a worker thread so the event loop never waits for it. Every text is drawn
with `parse_math=False`: listeners' questions and podcast titles are words, and "$$" would be read as a formula
(or fail to parse).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from bot.insights import Day

ANSWERED = "#5865F2"  # the bot's embed colour
UNANSWERED = "#99AAB5"  # its "no confident match" grey


def questions_per_day_png(days: Sequence[Day], *, title: str = "Questions per day") -> bytes:
    """A stacked bar chart, answered above the score floor at the bottom, the rest on top."""
    figure = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    dates = [date.fromisoformat(d.date) for d in days]
    answered = [d.answered for d in days]
    unanswered = [d.unanswered for d in days]
    width = 0.8 if len(days) < 60 else 0.9
    axes.bar(dates, answered, width=width, color=ANSWERED, label="answered")
    axes.bar(dates, unanswered, width=width, bottom=answered, color=UNANSWERED, label="no confident match")
    locator = AutoDateLocator(maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_ylim(bottom=0, top=max([a + u for a, u in zip(answered, unanswered, strict=True)] + [1]) * 1.15)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(title, loc="left", fontsize=11, parse_math=False)
    axes.legend(loc="upper left", frameon=False, fontsize=9, ncols=2)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def groups_png(sizes: Sequence[tuple[str, int]], *, title: str) -> bytes:
    """Horizontal bars, largest on top: (label, count) pairs, labels cut to one line."""
    rows = list(sizes)[::-1]
    figure = Figure(figsize=(8, 0.45 * len(rows) + 0.9), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    labels = [label if len(label) <= 60 else label[:59] + "…" for label, _ in rows]
    axes.barh(range(len(rows)), [count for _, count in rows], color=ANSWERED, height=0.6)
    axes.set_yticks(range(len(rows)), labels, fontsize=9, parse_math=False)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.spines[["top", "right"]].set_visible(False)
    # Over the whole figure: the labels take the left.
    figure.suptitle(title, x=0.01, ha="left", fontsize=11, parse_math=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
