"""Messages the bot sees (MESSAGE_CREATE): a new forum post, the asker's next question in a follow-up thread, or
"@bot question". At most one of them answers a message (bot/message_replies.py says how)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.followups import open_followup, open_question
from bot.mentions import handle_mention
from bot.message_replies import accepted_question, question_text, reply_with_answer
from bot.scopes import channel_allowed

if TYPE_CHECKING:
    from bot.client import PodcastBot

log = logging.getLogger("bot")
USER_MESSAGES = (discord.MessageType.default, discord.MessageType.reply)


async def handle_message(bot: PodcastBot, message: discord.Message) -> None:
    """Route one message; an error is logged, never raised into discord.py's event loop."""
    if (
        message.guild is None
        or message.author.bot
        or message.webhook_id is not None
        or message.type not in USER_MESSAGES
        or not channel_allowed(bot.settings, message.channel)
    ):
        return
    try:
        if await bot.forums.handle(message):
            return
        if await handle_followup(bot, message):
            return
        await handle_mention(bot, message)
    except discord.HTTPException as exc:
        log.warning("could not answer message %s in channel %s: %s", message.id, message.channel.id, exc)
    except Exception:
        log.exception("error while answering message %s in channel %s", message.id, message.channel.id)


async def handle_followup(bot: PodcastBot, message: discord.Message) -> bool:
    """Answer the asker's message in their open follow-up thread, in the first question's scope; False when it
    is not one (bot/followups.py)."""
    if not isinstance(message.channel, discord.Thread) or not bot.settings.message_content_intent:
        return False
    if not bot.settings.store_questions:  # following up writes who asked and when: logging is off
        return False
    assert message.guild is not None
    idle = bot.server.guild(message.guild.id).followup_idle_minutes
    asked = open_question(bot.store, message.channel.id, message.author.id, idle)
    if asked is None:
        return False
    text = question_text(message.content)
    if not text:  # a picture, a sticker: nothing to search for
        return True
    if (question := await accepted_question(bot, message, text)) is None:
        return True
    open_followup(bot.store, message.channel.id, message.author.id, asked.id)  # quiet is counted from here
    page, question_id = await bot.answer(
        question, asked.filters, bot.settings.results_per_page, user_id=message.author.id, guild_id=message.guild.id
    )
    await reply_with_answer(bot, message, question, page, question_id)
    return True
