"""Replying to a message as the bot answers /ask: the same embeds and buttons, the same cooldown, and a reply
that pings nobody (not even the person it replies to). Shared by mentions, forum posts and follow-ups."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord

from bot.components import answer_view
from bot.render import render_answer
from bot.replies import NO_PINGS, Refusal, clean_question
from index.search import SearchPage

if TYPE_CHECKING:
    from bot.client import PodcastBot

# Raw mentions of anyone, any role, a channel or everyone: what a question typed to the bot should not search for.
RAW_MENTIONS = re.compile(r"<@[!&]?\d+>|<#\d+>|@everyone|@here")


def question_text(content: str) -> str:
    """A message's text as a question: mentions taken out, whitespace folded."""
    return " ".join(RAW_MENTIONS.sub(" ", content).split())


async def reply(message: discord.Message, text: str) -> None:
    await message.reply(text, allowed_mentions=NO_PINGS, mention_author=False)


async def accepted_question(
    bot: PodcastBot, message: discord.Message, text: str, *, hint: str | None = None
) -> str | None:
    """`text` as a question /ask would take, or None once the user has been told why not (`hint` when there is
    no text, too long, asking too quickly): messages get /ask's limits and cooldown.

    Every message counts against the cooldown, refused or not, and a user over it is told once per wait and
    then not answered at all: unlike /ask's ephemeral notices, these replies are public, so a flood of messages
    must not become a flood of replies."""
    if (wait := bot.limiter.hit(message.author.id)) is not None:
        if bot.limiter.first_refusal(message.author.id, wait):
            await reply(message, f"You're asking quickly! Try again in {max(1, round(wait))} s.")
        return None
    if not text and hint:
        await reply(message, hint)
        return None
    try:
        return clean_question(text, bot.settings.max_question_chars)
    except Refusal as refusal:
        await reply(message, str(refusal))
        return None


async def reply_with_answer(
    bot: PodcastBot, message: discord.Message, question: str, page: SearchPage, question_id: int | None
) -> discord.Message:
    """Reply to `message` with a page of answers (or the honest "no confident match"), with the buttons when the
    question is stored (`PodcastBot.answer`)."""
    rendered = render_answer(question, page.hits)
    view: discord.ui.View = discord.utils.MISSING
    if page.hits and question_id is not None:
        view = answer_view(question_id, 0, has_more=page.has_more, follow_up=True, episode=page.hits[0].episode_title)
    return await message.reply(
        rendered.content, embeds=rendered.embeds, view=view, allowed_mentions=NO_PINGS, mention_author=False
    )
