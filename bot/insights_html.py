"""The insights as one self-contained HTML page (scripts/insights.py), for maintainers who read them outside
Discord: styles inline, charts as base64 PNGs, no script and nothing fetched from anywhere."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from html import escape

from bot.insights import Group, Insights, Review, Shown
from bot.store import KEEP_QUESTIONS_DAYS
from index.links import format_clock
from index.wording import plural

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0; } .period { color: #666; margin-top: 0; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1.5rem 0; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: .6rem 1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.6rem; }
img { max-width: 100%; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #eee; vertical-align: top; }
td.n { text-align: right; white-space: nowrap; width: 4rem; }
.review { border-left: 3px solid #99aab5; padding-left: 1rem; margin-bottom: 1.2rem; }
blockquote { margin: .2rem 0 .6rem 1rem; color: #444; }
footer { color: #666; font-size: 13px; margin-top: 2rem; }
"""


def render_html(
    insights: Insights,
    reviews: Sequence[Review],
    charts: Sequence[tuple[str, bytes]],
    *,
    source: str,
    now: float,
) -> str:
    """The page: counts, the charts (alt text, PNG bytes), top questions, gaps, episodes and the review queue."""
    since = datetime.fromtimestamp(insights.since, UTC).strftime("%Y-%m-%d")
    until = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"Insights · last {plural(insights.days, 'day')}"
    cards = [
        ("questions", f"{insights.questions:,}"),
        ("people asked", f"{insights.askers:,}"),
        ("answered above the score floor", f"{insights.answered_share:.0%}"),
        ("👍 votes", f"{insights.up:,}"),
        ("👎 votes", f"{insights.down:,}"),
    ]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="period">{since} to {until} · {escape(source)}</p>',
        '<div class="cards">',
        *(f'<div class="card"><b>{value}</b>{escape(label)}</div>' for label, value in cards),
        "</div>",
        *(f'<p><img alt="{escape(alt)}" src="data:image/png;base64,{_base64(png)}"></p>' for alt, png in charts),
        "<h2>Top questions, grouped by meaning</h2>",
        _groups_table(insights.top, ("asked", "the most typical question", "people"), _top_cells),
        "<h2>Coverage gaps: no confident match or 👎</h2>",
        _groups_table(insights.gaps, ("asked", "the most typical question", "no match", "👎 votes"), _gap_cells),
        "<h2>Most linked episodes</h2>",
        _table(("questions", "episode"), [[e.questions, e.title] for e in insights.episodes], "None yet."),
        f"<h2>Review queue: the newest {len(reviews):,} 👎</h2>",
        *([_review(r) for r in reviews] or ["<p>No 👎 in this period.</p>"]),
        f"<footer>Who asked is never shown: people are only counted. Questions are forgotten after "
        f"{KEEP_QUESTIONS_DAYS} days. {plural(insights.ungrouped, 'question')} could not be grouped "
        "(recorded without a vector of the newest model).</footer>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _groups_table(groups: Sequence[Group], header: Sequence[str], extra: Callable[[Group], list[object]]) -> str:
    return _table(header, [[g.size, g.question, *extra(g)] for g in groups], "None.")


def _top_cells(group: Group) -> list[object]:
    return [group.askers]


def _gap_cells(group: Group) -> list[object]:
    return [group.unanswered, group.down]


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> str:
    if not rows:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    """A number right-aligned, anything else escaped."""
    if isinstance(value, int):
        return f'<td class="n">{value:,}</td>'
    return f"<td>{escape(str(value))}</td>"


def _review(review: Review) -> str:
    when = datetime.fromtimestamp(review.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    comment = f"<p>💬 {escape(review.comment)}</p>" if review.comment else "<p>💬 <i>no comment</i></p>"
    shown = "".join(_shown(s) for s in review.shown)
    return (
        f'<div class="review"><h3>{escape(review.question)}</h3>'
        f"<p>👎 {when}, on answers {review.first_rank}–{review.first_rank + max(len(review.shown), 1) - 1}</p>"
        f"{comment}{shown}</div>"
    )


def _shown(hit: Shown) -> str:
    when = format_clock(hit.quote_start)
    moment = f'<a href="{escape(hit.url)}">▶ {when}</a>' if _web(hit.url) else f"▶ {when}"
    quote = f"<blockquote>{escape(hit.quote)}</blockquote>" if hit.quote else ""
    return f"<p>{moment} <b>{escape(hit.title)}</b> · match {hit.score:.2f}</p>{quote}"


def _web(url: str | None) -> bool:
    """Only web links become links: a feed could name a `javascript:` URL."""
    return bool(url) and url.lower().startswith(("https://", "http://"))  # type: ignore[union-attr]


def _base64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")
