"""What a question searches: the podcasts and speaker the user picked, else the channel's scope.

A channel's scope is set with /scope and applies to its threads (and a forum's posts) too. An explicit `podcast`
option overrides it ("by default" means just that); episodes and speakers are suggested from what applies.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.render import truncate
from bot.replies import Refusal, suggests_nothing_on_error
from index.search import Filters
from index.store import EpisodeRow

if TYPE_CHECKING:
    from bot.client import PodcastBot
    from bot.settings import Settings

Interaction = discord.Interaction["PodcastBot"]


def scope_channel_id(channel: Any) -> int | None:
    """The channel whose settings apply: a thread's parent (a forum post's forum), else the channel itself."""
    if channel is None:
        return None
    if isinstance(channel, discord.Thread | app_commands.AppCommandThread):
        return channel.parent_id
    return channel.id


def channel_allowed(settings: Settings, channel: Any) -> bool:
    """ALLOWED_CHANNEL_IDS, with threads allowed where their channel is."""
    allowed = settings.allowed_channel_ids
    return not allowed or getattr(channel, "id", None) in allowed or scope_channel_id(channel) in allowed


def channel_scope(bot: PodcastBot, channel: Any) -> tuple[str, ...]:
    """The podcasts `channel` searches by default; () for all of them."""
    key = scope_channel_id(channel)
    return bot.server.scope(key) if key is not None else ()


def podcast_titles(bot: PodcastBot) -> list[str]:
    return bot.live.searcher.store.podcasts


def podcast_ref(title: str) -> str:
    """An autocomplete value for a podcast; Discord caps choice values at 100 characters."""
    return title if len(title) <= 100 else "sha1:" + hashlib.sha1(title.encode()).hexdigest()


def find_podcast(bot: PodcastBot, ref: str) -> str:
    """The podcast an option names (a choice or a typed title); Refusal when the index has none by that name."""
    for title in podcast_titles(bot):
        if podcast_ref(title) == ref or title.casefold() == ref.strip().casefold():
            return title
    raise Refusal("I don't know that podcast; pick one from the list.")


def find_speaker(bot: PodcastBot, name: str, podcasts: tuple[str, ...]) -> str:
    """The speaker an option names, as the transcripts spell it; Refusal when nobody of that name speaks."""
    wanted = " ".join(name.split()).casefold()
    for row in bot.live.searcher.store.speakers():
        if row.name.casefold() == wanted and (not podcasts or row.podcast in podcasts):
            return row.name
    raise Refusal("I don't know that speaker; pick one from the list.")


def episode_ref(key: str) -> str:
    """An autocomplete value for an episode id; Discord caps choice values at 100 characters."""
    return key if len(key) <= 100 else "sha1:" + hashlib.sha1(key.encode()).hexdigest()


def find_episode(bot: PodcastBot, ref: str, podcasts: tuple[str, ...] = ()) -> EpisodeRow | None:
    """The episode a choice value or a typed title names, among `podcasts` (all when empty)."""
    episodes = [e for e in bot.live.searcher.store.episodes if not podcasts or e.podcast in podcasts]
    return next((e for e in episodes if episode_ref(e.key) == ref), None) or next(
        (e for e in episodes if e.title.casefold() == ref.casefold()), None
    )


def episode_key(bot: PodcastBot, ref: str | None, podcasts: tuple[str, ...] = ()) -> str | None:
    """The id of the episode an `episode:` option names (None: every episode)."""
    if not ref:
        return None
    row = find_episode(bot, ref, podcasts)
    if row is None:
        raise Refusal("I don't know that episode; pick one from the list.")
    return row.key


def podcasts_for(bot: PodcastBot, channel: Any, podcast: str | None) -> tuple[str, ...]:
    """The podcasts a question searches: the one picked, else the channel's scope."""
    return (find_podcast(bot, podcast),) if podcast else channel_scope(bot, channel)


def question_filters(
    bot: PodcastBot,
    channel: Any,
    *,
    podcast: str | None = None,
    episode: str | None = None,
    speaker: str | None = None,
) -> Filters | None:
    """Filters for a question asked in `channel` with these options (as typed or picked); Refusal for a name
    the index does not know."""
    podcasts = podcasts_for(bot, channel, podcast)
    named = find_speaker(bot, speaker, podcasts) if speaker else None
    return Filters(podcasts=podcasts, episode=episode_key(bot, episode, podcasts), speaker=named) or None


def typed_podcasts(interaction: Interaction) -> tuple[str, ...]:
    """While an option is being typed: the podcasts the other options and the channel point at."""
    bot = interaction.client
    typed = getattr(interaction.namespace, "podcast", None)
    if isinstance(typed, str) and typed:
        try:
            return (find_podcast(bot, typed),)
        except Refusal:
            pass
    return channel_scope(bot, interaction.channel)


@suggests_nothing_on_error
async def episode_choices(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Up to 25 episodes of the podcasts that apply whose title contains what was typed, newest-numbered first."""
    podcasts = typed_podcasts(interaction)
    words = current.casefold().split()
    episodes = [
        e
        for e in interaction.client.live.searcher.store.episodes
        if (not podcasts or e.podcast in podcasts) and all(w in e.title.casefold() for w in words)
    ]
    episodes.sort(key=lambda e: (e.number is None, -(e.number or 0), e.title))
    return [app_commands.Choice(name=truncate(e.title, 100), value=episode_ref(e.key)) for e in episodes[:25]]


@suggests_nothing_on_error
async def podcast_choices(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Podcasts whose title contains what was typed; this channel's own first."""
    bot = interaction.client
    words = current.casefold().split()
    scoped = channel_scope(bot, interaction.channel)
    titles = [t for t in podcast_titles(bot) if all(w in t.casefold() for w in words)]
    titles.sort(key=lambda t: t not in scoped)
    return [app_commands.Choice(name=truncate(t, 100), value=podcast_ref(t)) for t in titles[:25]]


@suggests_nothing_on_error
async def speaker_choices(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Speakers of the podcasts that apply whose name contains what was typed, who speaks most first."""
    podcasts = typed_podcasts(interaction)
    words = current.casefold().split()
    names: list[str] = []
    for row in interaction.client.live.searcher.store.speakers():
        if podcasts and row.podcast not in podcasts:
            continue
        if row.name not in names and len(row.name) <= 100 and all(w in row.name.casefold() for w in words):
            names.append(row.name)
    return [app_commands.Choice(name=name, value=name) for name in names[:25]]
