"""Watches: a server asks to hear when a newly indexed episode says a phrase; the bot posts once per episode.

Whenever the bot starts serving a build (at start-up, and after the poller or /reload swaps one in), each watch
compares the build's episodes with the ones it has seen: an episode with a new key, or whose fingerprint changed,
is searched for the exact phrase (index.phrases) and posted about when it says it. What a watch has seen is saved
in the bot's SQLite (episode key and fingerprint), so neither a restart nor a re-published identical build posts
again; a new watch starts out having seen every episode indexed at that moment.

The fingerprint is SHA-256 of the episode's words (its sentences' text, whitespace folded): it changes when the
transcript says something else, not when the episode is re-timed, re-chunked, retitled or moved to another URL.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.render import COLOUR, CONTENT_LIMIT, DESCRIPTION_LIMIT, Rendered, markdown_url, safe, truncate
from bot.replies import NO_PINGS
from bot.scopes import channel_allowed
from bot.store import BotStore
from index.links import format_clock
from index.phrases import PhraseReport
from index.search import Searcher
from index.store import EpisodeRow, Store
from index.wording import plural

if TYPE_CHECKING:
    from bot.client import PodcastBot

log = logging.getLogger(__name__)
MAX_WATCHES = 25  # per server
MAX_POSTS = 10  # per watch and build; more new episodes than that are listed in one more message
MOMENTS = 5  # first moments linked in a post


@dataclass(frozen=True, slots=True)
class Watch:
    id: int
    guild_id: int
    channel_id: int
    phrase: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Sighting:
    """A new or updated episode that says a watch's phrase: how often, and its first moments."""

    watch: Watch
    episode: EpisodeRow
    report: PhraseReport  # for this episode only
    fingerprint: str
    updated: bool  # the watch had seen an earlier version of this episode


def episode_fingerprints(store: Store) -> dict[str, str]:
    """Episode key to the SHA-256 of its words, for every episode of a build."""
    fingerprints = {}
    for episode in store.episodes:
        digest = hashlib.sha256()
        for (text,) in store.query("SELECT text FROM sentences WHERE episode_id = ? ORDER BY id", (episode.id,)):
            digest.update(" ".join(text.split()).encode())
            digest.update(b"\n")
        fingerprints[episode.key] = digest.hexdigest()
    return fingerprints


class WatchStore:
    """The watches and what each has seen, in the bot's SQLite (tables from bot.store.MIGRATIONS)."""

    def __init__(self, store: BotStore) -> None:
        self._store = store

    def add(self, guild_id: int, channel_id: int, phrase: str, seen: Mapping[str, str]) -> Watch:
        """A new watch that has seen the episodes in `seen` (key to fingerprint)."""
        now = time.time()
        with self._store.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO watches (guild_id, channel_id, phrase, created_at) VALUES (?, ?, ?, ?)",
                (guild_id, channel_id, phrase, now),
            )
            watch = Watch(int(cursor.lastrowid), guild_id, channel_id, phrase, now)
            conn.executemany(
                "INSERT INTO watch_seen (watch_id, episode_key, fingerprint) VALUES (?, ?, ?)",
                [(watch.id, key, fingerprint) for key, fingerprint in seen.items()],
            )
        return watch

    def remove(self, guild_id: int, watch_id: int) -> Watch | None:
        watch = next((w for w in self.of_guild(guild_id) if w.id == watch_id), None)
        if watch is not None:
            with self._store.transaction() as conn:
                conn.execute("DELETE FROM watch_seen WHERE watch_id = ?", (watch_id,))
                conn.execute("DELETE FROM watches WHERE id = ?", (watch_id,))
        return watch

    def of_guild(self, guild_id: int) -> list[Watch]:
        rows = self._store.query("SELECT * FROM watches WHERE guild_id = ? ORDER BY id", (guild_id,))
        return [Watch(**dict(r)) for r in rows]

    def all(self) -> list[Watch]:
        return [Watch(**dict(r)) for r in self._store.query("SELECT * FROM watches ORDER BY id")]

    def seen(self, watch_id: int) -> dict[str, str]:
        rows = self._store.query("SELECT episode_key, fingerprint FROM watch_seen WHERE watch_id = ?", (watch_id,))
        return {key: fingerprint for key, fingerprint in rows}

    def mark_seen(self, watch_id: int, episodes: Mapping[str, str]) -> None:
        with self._store.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO watch_seen (watch_id, episode_key, fingerprint) VALUES (?, ?, ?)",
                [(watch_id, key, fingerprint) for key, fingerprint in episodes.items()],
            )


def sightings(
    watch: Watch, searcher: Searcher, fingerprints: Mapping[str, str], seen: Mapping[str, str]
) -> tuple[list[Sighting], dict[str, str]]:
    """The new or updated episodes that say the phrase, and the other new or updated ones (key to fingerprint),
    which the watch has now seen too."""
    changed = {key: fp for key, fp in fingerprints.items() if seen.get(key) != fp}
    if not changed:
        return [], {}
    counts = {episode.key: n for episode, n in searcher.find_phrase(watch.phrase, limit=0).per_episode}
    found = []
    for key, fingerprint in changed.items():
        if not counts.get(key):
            continue
        report = searcher.find_phrase(watch.phrase, episode=key, limit=MOMENTS)
        found.append(Sighting(watch, report.per_episode[0][0], report, fingerprint, updated=key in seen))
    return found, {key: fp for key, fp in changed.items() if not counts.get(key)}


def render_sighting(sighting: Sighting) -> Rendered:
    """The post: which episode says the phrase, how often, and links to its first moments."""
    episode, report = sighting.episode, sighting.report
    phrase = truncate(safe(report.phrase), 100)
    kind = "An updated episode" if sighting.updated else "A new episode"
    content = truncate(
        f"🔔 {kind} mentions “{phrase}” **{plural(report.total, 'time')}**: **{safe(episode.title)}**", CONTENT_LIMIT
    )
    lines = []
    for occurrence in report.occurrences[:MOMENTS]:
        when = format_clock(occurrence.start)
        stamp = f"[▶ {when}]({markdown_url(occurrence.url)})" if occurrence.url else f"▶ {when}"
        speaker = f" · {truncate(safe(occurrence.speaker), 40)}" if occurrence.speaker else ""
        lines.append(f"{stamp}{speaker}: {truncate(safe(occurrence.sentence), 200)}")
    embed = discord.Embed(
        title=truncate(episode.title, 256),
        url=episode.link or None,
        description=truncate("\n".join(lines), DESCRIPTION_LIMIT),
        colour=COLOUR,
    )
    embed.set_footer(text=truncate(f"{episode.podcast} · watch #{sighting.watch.id} · /watch remove stops it", 2048))
    return Rendered(content, [embed])


def render_more(watch: Watch, rest: Sequence[Sighting]) -> Rendered:
    """One message for the new episodes beyond MAX_POSTS, so a big first build does not flood the channel."""
    lines = [f"{n.report.total:,}× {truncate(safe(n.episode.title), 80)}" for n in rest[:20]]
    if len(rest) > 20:
        lines.append(f"… and {plural(len(rest) - 20, 'more episode')}")
    phrase = truncate(safe(watch.phrase), 100)
    header = f"🔔 {plural(len(rest), 'more new episode')} mention “{phrase}” (`/find` lists every moment):"
    return Rendered(truncate(header + "\n" + "\n".join(lines), CONTENT_LIMIT))


class WatchNotifier:
    """Runs the watches against the build being served, one check at a time."""

    def __init__(self, store: BotStore) -> None:
        self.watches = WatchStore(store)
        self._lock = asyncio.Lock()
        self._cached: tuple[str, dict[str, str]] | None = None  # (build id, its fingerprints)
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, bot: PodcastBot) -> None:
        """Check the watches in the background (a new build is being served, or the bot has started)."""
        task = asyncio.create_task(self.check(bot), name="watch-check")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def settled(self) -> None:
        """Wait until every check scheduled so far has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def add(self, searcher: Searcher, guild_id: int, channel_id: int, phrase: str) -> Watch:
        """A new watch, having seen every episode of the build being served."""
        async with self._lock:  # a check running now must not see the watch before what it has seen
            seen = await asyncio.to_thread(self.fingerprints, searcher)
            return self.watches.add(guild_id, channel_id, phrase, seen)

    async def check(self, bot: PodcastBot) -> None:
        """Post about every new or updated episode of the served build that says a watched phrase."""
        async with self._lock:
            watches = self.watches.all()
            if not watches:
                return
            searcher = bot.live.searcher
            try:
                fingerprints = await asyncio.to_thread(self.fingerprints, searcher)
            except Exception:
                log.exception("watches: could not read build %s", searcher.build_id)
                return
            for watch in watches:
                try:
                    await self._check_one(bot, watch, searcher, fingerprints)
                except Exception:
                    log.exception("watch %s (%r) failed on build %s", watch.id, watch.phrase, searcher.build_id)

    def fingerprints(self, searcher: Searcher) -> dict[str, str]:
        if self._cached is None or self._cached[0] != searcher.build_id:
            self._cached = (searcher.build_id, episode_fingerprints(searcher.store))
        return self._cached[1]

    async def _check_one(
        self, bot: PodcastBot, watch: Watch, searcher: Searcher, fingerprints: Mapping[str, str]
    ) -> None:
        seen = self.watches.seen(watch.id)
        found, quiet = await asyncio.to_thread(sightings, watch, searcher, fingerprints, seen)
        if quiet:
            self.watches.mark_seen(watch.id, quiet)
        for sighting in found[:MAX_POSTS]:
            if await self._post(bot, watch, render_sighting(sighting)):
                self.watches.mark_seen(watch.id, {sighting.episode.key: sighting.fingerprint})
        rest = found[MAX_POSTS:]
        if rest and await self._post(bot, watch, render_more(watch, rest)):
            self.watches.mark_seen(watch.id, {s.episode.key: s.fingerprint for s in rest})

    async def _post(self, bot: PodcastBot, watch: Watch, rendered: Rendered) -> bool:
        """Send; True when the episode counts as told: sent, or the channel is gone or closed to the bot (that
        will not heal by retrying; so is a channel outside ALLOWED_CHANNEL_IDS). Other failures are retried at the
        next build or restart."""
        channel = bot.get_partial_messageable(watch.channel_id, guild_id=watch.guild_id)
        if not channel_allowed(bot.settings, channel):
            log.warning("watch %s: channel %s is not in ALLOWED_CHANNEL_IDS; not posted", watch.id, watch.channel_id)
            return True
        try:
            await channel.send(rendered.content, embeds=rendered.embeds, allowed_mentions=NO_PINGS)
        except (discord.Forbidden, discord.NotFound) as exc:
            log.warning("watch %s cannot post in channel %s: %s", watch.id, watch.channel_id, exc)
        except discord.HTTPException as exc:
            log.warning("watch %s: posting failed, will retry with the next build: %s", watch.id, exc)
            return False
        return True
