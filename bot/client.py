"""The Discord client: wires settings, the live index and the bot's store to the commands.

Everything slow (embedding, FAISS, SQLite) runs in worker threads; the event loop only awaits, so the gateway
heartbeat is never late and every interaction is acknowledged within Discord's three seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import discord
import numpy as np
from discord import app_commands

from bot import commands
from bot.components import (
    CommentButton,
    EpisodeMoreButton,
    HandoffButton,
    MoreButton,
    VoteButton,
    answer_view,
    handle_comment,
)
from bot.followups import FollowUpButton
from bot.forums import ForumAnswers
from bot.guild_settings import ServerSettings
from bot.limits import RateLimiter
from bot.messages import handle_message
from bot.render import render_answer, render_error
from bot.replies import NO_PINGS, SOMETHING_WENT_WRONG, error_message
from bot.scopes import channel_allowed
from bot.settings import Settings
from bot.store import BotStore
from bot.watches import WatchNotifier
from index.live import LiveIndex
from index.search import Filters, SearchPage
from index.wording import plural

log = logging.getLogger("bot")
FORGET_EVERY_SECONDS = 6 * 3600  # the retention period is in days: a few hours late is nothing
# Interaction tokens (valid 15 minutes, enough to post as the bot) appear in discord.py's log lines: in webhook and
# callback URLs (a rate-limit WARNING names the URL) and in the gateway events it logs at DEBUG.
_INTERACTION_TOKENS = (
    re.compile(r"(/(?:webhooks|interactions)/\d+/)[^/?#\s'\"]+"),
    re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]+"""),
)
REDACTED = "[redacted]"


def redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    for pattern in _INTERACTION_TOKENS:
        text = pattern.sub(rf"\g<1>{REDACTED}", text)
    return text


def install_redaction(*secrets: str) -> Callable[[], None]:
    """Redact `secrets` (the bot token) and interaction tokens from every log record created from now on,
    whichever logger creates it and whichever handler writes it; returns a function that uninstalls it."""
    previous = logging.getLogRecordFactory()
    secrets = tuple(s for s in secrets if s)

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging reports it when the record is formatted
            return record
        clean = redact(message, secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            clean = redact(text, secrets)
            if clean != text:
                record.exc_text = clean
        return record

    logging.setLogRecordFactory(factory)
    return lambda: logging.setLogRecordFactory(previous)


class Tree(app_commands.CommandTree["PodcastBot"]):
    """Refuses channels the bot is not allowed in, and turns every error into a friendly reply."""

    async def interaction_check(self, interaction: discord.Interaction[PodcastBot], /) -> bool:
        if interaction.type is discord.InteractionType.autocomplete:
            return True
        return not await interaction.client.refuse_outside_channels(interaction)

    async def on_error(
        self, interaction: discord.Interaction[PodcastBot], error: app_commands.AppCommandError, /
    ) -> None:
        await interaction.client.report_error(interaction, error)


class PodcastBot(discord.AutoShardedClient):
    """The bot, one class for one connection or many. With SHARD_COUNT unset it runs one shard: discord.py's
    AutoShardedClient given a shard count of 1 opens one gateway connection and IDENTIFYs as shard [0, 1],
    which Discord treats exactly as an unsharded client."""

    def __init__(self, settings: Settings, live: LiveIndex, store: BotStore) -> None:
        # Messages (for mentions, forum posts and follow-ups) need GUILD_MESSAGES; their text needs the privileged
        # Message Content intent except in messages that mention the bot, so that one is asked for only on request.
        intents = discord.Intents(guilds=True, guild_messages=True, message_content=settings.message_content_intent)
        super().__init__(intents=intents, allowed_mentions=NO_PINGS, shard_count=settings.shard_count or 1)
        self.settings = settings
        self.live = live
        self.store = store
        self.server = ServerSettings(store)
        self.forums = ForumAnswers(self)
        self.tree = Tree(self)
        self.limiter = RateLimiter(settings.cooldown_questions, settings.cooldown_seconds)
        self._watcher: asyncio.Task[None] | None = None
        self._forgetter: asyncio.Task[None] | None = None
        self.watches = WatchNotifier(store)
        commands.register(self.tree)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(MoreButton, EpisodeMoreButton, VoteButton, FollowUpButton, CommentButton, HandoffButton)
        await self.sync_commands()
        self.watches.schedule(self)  # episodes published while the bot was not running
        if self.settings.index_poll_seconds > 0:
            self._watcher = asyncio.create_task(self._watch_index(), name="index-watcher")
        self._forgetter = asyncio.create_task(self._forget_old(), name="retention")

    async def close(self) -> None:
        for task in (self._watcher, self._forgetter):
            if task is not None:
                task.cancel()
        self.watches.cancel()
        await super().close()

    async def on_interaction(self, interaction: discord.Interaction[PodcastBot]) -> None:
        await handle_comment(interaction)

    async def on_message(self, message: discord.Message) -> None:
        await handle_message(self, message)

    async def sync_commands(self, *, force: bool = False) -> None:
        """Sync to the development guilds (instant) or globally, only when the commands changed."""
        payload = json.dumps([c.to_dict(self.tree) for c in self.tree.get_commands()], sort_keys=True)
        targets = [discord.Object(g) for g in self.settings.dev_guild_ids] or [None]
        for guild in targets:
            key = f"synced:{guild.id if guild else 'global'}"
            digest = hashlib.sha256(payload.encode()).hexdigest()
            if not force and self.store.get_meta(key) == digest:
                continue
            if guild is not None:
                self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
            self.store.set_meta(key, digest)
            synced = plural(len(self.tree.get_commands()), "command")
            log.info("synced %s to %s", synced, guild.id if guild else "all guilds")

    async def search(
        self,
        question: str,
        *,
        k: int,
        offset: int = 0,
        filters: Filters | None = None,
        query: np.ndarray | None = None,
        exclude: Sequence[tuple[str, float, float]] = (),
    ) -> SearchPage:
        """Search in a worker thread, logging one structured line (no token, no text beyond the question).
        `query` is the question's vector when it is known already; `exclude` moments shown already."""
        began = time.perf_counter()
        searcher = self.live.searcher
        page = await asyncio.to_thread(
            searcher.search_page,
            question,
            k=k,
            offset=offset,
            filters=filters or None,
            min_score=self.settings.score_floor,
            query=query,
            exclude=exclude,
        )
        log.info(
            "question %s",
            json.dumps(
                {
                    "latency_ms": round((time.perf_counter() - began) * 1000, 1),
                    "results": len(page.hits),
                    "top_score": round(max(h.score for h in page.hits), 4) if page.hits else None,
                    "offset": offset,
                    "build": searcher.build_id,
                    **({"question": question} if self.settings.store_questions else {}),  # logging off: no text
                },
                ensure_ascii=False,
            ),
        )
        return page

    async def answer(
        self,
        question: str,
        filters: Filters | None,
        per_page: int,
        *,
        user_id: int,
        guild_id: int | None,
        offset: int = 0,
        question_id: int | None = None,
        follows: int | None = None,
    ) -> tuple[SearchPage, int | None]:
        """One page of answers, and the id of the question they answer (None when questions are not stored).

        Every way of asking (/ask, the message menu, mentions, forum posts, follow-ups) comes here. A new question
        is recorded, answered or not, with its scope, vector and scores for the buttons and /insights
        (bot/insights.py); a question asked before (the More button) reuses its stored vector, and one that
        narrows an earlier question (`follows`: More from <episode>) is recorded as that and, on every page, leaves
        out the moments that question showed. With STORE_QUESTIONS off nothing is recorded.
        """
        searcher = self.live.searcher
        model = searcher.embedder.model_id
        vector = self.store.question_vector(question_id, model) if question_id is not None else None
        if vector is None or len(vector) != searcher.embedder.dimension:
            vector = await asyncio.to_thread(searcher.embed_question, question)
        shown = self.store.shown_moments(follows) if follows is not None else []  # its first answers: not again
        result = await self.search(question, k=per_page, offset=offset, filters=filters, query=vector, exclude=shown)
        if not self.settings.store_questions:
            return result, None
        if question_id is None:
            scope = filters or Filters()
            question_id = self.store.record_question(
                question,
                scope.episode,
                per_page,
                user_id,
                podcasts=scope.podcasts,
                speaker=scope.speaker,
                guild_id=guild_id,
                answered=bool(result.hits),
                top_score=result.top_score,
                vector=vector,
                vector_model=model,
                follows=follows,
            )
        if result.hits:
            self.store.record_shown(question_id, offset, result.hits)
        return result, question_id

    async def send_answer(
        self,
        interaction: discord.Interaction[PodcastBot],
        question: str,
        filters: Filters | None,
        per_page: int,
        offset: int,
        question_id: int | None = None,
        follows: int | None = None,
    ) -> None:
        """Search and send one page of answers as the follow-up of a deferred interaction; answers come without
        buttons when the question is not stored (the buttons need it)."""
        result, question_id = await self.answer(
            question,
            filters,
            per_page,
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            offset=offset,
            question_id=question_id,
            follows=follows,
        )
        # A narrower search whose every match was among the answers it narrows: that is everything, not no match.
        narrowed_to_nothing = follows is not None and not result.hits
        rendered = render_answer(question, result.hits, first_rank=offset + 1 + narrowed_to_nothing)
        if not result.hits or question_id is None:
            await interaction.followup.send(rendered.content, embeds=rendered.embeds, allowed_mentions=NO_PINGS)
            return
        # A thread can start from a public answer in a server: offer follow-ups there.
        follow_up = interaction.guild_id is not None and not self.settings.ephemeral_answers
        await interaction.followup.send(
            rendered.content,
            embeds=rendered.embeds,
            view=answer_view(
                question_id,
                offset,
                has_more=result.has_more,
                follow_up=follow_up,
                episode=_other_episode(result, filters),
            ),
            allowed_mentions=NO_PINGS,
        )

    async def refuse_outside_channels(self, interaction: discord.Interaction[PodcastBot]) -> bool:
        """ALLOWED_CHANNEL_IDS, for commands (Tree.interaction_check) and for the buttons of answers posted before
        the list was narrowed (reports_errors); True when refused."""
        if channel_allowed(self.settings, interaction.channel):
            return False
        channels = ", ".join(f"<#{c}>" for c in self.settings.allowed_channel_ids[:5])
        await interaction.response.send_message(
            f"I only answer in {channels}.", ephemeral=True, allowed_mentions=NO_PINGS
        )
        return True

    async def refuse_if_limited(self, interaction: discord.Interaction[PodcastBot]) -> bool:
        """Answer a user over their cooldown with a friendly ephemeral message; True when refused."""
        wait = self.limiter.hit(interaction.user.id)
        if wait is None:
            return False
        await interaction.response.send_message(
            f"You're asking quickly! Try again in {max(1, round(wait))} s.", ephemeral=True, allowed_mentions=NO_PINGS
        )
        return True

    async def report_error(self, interaction: discord.Interaction[PodcastBot], error: Exception) -> None:
        """Tell the user (ephemerally) and log the traceback; never leave the interaction unanswered."""
        message = error_message(error)
        if message is None:
            log.error(
                "error in %s",
                interaction.command.qualified_name if interaction.command else interaction.type.name,
                exc_info=getattr(error, "original", error),
            )
            message = SOMETHING_WENT_WRONG
        try:
            if interaction.response.is_done():
                await interaction.followup.send(render_error(message), ephemeral=True, allowed_mentions=NO_PINGS)
            elif interaction.type is discord.InteractionType.autocomplete:
                await interaction.response.autocomplete([])
            else:
                await interaction.response.send_message(
                    render_error(message), ephemeral=True, allowed_mentions=NO_PINGS
                )
        except discord.HTTPException:
            log.warning("could not deliver the error message for interaction %s", interaction.id)

    async def _forget_old(self) -> None:
        """The retention period, kept at start and every few hours: recording a question keeps it too, but a bot
        with STORE_QUESTIONS=false records none and must still forget what it recorded before."""
        while True:
            try:
                await asyncio.to_thread(self.store.forget_old)
            except Exception:
                log.exception("forgetting old questions failed; will retry")
            await asyncio.sleep(FORGET_EVERY_SECONDS)

    async def _watch_index(self) -> None:
        while True:
            await asyncio.sleep(self.settings.index_poll_seconds)
            try:
                if await asyncio.to_thread(self.live.refresh):
                    self.watches.schedule(self)
            except Exception:
                log.exception("index watcher failed; will retry")


def _other_episode(page: SearchPage, filters: Filters | None) -> str | None:
    """The title for a "More from …" button: the first answer's episode, unless the question searched only it."""
    return None if filters is not None and filters.episode else page.hits[0].episode_title


def run_bot(live: LiveIndex, settings: Settings) -> None:
    assert settings.discord_token is not None
    install_redaction(settings.discord_token.get_secret_value())
    store = BotStore(settings.bot_db)
    bot = PodcastBot(settings, live, store)
    try:
        bot.run(settings.discord_token.get_secret_value(), log_handler=None)
    finally:
        store.close()
