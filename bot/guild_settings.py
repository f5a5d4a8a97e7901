"""Per-server settings, kept in the bot's SQLite and changed only by commands (bot/setup.py), never by `.env`.

A row per guild (mentions on or off, the hand-off role, how long a follow-up thread stays open), a scope per
channel (the podcasts it searches by default; its threads follow it) and a row per forum that answers new posts.
A guild without a row has the defaults, so a fresh server works at once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass

from bot.store import BotStore

DEFAULT_IDLE_MINUTES = 30


@dataclass(frozen=True, slots=True)
class GuildSettings:
    mentions: bool = True  # answer "@bot question"
    handoff_role_id: int | None = None  # pinged by "Not helpful — ask a human"; None: no hand-off
    followup_idle_minutes: int = DEFAULT_IDLE_MINUTES  # a follow-up thread stops answering after this much quiet


@dataclass(frozen=True, slots=True)
class ForumSetup:
    channel_id: int
    skip_tag_id: int | None  # a post carrying this tag is left to people


class ServerSettings:
    """Reads and writes the per-server tables of a BotStore."""

    def __init__(self, store: BotStore) -> None:
        self._store = store

    def guild(self, guild_id: int) -> GuildSettings:
        rows = self._store.query(
            "SELECT mentions, handoff_role_id, followup_idle_minutes FROM guild_settings WHERE guild_id = ?",
            (guild_id,),
        )
        if not rows:
            return GuildSettings()
        mentions, role, idle = rows[0]
        return GuildSettings(bool(mentions), role, idle)

    def update(self, guild_id: int, **changes: object) -> GuildSettings:
        """Change some of a guild's settings (GuildSettings field names); returns them all."""
        updated = dataclasses.replace(self.guild(guild_id), **changes)
        self._store.write(
            "INSERT OR REPLACE INTO guild_settings (guild_id, mentions, handoff_role_id, followup_idle_minutes)"
            " VALUES (?, ?, ?, ?)",
            (guild_id, int(updated.mentions), updated.handoff_role_id, updated.followup_idle_minutes),
        )
        return updated

    def scope(self, channel_id: int) -> tuple[str, ...]:
        """The podcasts a channel searches by default; () for every podcast."""
        rows = self._store.query("SELECT podcasts FROM channel_scopes WHERE channel_id = ?", (channel_id,))
        return tuple(json.loads(rows[0][0])) if rows else ()

    def set_scope(self, guild_id: int, channel_id: int, podcasts: Sequence[str]) -> None:
        """Limit a channel to `podcasts`; an empty list lifts the limit."""
        if podcasts:
            self._store.write(
                "INSERT OR REPLACE INTO channel_scopes (channel_id, guild_id, podcasts) VALUES (?, ?, ?)",
                (channel_id, guild_id, json.dumps(list(podcasts))),
            )
        else:
            self._store.write("DELETE FROM channel_scopes WHERE channel_id = ?", (channel_id,))

    def scopes(self, guild_id: int) -> dict[int, tuple[str, ...]]:
        rows = self._store.query(
            "SELECT channel_id, podcasts FROM channel_scopes WHERE guild_id = ? ORDER BY channel_id", (guild_id,)
        )
        return {channel: tuple(json.loads(podcasts)) for channel, podcasts in rows}

    def forum(self, channel_id: int) -> ForumSetup | None:
        rows = self._store.query(
            "SELECT channel_id, skip_tag_id FROM forum_channels WHERE channel_id = ?", (channel_id,)
        )
        return ForumSetup(*rows[0]) if rows else None

    def set_forum(self, guild_id: int, channel_id: int, *, enabled: bool, skip_tag_id: int | None = None) -> None:
        if enabled:
            self._store.write(
                "INSERT OR REPLACE INTO forum_channels (channel_id, guild_id, skip_tag_id) VALUES (?, ?, ?)",
                (channel_id, guild_id, skip_tag_id),
            )
        else:
            self._store.write("DELETE FROM forum_channels WHERE channel_id = ?", (channel_id,))

    def forums(self, guild_id: int) -> list[ForumSetup]:
        rows = self._store.query(
            "SELECT channel_id, skip_tag_id FROM forum_channels WHERE guild_id = ? ORDER BY channel_id", (guild_id,)
        )
        return [ForumSetup(*row) for row in rows]
