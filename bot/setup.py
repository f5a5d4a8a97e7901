"""The per-server commands: /setup (mentions, forum, handoff, followups), /scope and /settings.

Changing anything needs Manage Server, checked by the bot itself from the permissions Discord reports for the
member in the channel: a command's default permissions only hide it, and a server admin may override them in
the Integrations settings. Reading (/settings, /scope without changes) is for everyone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.render import safe, truncate
from bot.render_server import podcast_list, render_scope, render_settings
from bot.replies import NO_PINGS, Refusal
from bot.scopes import channel_allowed, find_podcast, podcast_choices, scope_channel_id

if TYPE_CHECKING:
    pass

Interaction = discord.Interaction["PodcastBot"]
INTENT_NEEDED = (
    "Forum answers need Discord's Message Content intent, which this bot runs without. Its operator can enable "
    "it in the Developer Portal (Bot → Privileged Gateway Intents) and set `MESSAGE_CONTENT_INTENT=true`, then "
    "restart it; until then forum mode stays off."
)

setup_group = app_commands.Group(
    name="setup",
    description="Set the bot up on this server (Manage Server only)",
    default_permissions=discord.Permissions(manage_guild=True),
    guild_only=True,
)


def require_manage_server(interaction: Interaction) -> None:
    if not interaction.permissions.manage_guild:
        raise app_commands.MissingPermissions(["manage_guild"])


async def done(interaction: Interaction, text: str) -> None:
    await interaction.response.send_message(truncate(text, 2000), ephemeral=True, allowed_mentions=NO_PINGS)


@setup_group.command(name="mentions")
@app_commands.describe(enabled="Answer messages that mention me, like “@bot what did they say about X?”")
@app_commands.checks.has_permissions(manage_guild=True)
async def setup_mentions(interaction: Interaction, enabled: bool) -> None:
    """Answer @mentions on this server, or not."""
    assert interaction.guild_id is not None
    interaction.client.server.update(interaction.guild_id, mentions=enabled)
    await done(interaction, "I'll answer mentions." if enabled else "I'll ignore mentions; commands still work.")


@setup_group.command(name="forum")
@app_commands.describe(
    channel="A forum channel",
    enabled="Answer each new post once with the best moments (needs the Message Content intent)",
    skip_tag="Leave posts with this tag to people, e.g. Resolved or Staff only",
)
@app_commands.checks.has_permissions(manage_guild=True)
async def setup_forum(
    interaction: Interaction, channel: discord.ForumChannel, enabled: bool, skip_tag: str | None = None
) -> None:
    """Answer new posts in a forum by myself, or stop."""
    bot = interaction.client
    assert interaction.guild_id is not None
    if not enabled:
        bot.server.set_forum(interaction.guild_id, channel.id, enabled=False)
        await done(interaction, f"I'll no longer answer new posts in {channel.mention}.")
        return
    if not bot.settings.message_content_intent:
        raise Refusal(INTENT_NEEDED)
    tag = None
    if skip_tag:
        tag = next((t for t in channel.available_tags if t.name.casefold() == skip_tag.strip().casefold()), None)
        if tag is None:
            names = ", ".join(f"**{safe(t.name)}**" for t in channel.available_tags) or "none"
            raise Refusal(f"{channel.mention} has no tag “{safe(skip_tag)}”. Its tags: {names}.")
    bot.server.set_forum(interaction.guild_id, channel.id, enabled=True, skip_tag_id=tag.id if tag else None)
    quiet = ["when nothing matches", "in posts staff reply to first"]
    if tag:
        quiet.append(f"in posts tagged **{safe(tag.name)}**")
    text = f"I'll answer each new post in {channel.mention} once, and stay quiet {', '.join(quiet)}."
    if not channel_allowed(bot.settings, channel):
        text += f"\nNote: {channel.mention} is not in this bot's ALLOWED_CHANNEL_IDS, so nothing is answered there."
    await done(interaction, text)


@setup_group.command(name="handoff")
@app_commands.describe(role="The role to ping when someone asks for a human; leave empty to turn hand-off off")
@app_commands.checks.has_permissions(manage_guild=True)
async def setup_handoff(interaction: Interaction, role: discord.Role | None = None) -> None:
    """Offer “Not helpful — ask a human” after a 👎, pinging a role once per question."""
    assert interaction.guild_id is not None
    interaction.client.server.update(interaction.guild_id, handoff_role_id=role.id if role else None)
    if role is None:
        await done(interaction, "Hand-off is off: a 👎 only asks what was wrong.")
        return
    text = f"After a 👎, people can ask {role.mention}; I ping it once per question."
    me = interaction.guild.me if interaction.guild else None
    if not role.mentionable and not (me and me.guild_permissions.mention_everyone):
        text += (
            f"\nDiscord won't notify {role.mention} yet: make it mentionable (Server Settings → Roles → “Allow "
            "anyone to @mention this role”) or give me “Mention @everyone, @here and All Roles”."
        )
    await done(interaction, text)


@setup_group.command(name="followups")
@app_commands.describe(idle_minutes="Stop answering in a follow-up thread after this many quiet minutes")
@app_commands.checks.has_permissions(manage_guild=True)
async def setup_followups(interaction: Interaction, idle_minutes: app_commands.Range[int, 1, 1440]) -> None:
    """How long a follow-up thread keeps answering the asker."""
    assert interaction.guild_id is not None
    interaction.client.server.update(interaction.guild_id, followup_idle_minutes=idle_minutes)
    text = f"Follow-up threads answer the asker until {idle_minutes} quiet minutes have passed."
    if not interaction.client.settings.message_content_intent:
        text += " (They need the Message Content intent, which is off: until then the button points to /ask.)"
    await done(interaction, text)


@app_commands.command(name="scope")
@app_commands.describe(
    channel="The channel (default: this one; threads follow their channel)",
    podcast="Make the channel search only this podcast by default (Manage Server)",
    podcast_2="…and this one",
    podcast_3="…and this one",
    clear="Let the channel search every podcast again (Manage Server)",
)
@app_commands.autocomplete(podcast=podcast_choices, podcast_2=podcast_choices, podcast_3=podcast_choices)
@app_commands.guild_only()
async def scope_command(
    interaction: Interaction,
    channel: discord.TextChannel | discord.ForumChannel | None = None,
    podcast: str | None = None,
    podcast_2: str | None = None,
    podcast_3: str | None = None,
    clear: bool = False,
) -> None:
    """Show which podcasts a channel searches; with a podcast, set it (Manage Server)."""
    bot = interaction.client
    assert interaction.guild_id is not None
    here = interaction.channel
    target = channel.id if channel else scope_channel_id(here)
    if target is None:
        raise Refusal("Pick a channel.")
    picked = [p for p in (podcast, podcast_2, podcast_3) if p]
    if not picked and not clear:
        thread = here.id if channel is None and here is not None and here.id != target else None
        await done(interaction, render_scope(target, bot.server.scope(target), thread_id=thread))
        return
    require_manage_server(interaction)
    if picked and clear:
        raise Refusal("Pick podcasts or `clear`, not both.")
    podcasts = list(dict.fromkeys(find_podcast(bot, p) for p in picked))
    bot.server.set_scope(interaction.guild_id, target, podcasts)
    await done(interaction, f"<#{target}> (and its threads) now searches {podcast_list(podcasts)} by default.")


@app_commands.command(name="settings")
@app_commands.guild_only()
async def settings_command(interaction: Interaction) -> None:
    """What the bot is set up to do on this server."""
    bot = interaction.client
    guild = interaction.guild
    assert guild is not None
    forums = bot.server.forums(guild.id)
    tags = {
        tag.id: tag.name
        for forum in forums
        if isinstance(channel := guild.get_channel(forum.channel_id), discord.ForumChannel)
        for tag in channel.available_tags
    }
    embed = render_settings(
        bot.server.guild(guild.id),
        scopes=bot.server.scopes(guild.id),
        forums=forums,
        tag_names=tags,
        message_content=bot.settings.message_content_intent,
        allowed_channels=bot.settings.allowed_channel_ids,
    )
    await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)


COMMANDS = (setup_group, scope_command, settings_command)
