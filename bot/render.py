"""Pure rendering of answers into Discord messages: limits, truncation, escaping, links. No client needed.

Everything a user or a transcript wrote is escaped (markdown and mentions) before it is shown, and every
message is also sent with `allowed_mentions` none: belt and braces, nobody is ever pinged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import discord

from index.cards import EpisodeCard
from index.links import format_clock
from index.manifest import Manifest
from index.models import Hit, Sentence
from index.phrases import PhraseReport
from index.store import EpisodeRow
from index.wording import plural

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 1024
FOOTER_LIMIT = 2048
TOTAL_LIMIT = 6000
MAX_EMBEDS = 10
QUOTE_BUDGET = 700  # characters of quote per answer when there is room
COLOUR = discord.Colour(0x5865F2)
NO_MATCH_COLOUR = discord.Colour(0x99AAB5)
_BRACKET = re.compile(r"(\\*)([\[\]])")


@dataclass(frozen=True)
class Rendered:
    """A message to send: text content and up to ten embeds."""

    content: str
    embeds: list[discord.Embed] = field(default_factory=list)


def safe(text: str) -> str:
    """User or transcript text made inert: no markdown effects, no mentions, no masked links."""
    # escape_markdown takes anything shaped like a masked link, `[…](…)`, as one token and escapes only its
    # first bracket, leaving `**`, `||` and backticks inside it live: escape the pieces between `](` instead.
    escape = discord.utils.escape_markdown
    text = "](".join(escape(piece) for piece in discord.utils.escape_mentions(text).split("]("))
    return _BRACKET.sub(lambda m: m[1] + ("" if len(m[1]) % 2 else "\\") + m[2], text)  # brackets not yet escaped


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a word boundary, with an ellipsis when anything was cut."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.5:
        cut = cut[:space]
    return cut.rstrip("\\ ") + "…"


def render_answer(question: str, hits: Sequence[Hit], *, first_rank: int = 1) -> Rendered:
    """One embed per hit (at most ten) under a line naming the question, within Discord's limits."""
    hits = list(hits)[:MAX_EMBEDS]
    if not hits and first_rank > 1:
        return Rendered(truncate(f"**{safe_question(question)}** — that's everything I found.", CONTENT_LIMIT))
    if not hits:
        return render_no_match(question)
    last_rank = first_rank + len(hits) - 1
    shown = f"{first_rank}" if len(hits) == 1 else f"{first_rank}–{last_rank}"
    content = truncate(f"**{safe_question(question)}** — best moments ({shown})", CONTENT_LIMIT)
    embeds = [_hit_embed(hit, QUOTE_BUDGET) for hit in hits]
    budget = QUOTE_BUDGET
    while sum(len(e) for e in embeds) > TOTAL_LIMIT and budget > 60:
        budget = int(budget * 0.8)
        embeds = [_hit_embed(hit, budget) for hit in hits]
    if sum(len(e) for e in embeds) > TOTAL_LIMIT:
        # Long titles, show names or links, not long quotes: Discord would refuse the whole message, so every
        # embed gets an equal share of the total instead.
        embeds = [_hit_embed(hit, budget, share=TOTAL_LIMIT // len(hits)) for hit in hits]
    return Rendered(content, embeds)


def render_no_match(question: str) -> Rendered:
    """The honest answer when nothing scores above the floor: say so, suggest what to try."""
    embed = discord.Embed(
        title="No confident match",
        description=(
            "I couldn't find a moment in the episodes that clearly answers this. "
            "Try other words (names, tools, topics), or `/find` for an exact phrase."
        ),
        colour=NO_MATCH_COLOUR,
    )
    return Rendered(truncate(f"**{safe_question(question)}**", CONTENT_LIMIT), [embed])


def render_phrase(report: PhraseReport, *, shown: int = 10) -> Rendered:
    """/find: how often the phrase was said, where most, and the first moments with links."""
    phrase = safe_question(report.phrase)
    if not report.total:
        return Rendered(f"Nobody said “{phrase}” in the indexed episodes.")
    episodes = len(report.per_episode)
    content = truncate(
        f"“{phrase}” was said **{plural(report.total, 'time')}** in {plural(episodes, 'episode')}.", CONTENT_LIMIT
    )
    counts = "\n".join(f"{n:,}× {truncate(safe(episode.title), 80)}" for episode, n in report.per_episode[:10])
    if episodes > 10:
        counts += f"\n… and {plural(episodes - 10, 'more episode')}"
    lines = []
    for occurrence in report.occurrences[:shown]:
        when = format_clock(occurrence.start)
        stamp = f"[{when}]({markdown_url(occurrence.url)})" if occurrence.url else when
        lines.append(
            f"**{truncate(safe(occurrence.episode.title), 60)}** {stamp}: {truncate(safe(occurrence.sentence), 160)}"
        )
    embed = discord.Embed(
        title="Where it was said", description=truncate("\n".join(lines), DESCRIPTION_LIMIT), colour=COLOUR
    )
    embed.add_field(name="Mentions per episode", value=truncate(counts, FIELD_LIMIT), inline=False)
    if report.total > shown:
        embed.set_footer(
            text=f"Showing the first {min(shown, len(report.occurrences))} of {plural(report.total, 'mention')}."
        )
    return Rendered(content, [embed])


def render_episode(card: EpisodeCard) -> discord.Embed:
    """The episode card of /episode: its details, chapters with links, and related episodes with the chapter
    that makes them related."""
    episode = card.episode
    embed = discord.Embed(title=truncate(episode.title, TITLE_LIMIT), url=episode.link or None, colour=COLOUR)
    if card.chapters:
        heading = "**Chapters** (automatic: key phrases from each part)" if card.auto_chapters else "**Chapters**"
        lines = [heading]
        for chapter in card.chapters:
            when = format_clock(chapter.start)
            stamp = f"[{when}]({markdown_url(chapter.url)})" if chapter.url else when
            lines.append(f"{stamp} {truncate(safe(chapter.title), 100)}")
        embed.description = _lines_within(lines, DESCRIPTION_LIMIT // 2)
    embed.add_field(name="Podcast", value=truncate(safe(episode.podcast), FIELD_LIMIT))
    if episode.number is not None:
        embed.add_field(name="Episode", value=str(episode.number))
    if episode.published:
        embed.add_field(name="Published", value=episode.published)
    embed.add_field(name="Length", value=format_clock(episode.duration))
    listen = f"[Episode page]({markdown_url(episode.link)})" if episode.link else ""
    if listen and len(listen) <= FIELD_LIMIT:  # cut short, the link would break; the title links there anyway
        embed.add_field(name="Listen", value=listen, inline=False)
    if card.related:
        lines = []
        for related in card.related:
            line = f"• {truncate(safe(related.episode.title), 80)}"
            if related.chapter is not None:
                chapter = related.chapter
                line += " — " + chapter_line(chapter.title, chapter.start, chapter.url, chapter.auto)
            lines.append(line)
        embed.add_field(name="Related episodes", value=_lines_within(lines, FIELD_LIMIT), inline=False)
    return embed


def _lines_within(lines: Sequence[str], limit: int) -> str:
    """As many whole lines as fit in `limit` characters, then how many were left out."""
    kept: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        more = f"… and {len(lines) - i} more"
        tail = len(more) + 1 if i + 1 < len(lines) else 0
        if used + len(line) + tail > limit:
            return "\n".join([*kept, more]) if kept else truncate(line, limit)
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)


def render_about(manifest: Manifest, episodes: Sequence[EpisodeRow], *, scope: Sequence[str] = ()) -> discord.Embed:
    """What /about says: what is indexed (`episodes`: those of the channel's `scope`, when it has one), and how
    to ask."""
    podcasts: dict[str, int] = {}
    for episode in episodes:
        podcasts[episode.podcast] = podcasts.get(episode.podcast, 0) + 1
    shows = "\n".join(f"• {safe(name)}: {plural(count, 'episode')}" for name, count in sorted(podcasts.items()))
    embed = discord.Embed(
        title="About this bot",
        description=(
            "I find the moments in the episodes that answer your question and quote them, "
            "with a link that jumps to that second. I only quote; I never make answers up.\n\n"
            "**/ask** a question · **/episode** an episode card · right-click a message → "
            "**Apps → Find in episodes** to search for its text."
        ),
        colour=COLOUR,
    )
    embed.add_field(name="Indexed", value=truncate(shows or "nothing yet", FIELD_LIMIT), inline=False)
    if scope:
        names = ", ".join(safe(name) for name in scope)
        here = f"searches {names} by default; `/ask podcast:` searches another."
        embed.add_field(name="This channel", value=truncate(here, FIELD_LIMIT), inline=False)
    machine = sum(e.origin == "machine" for e in episodes)
    if machine:
        embed.add_field(name="Machine-transcribed", value=f"{machine} of {len(episodes)} episodes", inline=False)
    embed.add_field(name="Passages", value=f"{manifest.counts.get('chunks', 0):,}")
    embed.add_field(name="Last build", value=manifest.created_at)
    embed.set_footer(text=f"model {manifest.model} ({manifest.backend}) · build {manifest.build_id}")
    return embed


def render_error(message: str) -> str:
    return truncate(f"⚠️ {message}", CONTENT_LIMIT)


def safe_question(question: str) -> str:
    return truncate(safe(" ".join(question.split())), 300)


def format_quote(hit: Hit, budget: int) -> str:
    """The quote in bold, with the sentence before and after it when they fit and are the same speaker's."""
    sentences = hit.sentences
    if not sentences:
        return ""
    first, last = (hit.quote_first, hit.quote_last) if hit.quote else (0, len(sentences) - 1)
    core = truncate(" ".join(s.text for s in sentences[first : last + 1]), max(budget - 4, 20))
    text = f"**{safe(core)}**"
    before = safe(sentences[first - 1].text) + " " if first > 0 and _same_turn(sentences, first, first - 1) else ""
    after = (
        " " + safe(sentences[last + 1].text)
        if last + 1 < len(sentences) and _same_turn(sentences, last, last + 1)
        else ""
    )
    if len(text) + len(after) + 2 <= budget:
        text += after
    else:
        after = ""
    if len(before) + len(text) + 2 <= budget:
        text = before + text
    else:
        before = ""
    shown_first = first - (1 if before else 0)
    shown_last = last + (1 if after else 0)
    more_before = shown_first > 0 and _same_turn(sentences, shown_first, shown_first - 1)
    more_after = shown_last + 1 < len(sentences) and _same_turn(sentences, shown_last, shown_last + 1)
    return ("…" if more_before else "") + text + ("…" if more_after else "")


def to_text(rendered: Rendered, *, bold: tuple[str, str] = ("", "")) -> str:
    """The same message as plain text, for the local console; `bold` wraps what Discord shows in bold."""
    blocks = [_plain(rendered.content, bold)]
    for embed in rendered.embeds:
        lines = [_plain(embed.title or "", bold)]
        if embed.url:
            lines.append(f"  {embed.url}")
        lines += ["  " + _plain(line, bold) for line in (embed.description or "").splitlines()]
        for embed_field in embed.fields:
            value = _plain(embed_field.value or "", bold).replace("\n", "\n    ")
            lines.append(f"  {_plain(embed_field.name or '', bold)}: {value}")
        if embed.footer.text:
            lines.append(f"  ({_plain(embed.footer.text, bold)})")
        blocks.append("\n".join(line for line in lines if line.strip()))
    return "\n\n".join(block for block in blocks if block)


def _hit_embed(hit: Hit, budget: int, *, share: int | None = None) -> discord.Embed:
    """One answer; with `share`, the embed's title, description and footer together stay within it."""
    if share is None:
        title_limit, footer_limit = TITLE_LIMIT, FOOTER_LIMIT
    else:
        title_limit = footer_limit = min(TITLE_LIMIT, share // 5)
    title = truncate(hit.episode_title, title_limit)
    footer = [hit.podcast]
    if hit.episode_number is not None:
        footer.append(f"episode {hit.episode_number}")
    if hit.published:
        footer.append(hit.published)
    footer.append(f"match {hit.score:.2f}")
    if hit.origin == "machine":
        footer.append("machine transcript, may mishear words")
    footer_text = truncate(" · ".join(footer), footer_limit)
    description_limit = min(DESCRIPTION_LIMIT, share - len(title) - len(footer_text)) if share else DESCRIPTION_LIMIT
    when = format_clock(hit.quote_start)
    stamp = f"[▶ {when}]({markdown_url(hit.url)})" if hit.url else f"▶ {when}"
    link = hit.episode_link or None
    if share is not None and hit.url and len(stamp) > description_limit // 3:
        stamp, link = f"▶ {when}", hit.url  # a link too long to spell out: the title jumps to the moment instead
    speaker = next((s.speaker for s in hit.quote if s.speaker), None) or (hit.speakers[0] if hit.speakers else None)
    header = f"{stamp} · {truncate(safe(speaker), 100 if share is None else 40)}" if speaker else stamp
    if hit.chapter and hit.chapter_start is not None:
        header += "\n" + chapter_line(hit.chapter, hit.chapter_start, hit.chapter_url, hit.chapter_auto, share=share)
    quote = format_quote(hit, budget)
    embed = discord.Embed(
        title=title,
        url=link,
        description=truncate(f"{header}\n> {quote}", description_limit),
        colour=COLOUR,
    )
    embed.set_footer(text=footer_text)
    return embed


def chapter_line(title: str, start: float, url: str | None, auto: bool, *, share: int | None = None) -> str:
    """Where in the episode a moment is: "in *Using SQLite in production* · 44:09", the time linking to the
    chapter's start; automatic chapters (key phrases, not the publisher's titles) say so."""
    when = format_clock(start)
    stamp = f"[{when}]({markdown_url(url)})" if url and share is None else when
    marker = " (automatic chapter)" if auto else ""
    return f"in *{truncate(safe(title), 80 if share is None else 40)}*{marker} · {stamp}"


def markdown_url(url: str) -> str:
    """Parentheses would end a markdown link early; percent-encoding them keeps the URL the same."""
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def _same_turn(sentences: Sequence[Sentence], a: int, b: int) -> bool:
    return sentences[a].speaker == sentences[b].speaker


_LINK = re.compile(r"(?<!\\)\[([^\]]*)\]\((\S+?)\)")  # a link, not escaped text shaped like one
_BOLD = re.compile(r"(?<!\\)\*\*(.+?)(?<!\\)\*\*")
_ESCAPE = re.compile(r"\\([*_~|`>#\[\]()\\-])")


def _plain(text: str, bold: tuple[str, str]) -> str:
    text = _LINK.sub(r"\1 <\2>", text)
    text = _BOLD.sub(lambda m: bold[0] + m.group(1) + bold[1], text)
    return _ESCAPE.sub(r"\1", text.replace("\u200b", ""))
