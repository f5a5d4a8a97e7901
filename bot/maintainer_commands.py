"""The maintainers' commands (Manage Server, checked by the bot itself as /reload is): /insights and /watch.

Discord does not let a command that has subcommands run on its own, so the summary is `/insights overview` next
to `/insights feedback`.
"""

from __future__ import annotations

import asyncio
import io
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.charts import questions_per_day_png
from bot.insights import Insights, load_insights, load_reviews
from bot.insights_render import CHART_FILE, LOGGING_OFF, render_insights, render_reviews
from bot.render import safe, truncate
from bot.replies import NO_PINGS, Refusal, suggests_nothing_on_error
from bot.scopes import channel_allowed
from bot.store import KEEP_QUESTIONS_DAYS, BotStore
from bot.watches import MAX_WATCHES, Watch
from index.phrases import phrase_tokens
from index.wording import plural

if TYPE_CHECKING:
    from bot.client import PodcastBot  # noqa: F401 (named in the Interaction alias below)

Interaction = discord.Interaction["PodcastBot"]
Days = app_commands.Range[int, 1, KEEP_QUESTIONS_DAYS]
MANAGERS = discord.Permissions(manage_guild=True)

insights_group = app_commands.Group(
    name="insights",
    description="What listeners ask (Manage Server only)",
    default_permissions=MANAGERS,
    guild_only=True,
)
watch_group = app_commands.Group(
    name="watch",
    description="Post when a new episode says a phrase (Manage Server only)",
    default_permissions=MANAGERS,
    guild_only=True,
)


@insights_group.command(name="overview")
@app_commands.describe(days=f"How many days back (1-{KEEP_QUESTIONS_DAYS}, default 30)")
@app_commands.checks.has_permissions(manage_guild=True)
async def overview(interaction: Interaction, days: Days = 30) -> None:
    """Questions, answered share, top questions, coverage gaps, most linked episodes, and a chart."""
    bot = interaction.client
    await interaction.response.defer(ephemeral=True, thinking=True)
    if not bot.settings.store_questions:
        await interaction.followup.send(LOGGING_OFF, ephemeral=True, allowed_mentions=NO_PINGS)
        return
    titles = {e.key: e.title for e in bot.live.searcher.store.episodes}
    report, chart = await asyncio.to_thread(_overview, bot.store, days, interaction.guild_id, titles)
    rendered = render_insights(report, chart=chart is not None)
    files = [discord.File(io.BytesIO(chart), CHART_FILE)] if chart else []
    await interaction.followup.send(
        rendered.content or None, embeds=rendered.embeds, files=files, ephemeral=True, allowed_mentions=NO_PINGS
    )


@insights_group.command(name="feedback")
@app_commands.describe(days=f"How many days back (1-{KEEP_QUESTIONS_DAYS}, default 30)")
@app_commands.checks.has_permissions(manage_guild=True)
async def feedback(interaction: Interaction, days: Days = 30) -> None:
    """The newest 👎: the question, what was shown (with links to the moments) and the comment."""
    bot = interaction.client
    await interaction.response.defer(ephemeral=True, thinking=True)
    if not bot.settings.store_questions:
        await interaction.followup.send(LOGGING_OFF, ephemeral=True, allowed_mentions=NO_PINGS)
        return
    reviews = await asyncio.to_thread(
        load_reviews, bot.store.query, days=days, now=time.time(), guild_id=interaction.guild_id
    )
    rendered = render_reviews(reviews, days)
    await interaction.followup.send(rendered.content, embeds=rendered.embeds, ephemeral=True, allowed_mentions=NO_PINGS)


@watch_group.command(name="add")
@app_commands.describe(phrase="The exact words, e.g. SQLite", channel="Where to post when a new episode says them")
@app_commands.checks.has_permissions(manage_guild=True)
async def watch_add(
    interaction: Interaction, phrase: app_commands.Range[str, 1, 100], channel: discord.TextChannel
) -> None:
    """Post in a channel when a newly indexed episode says a phrase (exact words, any case)."""
    bot = interaction.client
    assert interaction.guild_id is not None  # guild_only
    cleaned = " ".join(phrase.split())
    if not phrase_tokens(cleaned):
        raise Refusal("Watch words, e.g. `/watch add phrase: SQLite`.")
    existing = bot.watches.watches.of_guild(interaction.guild_id)
    if any(w.channel_id == channel.id and w.phrase.casefold() == cleaned.casefold() for w in existing):
        raise Refusal(f"Already watching “{safe(cleaned)}” for {channel.mention}.")
    if len(existing) >= MAX_WATCHES:
        raise Refusal(f"This server has {MAX_WATCHES} watches, the most it may have; `/watch remove` one first.")
    if not channel_allowed(bot.settings, channel):
        raise Refusal(f"{channel.mention} is not in this bot's ALLOWED_CHANNEL_IDS, so I don't post there.")
    me = channel.guild.me
    if me is not None:
        allowed = channel.permissions_for(me)
        if not (allowed.view_channel and allowed.send_messages and allowed.embed_links):
            raise Refusal(f"I can't post in {channel.mention}: I need View Channel, Send Messages and Embed Links.")
    await interaction.response.defer(ephemeral=True, thinking=True)
    added = await bot.watches.add(bot.live.searcher, interaction.guild_id, channel.id, cleaned)
    indexed = plural(len(bot.live.searcher.store.episodes), "episode")
    await interaction.followup.send(
        f"Watching “{safe(cleaned)}” (watch #{added.id}): when a new or updated episode says it, I'll post in "
        f"{channel.mention}. The {indexed} indexed now are not announced.",
        ephemeral=True,
        allowed_mentions=NO_PINGS,
    )


@watch_group.command(name="list")
@app_commands.checks.has_permissions(manage_guild=True)
async def watch_list(interaction: Interaction) -> None:
    """The phrases this server watches and where they are posted."""
    assert interaction.guild_id is not None
    watches = interaction.client.watches.watches.of_guild(interaction.guild_id)
    if not watches:
        text = "No watches yet. `/watch add phrase: SQLite channel: #announcements` adds one."
    else:
        text = "\n".join(_describe(w) for w in watches)
    await interaction.response.send_message(truncate(text, 2000), ephemeral=True, allowed_mentions=NO_PINGS)


@suggests_nothing_on_error
async def watch_choices(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    """This server's watches whose phrase contains what was typed."""
    if interaction.guild_id is None:
        return []
    typed = current.casefold().lstrip("#")
    watches = interaction.client.watches.watches.of_guild(interaction.guild_id)
    return [
        app_commands.Choice(name=truncate(f"#{w.id} “{w.phrase}”", 100), value=str(w.id))
        for w in watches
        if typed in w.phrase.casefold() or typed == str(w.id)
    ][:25]


@watch_group.command(name="remove")
@app_commands.describe(watch="The watch to stop (start typing its phrase)")
@app_commands.autocomplete(watch=watch_choices)
@app_commands.checks.has_permissions(manage_guild=True)
async def watch_remove(interaction: Interaction, watch: str) -> None:
    """Stop a watch."""
    bot = interaction.client
    assert interaction.guild_id is not None
    watches = bot.watches.watches.of_guild(interaction.guild_id)
    typed = watch.strip().lstrip("#")
    chosen = [w for w in watches if str(w.id) == typed] or [
        w for w in watches if w.phrase.casefold() == typed.casefold()
    ]
    if len(chosen) != 1:
        raise Refusal("I don't know that watch; pick one from the list (`/watch list` shows them).")
    bot.watches.watches.remove(interaction.guild_id, chosen[0].id)
    await interaction.response.send_message(
        f"Stopped watching “{safe(chosen[0].phrase)}” for <#{chosen[0].channel_id}>.",
        ephemeral=True,
        allowed_mentions=NO_PINGS,
    )


COMMANDS = (insights_group, watch_group)


def _overview(
    store: BotStore, days: int, guild_id: int | None, titles: dict[str, str]
) -> tuple[Insights, bytes | None]:
    """Insights and their chart (None without questions), computed in a worker thread."""
    store.forget_old()
    report = load_insights(store.query, days=days, now=time.time(), guild_id=guild_id, titles=titles)
    chart = None
    if report.questions:
        chart = questions_per_day_png(report.per_day, title=f"Questions per day, last {plural(report.days, 'day')}")
    return report, chart


def _describe(watch: Watch) -> str:
    since = datetime.fromtimestamp(watch.created_at, UTC).strftime("%Y-%m-%d")
    return f"#{watch.id} “{safe(watch.phrase)}” → <#{watch.channel_id}> (since {since})"
