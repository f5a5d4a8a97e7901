"""Follow-up threads: "Follow up" under an answer opens a thread from it (or uses the thread the answer is in),
where the clicker's next plain messages are answered in the same scope as the first question, until the thread
has been quiet for the server's follow-up time.

Reading plain messages needs the Message Content intent: without it the button still opens the thread but says
to use /ask there. Open follow-ups are rows of the bot's SQLite (thread, salted user hash, question), so they
survive a restart; idleness is measured from the last answer, with the wall clock.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import discord

from bot.render import truncate
from bot.replies import EXPIRED, NO_PINGS, Refusal, reports_errors
from bot.store import AskedQuestion, BotStore
from index.wording import plural

if TYPE_CHECKING:
    from bot.client import PodcastBot

THREAD_EXISTS = 160004  # Discord's "A thread has already been created for this message"
AUTO_ARCHIVE_MINUTES = 1440


class FollowUpButton(discord.ui.DynamicItem[discord.ui.Button], template=r"pqa:follow:(?P<qid>\d{1,18})"):
    """Opens (or reuses) a thread where the clicker's next messages are answered like this question."""

    def __init__(self, question_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Follow up",
                emoji="🧵",
                style=discord.ButtonStyle.secondary,
                custom_id=f"pqa:follow:{question_id}",
            )
        )
        self.question_id = question_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> FollowUpButton:
        return cls(int(match["qid"]))

    @reports_errors
    async def callback(self, interaction: discord.Interaction[PodcastBot]) -> None:
        bot = interaction.client
        asked = bot.store.question(self.question_id)
        if asked is None or interaction.guild is None or interaction.message is None:
            await interaction.response.send_message(EXPIRED, ephemeral=True, allowed_mentions=NO_PINGS)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        thread_id = await _thread_for(interaction, asked)
        if not bot.settings.store_questions:  # an answer from before logging was turned off: a thread keeps a record
            text = f"Ask in <#{thread_id}> with `/ask`: this server keeps no record of questions to follow up on."
        elif not bot.settings.message_content_intent:
            text = (
                f"Ask in <#{thread_id}> with `/ask`: this bot can't read plain messages here "
                "(it runs without Discord's Message Content intent)."
            )
        else:
            open_followup(bot.store, thread_id, interaction.user.id, asked.id)
            minutes = bot.server.guild(interaction.guild.id).followup_idle_minutes
            text = (
                f"Ask your next question in <#{thread_id}>: I'll answer your messages there until it has been "
                f"quiet for {plural(minutes, 'minute')}."
            )
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)


async def _thread_for(interaction: discord.Interaction[PodcastBot], asked: AskedQuestion) -> int:
    """The id of the thread for follow-ups: the one the answer is in, the one already started from it, or a new
    one (a thread started from a message has the message's id)."""
    if isinstance(interaction.channel, discord.Thread):
        return interaction.channel.id
    message = interaction.message
    assert message is not None and interaction.guild is not None
    if interaction.guild.get_thread(message.id) is not None:
        return message.id
    try:
        thread = await message.create_thread(
            name=truncate(asked.question, 100), auto_archive_duration=AUTO_ARCHIVE_MINUTES
        )
    except discord.Forbidden as exc:
        raise Refusal("I can't start a thread here (I need the Create Public Threads permission).") from exc
    except discord.HTTPException as exc:
        if exc.code != THREAD_EXISTS:  # someone else clicked first: their thread is the one
            raise
        return message.id
    return thread.id


def open_followup(store: BotStore, thread_id: int, user_id: int, question_id: int) -> None:
    store.write(
        "INSERT OR REPLACE INTO followups (thread_id, user_hash, question_id, last_active) VALUES (?, ?, ?, ?)",
        (thread_id, store.user_hash(user_id), question_id, time.time()),
    )


def open_question(store: BotStore, thread_id: int, user_id: int, idle_minutes: int) -> AskedQuestion | None:
    """The question a user follows up in a thread, if their follow-up is still open; a lapsed one is closed."""
    user = store.user_hash(user_id)
    rows = store.query(
        "SELECT question_id, last_active FROM followups WHERE thread_id = ? AND user_hash = ?", (thread_id, user)
    )
    if not rows:
        return None
    question_id, last_active = rows[0]
    asked = store.question(question_id)
    if asked is None or time.time() - last_active > idle_minutes * 60:
        store.write("DELETE FROM followups WHERE thread_id = ? AND user_hash = ?", (thread_id, user))
        return None
    return asked
