"""What the bot says when it will not or cannot answer, and the rule that nobody is ever pinged.

A leaf module (it imports only discord.py), so the commands, the buttons and the client share one wording.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands

if TYPE_CHECKING:
    from bot.client import PodcastBot

NO_PINGS = discord.AllowedMentions.none()
SOMETHING_WENT_WRONG = "Sorry, something went wrong while answering. Please try again in a moment."
EXPIRED = "This answer has expired. Ask again with /ask."
FEEDBACK_OFF = "Thanks, but this bot no longer records questions or feedback, so your vote was not saved."
ItemT = TypeVar("ItemT", bound=discord.ui.DynamicItem[Any])
ChoiceT = TypeVar("ChoiceT", str, int, float)
log = logging.getLogger(__name__)


class Refusal(app_commands.AppCommandError):
    """A polite "no" (an empty question, an unknown episode): told to the user ephemerally, not logged."""


def clean_question(question: str, limit: int) -> str:
    """The question with its whitespace folded; Refusal with a hint when it is empty or longer than `limit`
    (MAX_QUESTION_CHARS). Shared by every way of asking, the demo console included."""
    question = " ".join(question.split())
    if not question:
        raise Refusal("Ask a question in words, e.g. `/ask question: what backup tool do they recommend?`")
    if len(question) > limit:
        raise Refusal(f"Please keep questions under {limit} characters (yours has {len(question)}).")
    return question


def error_message(error: Exception) -> str | None:
    """What to tell the user about an error they can act on; None for a bug (log it, then apologise)."""
    if isinstance(error, Refusal):
        return str(error)
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the Manage Server permission for this."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    return None


def reports_errors(
    callback: Callable[[ItemT, discord.Interaction[PodcastBot]], Awaitable[None]],
) -> Callable[[ItemT, discord.Interaction[PodcastBot]], Awaitable[None]]:
    """discord.py only logs a dynamic item's exceptions; route them to the bot so the user gets an answer.
    Buttons also keep to ALLOWED_CHANNEL_IDS: the command tree's check never sees them."""

    @functools.wraps(callback)
    async def wrapper(self: ItemT, interaction: discord.Interaction[PodcastBot]) -> None:
        try:
            if not await interaction.client.refuse_outside_channels(interaction):
                await callback(self, interaction)
        except Exception as exc:
            await interaction.client.report_error(interaction, exc)

    return wrapper


def suggests_nothing_on_error(
    callback: Callable[[discord.Interaction[PodcastBot], str], Awaitable[list[app_commands.Choice[ChoiceT]]]],
) -> Callable[[discord.Interaction[PodcastBot], str], Awaitable[list[app_commands.Choice[ChoiceT]]]]:
    """discord.py logs an autocomplete callback's exception and never answers, so the user's client shows
    "Loading options failed"; an empty list of suggestions is the answer to give instead."""

    @functools.wraps(callback)
    async def wrapper(interaction: discord.Interaction[PodcastBot], current: str) -> list[app_commands.Choice[ChoiceT]]:
        try:
            return await callback(interaction, current)
        except Exception:
            log.exception("error while suggesting choices for %s", interaction.command and interaction.command.name)
            return []

    return wrapper
