"""Slash commands and the message context menu. Each validates, defers, searches off the loop, renders, sends."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.maintainer_commands import COMMANDS as MAINTAINER_COMMANDS
from bot.render import render_about, render_episode, render_phrase, safe_question, truncate
from bot.replies import NO_PINGS, Refusal, clean_question
from bot.scopes import (
    channel_scope,
    episode_choices,
    episode_key,
    find_episode,
    podcast_choices,
    podcasts_for,
    question_filters,
    speaker_choices,
)
from bot.setup import COMMANDS as SERVER_COMMANDS

if TYPE_CHECKING:
    from bot.client import PodcastBot

Interaction = discord.Interaction["PodcastBot"]


@app_commands.command(name="ask")
@app_commands.describe(
    question="What do you want to find? e.g. why did they move off Postgres?",
    episode="Only search this episode",
    podcast="Only search this podcast (by default: the ones this channel searches)",
    speaker="Only moments where this person speaks",
    results="How many moments to show (1-10)",
)
@app_commands.autocomplete(episode=episode_choices, podcast=podcast_choices, speaker=speaker_choices)
async def ask(
    interaction: Interaction,
    question: app_commands.Range[str, 1, 4000],
    episode: str | None = None,
    podcast: str | None = None,
    speaker: str | None = None,
    results: app_commands.Range[int, 1, 10] | None = None,
) -> None:
    """Find the moments in the episodes that answer a question, with a link to each."""
    bot = interaction.client
    cleaned = clean_question(question, bot.settings.max_question_chars)
    filters = question_filters(bot, interaction.channel, podcast=podcast, episode=episode, speaker=speaker)
    if await bot.refuse_if_limited(interaction):
        return
    await interaction.response.defer(ephemeral=bot.settings.ephemeral_answers, thinking=True)
    await bot.send_answer(interaction, cleaned, filters, results or bot.settings.results_per_page, 0)


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
    filters = question_filters(bot, interaction.channel)
    await bot.send_answer(interaction, text, filters, bot.settings.results_per_page, 0)


@app_commands.command(name="find")
@app_commands.describe(
    phrase="The exact words, e.g. type hints",
    episode="Only count this episode",
    podcast="Only count this podcast (by default: the ones this channel searches)",
)
@app_commands.autocomplete(episode=episode_choices, podcast=podcast_choices)
async def find(
    interaction: Interaction,
    phrase: app_commands.Range[str, 1, 200],
    episode: str | None = None,
    podcast: str | None = None,
) -> None:
    """Every time a phrase was said, with counts per episode and links to each moment."""
    bot = interaction.client
    cleaned = clean_question(phrase, bot.settings.max_question_chars)
    podcasts = podcasts_for(bot, interaction.channel, podcast)
    only = episode_key(bot, episode, podcasts)
    if await bot.refuse_if_limited(interaction):
        return
    await interaction.response.defer(ephemeral=bot.settings.ephemeral_answers, thinking=True)
    report = await asyncio.to_thread(bot.live.searcher.find_phrase, cleaned, episode=only, podcasts=podcasts)
    rendered = render_phrase(report)
    await interaction.followup.send(rendered.content, embeds=rendered.embeds, allowed_mentions=NO_PINGS)


@app_commands.command(name="episode")
@app_commands.describe(title="Start typing a title")
@app_commands.autocomplete(title=episode_choices)
async def episode_card(interaction: Interaction, title: str) -> None:
    """Show an episode: title, number, date, link, its chapters and related episodes."""
    scope = channel_scope(interaction.client, interaction.channel)
    row = find_episode(interaction.client, title, scope)
    if row is None:
        raise Refusal(f"No episode matches “{safe_question(title)}”; pick one from the list.")
    card = interaction.client.live.searcher.episode_card(row, podcasts=scope)
    await interaction.response.send_message(embed=render_episode(card), allowed_mentions=NO_PINGS)


@app_commands.command(name="about")
async def about(interaction: Interaction) -> None:
    """What is indexed, and how to ask."""
    searcher = interaction.client.live.searcher
    scope = channel_scope(interaction.client, interaction.channel)
    episodes = [e for e in searcher.store.episodes if not scope or e.podcast in scope]
    embed = render_about(searcher.manifest, episodes, scope=scope)
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
    """Every command of the bot, for the bot and scripts/sync_commands.py alike: a sync replaces the whole set,
    so anything left out here would be deleted from Discord."""
    for command in (ask, find, find_in_episodes, episode_card, about, reload, *SERVER_COMMANDS, *MAINTAINER_COMMANDS):
        tree.add_command(command)
