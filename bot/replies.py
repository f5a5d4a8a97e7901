"""What the bot says when it will not or cannot answer, and the rule that nobody is ever pinged.

A leaf module (it imports only discord.py), so the commands, the buttons and the client share one wording.
"""

from __future__ import annotations

import discord
from discord import app_commands

NO_PINGS = discord.AllowedMentions.none()
SOMETHING_WENT_WRONG = "Sorry, something went wrong while answering. Please try again in a moment."


class Refusal(app_commands.AppCommandError):
    """A polite "no" (an empty question, an unknown episode): told to the user ephemerally, not logged."""


def error_message(error: Exception) -> str | None:
    """What to tell the user about an error they can act on; None for a bug (log it, then apologise)."""
    if isinstance(error, Refusal):
        return str(error)
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the Manage Server permission for this."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    return None
