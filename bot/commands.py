"""Slash commands and the message context menu. Each validates, defers, searches off the loop, renders, sends."""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.render import render_about, render_episode, render_phrase, safe_question, truncate
from bot.replies import NO_PINGS, Refusal
from index.store import EpisodeRow

if TYPE_CHECKING:
    from bot.client import PodcastBot

Interaction = discord.Interaction["PodcastBot"]


def episode_ref(key: str) -> str:
    """An autocomplete value for an episode id; Discord caps choice values at 100 characters."""
    return key if len(key) <= 100 else "sha1:" + hashlib.sha1(key.encode()).hexdigest()


def find_episode(bot: PodcastBot, ref: str) -> EpisodeRow | None:
    episodes = bot.live.searcher.store.episodes
    return next((e for e in episodes if episode_ref(e.key) == ref), None) or next(
        (e for e in episodes if e.title.casefold() == ref.casefold()), None
    )


def episode_key(bot: PodcastBot, ref: str | None) -> str | None:
    """The id of the episode an `episode:` option names (None: every episode)."""
    if not ref:
        return None
    row = find_episode(bot, ref)
    if row is None:
        raise Refusal("I don't know that episode; pick one from the list.")
    return row.key


async def episode_choices(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Up to 25 episodes whose title contains what was typed, newest-numbered first."""
    words = current.casefold().split()
    episodes = [
        e for e in interaction.client.live.searcher.store.episodes if all(w in e.title.casefold() for w in words)
    ]
    episodes.sort(key=lambda e: (e.number is None, -(e.number or 0), e.title))
    return [app_commands.Choice(name=truncate(e.title, 100), value=episode_ref(e.key)) for e in episodes[:25]]


def clean_question(bot: PodcastBot, question: str) -> str:
    """The question with its whitespace folded; Refusal with a hint when it is empty or too long."""
    question = " ".join(question.split())
    if not question:
        raise Refusal("Ask a question in words, e.g. `/ask question: what backup tool do they recommend?`")
    limit = bot.settings.max_question_chars
    if len(question) > limit:
        raise Refusal(f"Please keep questions under {limit} characters (yours has {len(question)}).")
    return question


@app_commands.command(name="ask")
@app_commands.describe(
    question="What do you want to find? e.g. why did they move off Postgres?",
    episode="Only search this episode",
    results="How many moments to show (1-10)",
)
@app_commands.autocomplete(episode=episode_choices)
async def ask(
    interaction: Interaction,
    question: app_commands.Range[str, 1, 4000],
    episode: str | None = None,
    results: app_commands.Range[int, 1, 10] | None = None,
) -> None:
    """Find the moments in the episodes that answer a question, with a link to each."""
    bot = interaction.client
    cleaned, only = clean_question(bot, question), episode_key(bot, episode)
    if await bot.refuse_if_limited(interaction):
        return
    await interaction.response.defer(ephemeral=bot.settings.ephemeral_answers, thinking=True)
    await bot.send_answer(interaction, cleaned, only, results or bot.settings.results_per_page, 0)


@app_commands.context_menu(name="Find in episodes")
async def find_in_episodes(interaction: Interaction, message: discord.Message) -> None:
    """Runs a message's text as a question and answers in the channel."""
    bot = interaction.client
    text = " ".join(message.content.split())[: bot.settings.max_question_chars]
    if not text:
        raise Refusal("That message has no text to search for.")
    if await bot.refuse_if_limited(interaction):
        return
    await interaction.response.defer(thinking=True)
    await bot.send_answer(interaction, text, None, bot.settings.results_per_page, 0)


@app_commands.command(name="find")
@app_commands.describe(phrase="The exact words, e.g. type hints", episode="Only count this episode")
@app_commands.autocomplete(episode=episode_choices)
async def find(interaction: Interaction, phrase: app_commands.Range[str, 1, 200], episode: str | None = None) -> None:
    """Every time a phrase was said, with counts per episode and links to each moment."""
    bot = interaction.client
    cleaned, only = clean_question(bot, phrase), episode_key(bot, episode)
    if await bot.refuse_if_limited(interaction):
        return
    await interaction.response.defer(ephemeral=bot.settings.ephemeral_answers, thinking=True)
    report = await asyncio.to_thread(bot.live.searcher.find_phrase, cleaned, episode=only)
    rendered = render_phrase(report)
    await interaction.followup.send(rendered.content, embeds=rendered.embeds, allowed_mentions=NO_PINGS)


@app_commands.command(name="episode")
@app_commands.describe(title="Start typing a title")
@app_commands.autocomplete(title=episode_choices)
async def episode_card(interaction: Interaction, title: str) -> None:
    """Show an episode: title, number, date and link."""
    row = find_episode(interaction.client, title)
    if row is None:
        raise Refusal(f"No episode matches “{safe_question(title)}”; pick one from the list.")
    await interaction.response.send_message(embed=render_episode(row), allowed_mentions=NO_PINGS)


@app_commands.command(name="about")
async def about(interaction: Interaction) -> None:
    """What is indexed, and how to ask."""
    searcher = interaction.client.live.searcher
    embed = render_about(searcher.manifest, searcher.store.episodes)
    await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)


@app_commands.command(name="reload")
@app_commands.default_permissions(manage_guild=True)
@app_commands.checks.has_permissions(manage_guild=True)
@app_commands.guild_only()
async def reload(interaction: Interaction) -> None:
    """Load the newest published index now (Manage Server only)."""
    bot = interaction.client
    await interaction.response.defer(ephemeral=True, thinking=True)
    before = bot.live.build_id
    try:
        swapped = await asyncio.to_thread(bot.live.refresh, raise_errors=True)
    except Exception as exc:  # the operator asked: tell them why, keep serving the old build
        await interaction.followup.send(
            f"Reload failed, still serving build `{before}`: {truncate(str(exc), 1500)}",
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )
        return
    if swapped:
        bot.watches.schedule(bot)
    message = (
        f"Now serving build `{bot.live.build_id}` (was `{before}`)."
        if swapped
        else f"Already serving the newest build, `{before}`."
    )
    await interaction.followup.send(message, ephemeral=True, allowed_mentions=NO_PINGS)


def register(tree: app_commands.CommandTree[PodcastBot]) -> None:
    for command in (ask, find, find_in_episodes, episode_card, about, reload):
        tree.add_command(command)
