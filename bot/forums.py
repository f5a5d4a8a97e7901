"""Forum auto-answer: each new post in a forum set up with /setup forum gets one answer in its thread, with the
best moments, or nothing at all when nothing clears the score floor (no "no match" noise).

Never a reply to a reply, never a second answer (a post is claimed in the bot's SQLite before it is searched,
so a replayed event finds it taken), never after staff have replied (Manage Messages or Manage Threads in the
forum, or the hand-off role) and never in a post carrying the forum's skip tag, which also keeps mentions and
follow-ups out of it. Reading a post needs the Message Content intent: without it nothing is sent, and the log
says so once per process rather than once per post.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import discord

from bot.guild_settings import ForumSetup
from bot.message_replies import question_text, reply_with_answer
from bot.scopes import question_filters

if TYPE_CHECKING:
    from bot.client import PodcastBot

log = logging.getLogger("bot")


def post_question(title: str, body: str, limit: int) -> str:
    """A forum post as one question: its title, then its text, within the question length limit."""
    title, body = question_text(title), question_text(body)
    text = f"{title}{' ' if title.endswith(('?', '.', '!')) else '. '}{body}" if title and body else title or body
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0]
    return text


class ForumAnswers:
    """The forum mode of one bot; remembers whether it has warned about the missing intent."""

    def __init__(self, bot: PodcastBot) -> None:
        self.bot = bot
        self._warned = False

    async def handle(self, message: discord.Message) -> bool:
        """True when the message is the forum's to deal with (a post's opening message, or anything in a post
        left to people), so nothing else answers it."""
        thread = message.channel
        if not isinstance(thread, discord.Thread):
            return False
        forum = self.bot.server.forum(thread.parent_id)
        if forum is None:
            return False
        if self._left_to_people(thread, forum):  # its tags come with the thread, readable without the intent
            return True
        if not self.bot.settings.message_content_intent:
            self._warn_no_intent(forum)
            return False  # the post's text is unreadable; one that mentions the bot is still a mention to answer
        if message.id != thread.id:  # a reply, not the post
            if self._is_staff(message, thread):
                self._set_state(thread.id, "staff")
            return False
        await self._answer(message, thread, forum)
        return True

    def _warn_no_intent(self, forum: ForumSetup) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "forum <#%s> is set up to answer new posts, but MESSAGE_CONTENT_INTENT is off: posts are not "
                "answered (enable the Message Content intent in the Developer Portal and set "
                "MESSAGE_CONTENT_INTENT=true); this is logged once",
                forum.channel_id,
            )

    async def _answer(self, message: discord.Message, thread: discord.Thread, forum: ForumSetup) -> None:
        bot = self.bot
        if not bot.store.write(
            "INSERT OR IGNORE INTO forum_posts (thread_id, state, updated_at) VALUES (?, 'pending', ?)",
            (thread.id, time.time()),
        ):
            return  # answered, or staff got there first
        question = post_question(thread.name, message.content, bot.settings.max_question_chars)
        if not question or bot.limiter.hit(message.author.id) is not None:
            self._set_state(thread.id, "skipped")
            return
        filters = question_filters(bot, thread)
        page, question_id = await bot.answer(
            question, filters, bot.settings.results_per_page, user_id=message.author.id, guild_id=thread.guild.id
        )
        # While it searched, staff may have replied or tagged the post: only a post still pending is answered.
        if not page.hits or self._left_to_people(thread, forum) or not self._set_state(thread.id, "answered"):
            self._set_state(thread.id, "skipped")
            return
        await reply_with_answer(bot, message, question, page, question_id)

    def _set_state(self, thread_id: int, state: str) -> bool:
        """Move a pending post to `state` (a post staff reply to before the bot has seen it starts there);
        False when it was not pending."""
        return bool(
            self.bot.store.write(
                "INSERT INTO forum_posts (thread_id, state, updated_at) VALUES (?, ?, ?) ON CONFLICT (thread_id)"
                " DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at WHERE state = 'pending'",
                (thread_id, state, time.time()),
            )
        )

    def _left_to_people(self, thread: discord.Thread, forum: ForumSetup) -> bool:
        return forum.skip_tag_id is not None and any(tag.id == forum.skip_tag_id for tag in thread.applied_tags)

    def _is_staff(self, message: discord.Message, thread: discord.Thread) -> bool:
        author = message.author
        if author.id == thread.owner_id or not isinstance(author, discord.Member):
            return False
        role = self.bot.server.guild(thread.guild.id).handoff_role_id
        if role is not None and author.get_role(role) is not None:
            return True
        allowed = thread.permissions_for(author)
        return allowed.manage_messages or allowed.manage_threads
