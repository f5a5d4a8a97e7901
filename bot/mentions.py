"""Mentions: "@bot what did they say about X?" is answered with a reply, in the channel's scope.

Discord delivers the content of a message that mentions the bot without the privileged Message Content intent,
so this works on every server. Only a mention written in the text counts: a reply that merely pings the bot
("thanks!") is not a question to it. A server can turn mentions off with /setup mentions.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord

from bot.message_replies import accepted_question, question_text, reply_with_answer
from bot.scopes import question_filters

if TYPE_CHECKING:
    from bot.client import PodcastBot


def mentions_bot(content: str, bot_id: int) -> bool:
    return re.search(rf"<@!?{bot_id}>", content) is not None


async def handle_mention(bot: PodcastBot, message: discord.Message) -> bool:
    """Answer a message that mentions the bot; False when it does not."""
    assert bot.user is not None and message.guild is not None
    if not mentions_bot(message.content, bot.user.id):
        return False
    if not bot.server.guild(message.guild.id).mentions:
        return True
    hint = f"Ask me a question after the mention, e.g. “@{bot.user.name} what did they recommend?”"
    if (question := await accepted_question(bot, message, question_text(message.content), hint=hint)) is None:
        return True
    filters = question_filters(bot, message.channel)
    page, question_id = await bot.answer(
        question, filters, bot.settings.results_per_page, user_id=message.author.id, guild_id=message.guild.id
    )
    await reply_with_answer(bot, message, question, page, question_id)
    return True
