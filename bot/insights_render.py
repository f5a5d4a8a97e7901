"""/insights and /insights feedback as Discord messages: pure functions, no client, within Discord's limits.

Questions are user text: escaped like everything else (bot.render.safe), and only ever counted per person.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import discord

from bot.insights import Group, Insights, Review, Shown
from bot.render import COLOUR, FIELD_LIMIT, MAX_EMBEDS, TOTAL_LIMIT, Rendered, markdown_url, safe, truncate
from bot.store import KEEP_QUESTIONS_DAYS
from index.links import format_clock
from index.wording import plural

CHART_FILE = "insights.png"
SHOWN_GROUPS = 5
REVIEW_HITS = 3  # answers shown per 👎 (a page has up to ten)
LOGGING_OFF = (
    "Question logging is off (`STORE_QUESTIONS=false`), so there are no insights: the bot records no questions, "
    "answers or votes. Watches still work."
)


def render_insights(insights: Insights, *, chart: bool = True) -> Rendered:
    """The /insights summary; with `chart`, the embed shows the attached CHART_FILE."""
    period = f"last {plural(insights.days, 'day')}"
    embed = discord.Embed(title=f"Insights · {period}", colour=COLOUR)
    if not insights.questions:
        embed.description = f"No questions were asked in the {period}."
        return Rendered("", [embed])
    embed.description = (
        f"**{plural(insights.questions, 'question')}** from **{plural(insights.askers, 'person', 'people')}**"
        f" (at most {insights.most_by_one:,} from one person)\n"
        f"**{insights.answered_share:.0%}** answered above the score floor · 👍 {insights.up:,} · 👎 {insights.down:,}"
    )
    top = "\n".join(_group_line(g, askers=True) for g in insights.top[:SHOWN_GROUPS])
    embed.add_field(
        name="Top questions, grouped by meaning", value=truncate(top or "No question was asked twice.", FIELD_LIMIT)
    )
    gaps = "\n".join(_group_line(g, askers=False) for g in insights.gaps[:SHOWN_GROUPS])
    embed.add_field(
        name="Coverage gaps: no confident match or 👎",
        value=truncate(gaps or "None: every question had a confident match and no 👎.", FIELD_LIMIT),
        inline=False,
    )
    episodes = "\n".join(
        f"**{plural(e.questions, 'question')}** · {truncate(safe(e.title), 100)}" for e in insights.episodes[:5]
    )
    embed.add_field(name="Most linked episodes", value=truncate(episodes or "None yet.", FIELD_LIMIT), inline=False)
    if chart:
        embed.set_image(url=f"attachment://{CHART_FILE}")
    footer = f"Who asked is never shown. Questions are forgotten after {KEEP_QUESTIONS_DAYS} days."
    if insights.ungrouped:
        footer += f" {plural(insights.ungrouped, 'question')} could not be grouped (no stored vector)."
    embed.set_footer(text=footer + " /insights feedback lists the 👎.")
    return Rendered("", [embed])


def render_reviews(reviews: Sequence[Review], days: int) -> Rendered:
    """/insights feedback: the newest 👎, one embed each: the question, the comment, what was shown."""
    reviews = list(reviews)[:MAX_EMBEDS]
    period = f"last {plural(days, 'day')}"
    if not reviews:
        return Rendered(f"No 👎 in the {period}.")
    share = TOTAL_LIMIT // len(reviews) - 10
    content = f"The newest {len(reviews):,} 👎 of the {period}, with what was shown:"
    return Rendered(content, [_review_embed(review, share) for review in reviews])


def _group_line(group: Group, *, askers: bool) -> str:
    question = truncate(safe(group.question), 120)
    if askers:
        return f"**{group.size:,}×** {question} ({plural(group.askers, 'person', 'people')})"
    why = []
    if group.unanswered:
        why.append(f"{group.unanswered:,} without a match")
    if group.down:
        why.append(f"{group.down:,} 👎")
    return f"**{group.size:,}×** {question} ({', '.join(why)})"


def _review_embed(review: Review, share: int) -> discord.Embed:
    """One 👎 whose title, description and footer together stay within `share` characters."""
    title = truncate(safe(review.question), min(256, share // 4))
    when = datetime.fromtimestamp(review.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    hits = review.shown[:REVIEW_HITS]
    last_rank = review.first_rank + max(len(review.shown), 1) - 1
    footer = f"👎 {when} · answers {review.first_rank}–{last_rank}"
    room = share - len(title) - len(footer)
    comment = f"💬 {truncate(safe(review.comment), room // 4)}" if review.comment else "💬 no comment"
    per_hit = (room - len(comment)) // max(len(hits), 1) - 1
    lines = [comment, *(_shown_line(hit, per_hit) for hit in hits)]
    embed = discord.Embed(title=title, description=truncate("\n".join(lines), room), colour=COLOUR)
    embed.set_footer(text=footer)
    return embed


def _shown_line(hit: Shown, budget: int) -> str:
    """An answer that was shown: a link to the moment (kept whole), the episode and the quote as room allows."""
    when = format_clock(hit.quote_start)
    stamp = f"[▶ {when}]({markdown_url(hit.url)})" if hit.url and len(hit.url) < budget // 2 else f"▶ {when}"
    score = f" · match {hit.score:.2f}"
    head = f"{stamp} **{truncate(safe(hit.title), max(budget - len(stamp) - len(score) - 5, 8))}**{score}"
    room = budget - len(head) - 3
    return f"{head}\n> {truncate(safe(hit.quote), room)}" if hit.quote and room >= 20 else head
