"""The JSON shapes of Discord's objects (API v10) that the fake sends: users, guilds, channels, messages.

Each builder returns a fresh dict with every field the real API sends, so discord.py parses it exactly as it
parses Discord's. https://discord.com/developers/docs/resources/
"""

from __future__ import annotations

import copy
import itertools
import mimetypes
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fake_discord.constants import (
    ADMIN_PERMISSIONS,
    DISCORD_EPOCH_MS,
    FORUM_CHANNEL,
    PUBLIC_THREAD,
    InteractionType,
    Perm,
)
from tests.fake_discord.records import Upload
from tests.fake_discord.validation import walk_components

Payload = dict[str, Any]


class Snowflakes:
    """Real-looking, strictly increasing snowflakes (timestamp << 22 | worker | increment)."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        now = ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (1 << 17)
        self._last = max(now, self._last + 1)
        return self._last


def iso() -> str:
    """Now, as Discord writes timestamps."""
    return datetime.now(tz=UTC).isoformat(timespec="microseconds")


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: list[Payload]
    channels: list[Payload]
    members: dict[int, Payload]
    joined_at: str
    locale: str = "en-US"
    features: list[str] = field(default_factory=list)
    threads: list[Payload] = field(default_factory=list)  # active threads (forum posts included)

    def channel(self, channel_id: int) -> Payload | None:
        """A channel or thread of the guild."""
        return next((c for c in [*self.channels, *self.threads] if int(c["id"]) == channel_id), None)

    def role(self, role_id: int) -> Payload | None:
        return next((r for r in self.roles if int(r["id"]) == role_id), None)

    def permissions_of(self, user_id: int) -> int:
        """A member's server-wide permissions: @everyone's and their roles' (no channel overwrites are modelled)."""
        granted = 0
        for role_id in [self.id, *map(int, self.members[user_id]["roles"])]:
            found = self.role(role_id)
            granted |= int(found["permissions"]) if found else 0
        return ADMIN_PERMISSIONS if granted & Perm.ADMINISTRATOR else granted


def user(user_id: int, username: str, *, bot: bool = False) -> Payload:
    return {
        "id": str(user_id),
        "username": username,
        "discriminator": "0",
        "global_name": None if bot else username.title(),
        "avatar": None,
        "avatar_decoration_data": None,
        "banner": None,
        "accent_color": None,
        "public_flags": 0,
        "flags": 0,
        "bot": bot,
        "system": False,
        "clan": None,
        "primary_guild": None,
        "collectibles": None,
    }


def member(of: Payload, roles: Iterable[int] = (), joined_at: str | None = None) -> Payload:
    return {
        "user": of,
        "roles": [str(r) for r in roles],
        "nick": None,
        "avatar": None,
        "banner": None,
        "joined_at": joined_at or iso(),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
        "unusual_dm_activity_until": None,
    }


def role(role_id: int, name: str, permissions: int, position: int, **extra: Any) -> Payload:
    return {
        "id": str(role_id),
        "name": name,
        "description": None,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
        **extra,
    }


def text_channel(channel_id: int, guild_id: int, name: str, position: int) -> Payload:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "parent_id": None,
        "topic": None,
        "nsfw": False,
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "flags": 0,
    }


def forum_tag(tag_id: int, name: str) -> Payload:
    return {"id": str(tag_id), "name": name, "moderated": False, "emoji_id": None, "emoji_name": None}


def forum_channel(channel_id: int, guild_id: int, name: str, position: int, tags: list[Payload]) -> Payload:
    return {
        **text_channel(channel_id, guild_id, name, position),
        "type": FORUM_CHANNEL,
        "available_tags": tags,
        "default_reaction_emoji": None,
        "default_thread_rate_limit_per_user": 0,
        "default_sort_order": None,
        "default_forum_layout": 0,
        "template": "",
    }


def thread(
    thread_id: int, guild_id: int, parent_id: int, owner_id: int, name: str, applied_tags: Iterable[int] = ()
) -> Payload:
    """A public thread: a forum post, or a thread started from a message (which then has the message's id)."""
    now = iso()
    return {
        "id": str(thread_id),
        "type": PUBLIC_THREAD,
        "guild_id": str(guild_id),
        "parent_id": str(parent_id),
        "owner_id": str(owner_id),
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
        "applied_tags": [str(t) for t in applied_tags],
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": now,
            "locked": False,
            "create_timestamp": now,
        },
    }


def application(application_id: int, bot_user: Payload, owner: Payload) -> Payload:
    return {
        "id": str(application_id),
        "name": bot_user["username"],
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "hook": True,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": secrets.token_hex(32),
        "flags": (1 << 19) | (1 << 23),  # GATEWAY_MESSAGE_CONTENT_LIMITED | APPLICATION_COMMAND_BADGE
        "owner": owner,
        "team": None,
        "bot": bot_user,
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "tags": [],
        "install_params": {"scopes": ["bot", "applications.commands"], "permissions": "0"},
        "integration_types_config": {"0": {}},
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
    }


def guild_create(guild: FakeGuild, members: list[Payload]) -> Payload:
    """GUILD_CREATE's `d`: the guild with its roles and channels and the `members` the session may see."""
    channels = [{k: v for k, v in c.items() if k != "guild_id"} for c in guild.channels]
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "icon_hash": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.owner_id),
        "region": "deprecated",
        "afk_channel_id": None,
        "afk_timeout": 300,
        "widget_enabled": False,
        "widget_channel_id": None,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 2,
        "roles": copy.deepcopy(guild.roles),
        "emojis": [],
        "stickers": [],
        "features": list(guild.features),
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": channels[0]["id"] if channels else None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "max_members": 500000,
        "max_presences": None,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "vanity_url_code": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": guild.locale,
        "nsfw_level": 0,
        "nsfw": False,
        "premium_progress_bar_enabled": False,
        "incidents_data": None,
        "hub_type": None,
        "latest_onboarding_question_id": None,
        "home_header": None,
        "version": 0,
        "inventory_settings": None,
        "joined_at": guild.joined_at,
        "large": len(guild.members) >= 250,
        "lazy": True,
        "unavailable": False,
        "member_count": len(guild.members),
        "members": copy.deepcopy(members),
        "channels": channels,
        "threads": copy.deepcopy(guild.threads),
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "embedded_activities": [],
        "activity_instances": [],
        "application_command_counts": {},
    }


def message(
    message_id: int, channel_id: int, author: Payload, body: Payload, *, flags: int = 0, kind: int = 0
) -> Payload:
    """A message as Discord stores it from a create body: embeds typed, components numbered."""
    embeds = copy.deepcopy(body.get("embeds") or [])
    for embed in embeds:
        embed.setdefault("type", "rich")
        embed.setdefault("content_scan_version", 0)
    components = copy.deepcopy(body.get("components") or [])
    numbers = itertools.count(1)
    for component in walk_components(components):
        component.setdefault("id", next(numbers))
    return {
        "id": str(message_id),
        "type": kind,
        "channel_id": str(channel_id),
        "author": author,
        "content": body.get("content") or "",
        "embeds": embeds,
        "components": components,
        "attachments": [],
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": bool(body.get("tts", False)),
        "timestamp": iso(),
        "edited_timestamp": None,
        "flags": flags,
        "sticker_items": [],
    }


def interaction_metadata(
    interaction: Payload, invoker: Payload, application_id: int, original_message_id: int | None
) -> dict[str, Payload]:
    """The fields Discord adds to a message an interaction created (`interaction_metadata` and the legacy
    `interaction`), from the INTERACTION_CREATE payload."""
    data = interaction.get("data") or {}
    meta: Payload = {
        "id": interaction["id"],
        "type": interaction["type"],
        "user": invoker,
        "authorizing_integration_owners": interaction.get("authorizing_integration_owners", {}),
    }
    if interaction["type"] == InteractionType.APPLICATION_COMMAND:
        meta["name"] = data.get("name")
        meta["command_type"] = data.get("type", 1)
    if interaction["type"] == InteractionType.MESSAGE_COMPONENT and interaction.get("message"):
        meta["interacted_message_id"] = interaction["message"]["id"]
    if original_message_id is not None:
        meta["original_response_message_id"] = str(original_message_id)
    return {
        "webhook_id": str(application_id),
        "application_id": str(application_id),
        "interaction_metadata": meta,
        "interaction": {
            "id": interaction["id"],
            "type": interaction["type"],
            "name": data.get("name", ""),
            "user": invoker,
        },
    }


def attach(message: Payload, body: Payload, files: Sequence[Upload], snowflake: Callable[[], int]) -> None:
    """The uploaded `files` as the message's attachments, in the order of the body's `attachments` (each names
    its file by index, `files[n]`); an embed showing `attachment://<filename>` now shows the stored file."""
    by_index = {int(f.name[len("files[") : -1]): f for f in files}
    wanted = body.get("attachments") or [{"id": i} for i in sorted(by_index)]
    urls: dict[str, str] = {}
    for entry in wanted:
        upload = by_index.get(int(entry["id"]))
        if upload is None:
            continue
        attachment_id = snowflake()
        filename = entry.get("filename") or upload.filename
        url = f"https://cdn.discordapp.com/attachments/{message['channel_id']}/{attachment_id}/{filename}"
        message["attachments"].append(
            {
                "id": str(attachment_id),
                "filename": filename,
                "size": len(upload.data),
                "url": url,
                "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
                "content_type": mimetypes.guess_type(filename)[0] or "application/octet-stream",
                **({"description": entry["description"]} if entry.get("description") else {}),
            }
        )
        urls[f"attachment://{filename}"] = url
    for embed in message["embeds"]:
        for part in ("image", "thumbnail"):
            if isinstance(embed.get(part), dict) and embed[part].get("url") in urls:
                embed[part]["url"] = urls[embed[part]["url"]]
