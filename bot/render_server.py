"""Pure rendering of the per-server features: /settings, /scope and the hand-off message. No client needed.

Channels and roles are shown as `<#id>` and `<@&id>`: Discord renders them as names, and nothing here pings
(embeds never do, and every message is sent with `allowed_mentions` naming at most the hand-off role).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import discord

from bot.guild_settings import ForumSetup, GuildSettings
from bot.render import COLOUR, CONTENT_LIMIT, FIELD_LIMIT, safe, safe_question, truncate
from index.wording import plural

INTENT_OFF = "off: forum answers and follow-up threads need it (`MESSAGE_CONTENT_INTENT`)"


def podcast_list(podcasts: Sequence[str]) -> str:
    return ", ".join(safe(p) for p in podcasts) if podcasts else "every podcast"


def render_settings(
    guild: GuildSettings,
    *,
    scopes: Mapping[int, Sequence[str]],
    forums: Sequence[ForumSetup],
    tag_names: Mapping[int, str],
    message_content: bool,
    allowed_channels: Sequence[int],
) -> discord.Embed:
    """What /settings shows: every per-server setting, and the two the bot's operator sets in its environment
    (the Message Content intent and ALLOWED_CHANNEL_IDS)."""
    embed = discord.Embed(title="Settings on this server", colour=COLOUR)
    mentions = "on: “@bot question” is answered" if guild.mentions else "off"
    embed.add_field(name="Mentions", value=mentions, inline=False)
    scoped = [f"<#{channel}>: {podcast_list(podcasts)}" for channel, podcasts in scopes.items()]
    embed.add_field(
        name="Channel scopes", value=_lines(scoped, "none: every channel searches every podcast"), inline=False
    )
    answered = []
    for forum in forums:
        skip = tag_names.get(forum.skip_tag_id) if forum.skip_tag_id is not None else None
        answered.append(f"<#{forum.channel_id}>" + (f", except posts tagged **{safe(skip)}**" if skip else ""))
    forum_text = _lines(answered, "off")
    if answered and not message_content:
        forum_text = truncate("paused, the Message Content intent is off:\n" + forum_text, FIELD_LIMIT)
    embed.add_field(name="Forum auto-answer", value=forum_text, inline=False)
    handoff = (
        f"<@&{guild.handoff_role_id}> is pinged once per question on “Not helpful — ask a human”"
        if guild.handoff_role_id
        else "off"
    )
    embed.add_field(name="Hand-off", value=handoff, inline=False)
    idle = plural(guild.followup_idle_minutes, "minute")
    followups = f"answer the asker until {idle} of quiet" if message_content else INTENT_OFF
    embed.add_field(name="Follow-up threads", value=followups, inline=False)
    embed.add_field(name="Message Content intent", value="on" if message_content else INTENT_OFF, inline=False)
    channels = [f"<#{c}>" for c in allowed_channels]
    embed.add_field(name="Channels I answer in", value=_lines(channels, "every channel I can see"), inline=False)
    embed.set_footer(text="Change them with /setup and /scope (Manage Server).")
    return embed


def render_scope(channel_id: int, podcasts: Sequence[str], *, thread_id: int | None = None) -> str:
    """What /scope says about a channel (or the thread it was asked in)."""
    where = f"<#{thread_id}> follows <#{channel_id}>, which" if thread_id else f"<#{channel_id}>"
    return truncate(f"{where} searches {podcast_list(podcasts)} by default.", CONTENT_LIMIT)


def render_handoff(role_id: int, asker: str, question: str) -> str:
    """The one message that pings: the hand-off role, for a question whose answers did not help."""
    return truncate(
        f"<@&{role_id}> **{safe(asker)}** found these answers unhelpful and would like a person to help with: "
        f"“{safe_question(question)}”",
        CONTENT_LIMIT,
    )


def _lines(lines: Sequence[str], empty: str) -> str:
    """Lines within a field's 1,024 characters, ending with how many did not fit."""
    if not lines:
        return empty
    shown: list[str] = []
    for i, line in enumerate(lines):
        rest = f"\n… and {len(lines) - i} more"
        if sum(len(s) + 1 for s in shown) + len(line) + len(rest) > FIELD_LIMIT:
            return "\n".join(shown) + rest
        shown.append(truncate(line, 300))
    return "\n".join(shown)
