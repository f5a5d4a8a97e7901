"""INTERACTION_CREATE payloads as Discord builds them, and what the fake remembers of each interaction.

A test says what a user did (ran /ask, typed in an autocomplete, clicked a button, submitted a form); the
builders here turn that into the payload Discord would send, checking what Discord itself checks first: the
command was synced, the user may see it, required options are there, the button exists.
https://discord.com/developers/docs/interactions/receiving-and-responding
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tests.fake_discord import payloads
from tests.fake_discord.constants import ADMIN_PERMISSIONS, MEMBER_PERMISSIONS, Perm
from tests.fake_discord.records import RecordedRequest

if TYPE_CHECKING:
    from tests.fake_discord.server import FakeDiscord

Payload = dict[str, Any]
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, BOOLEAN, CHANNEL, ROLE = 1, 2, 3, 4, 5, 7, 8


class FakeDiscordUsageError(Exception):
    """The test asked for something real Discord would never send (a command that was not synced, one the
    user may not see, a missing required option, a button that does not exist)."""


@dataclass
class Invoker:
    user: Payload
    permissions: int
    guild_id: int | None  # None: a direct message with the bot
    channel_id: int


@dataclass
class InteractionState:
    payload: Payload
    invoker: Invoker
    created: float  # when INTERACTION_CREATE was written to the socket: the 3-second deadline runs from here
    callbacks: list[RecordedRequest] = field(default_factory=list)
    followups: list[RecordedRequest] = field(default_factory=list)
    callback_type: int | None = None
    original_message_id: int | None = None
    deferred_pending: bool = False  # answered "thinking" (type 5) and no follow-up has replaced it yet
    modal: Payload | None = None  # the form the bot opened (type 9)

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        return self.payload["token"]


@dataclass
class DispatchedInteraction:
    """What a test gets back for each interaction it sends: the payload, and the bot's answers as they come."""

    fake: FakeDiscord
    state: InteractionState
    sent_at: float

    @property
    def id(self) -> int:
        return self.state.id

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def payload(self) -> Payload:
        return self.state.payload

    @property
    def callbacks(self) -> list[RecordedRequest]:
        """Every `POST /interactions/{id}/{token}/callback`, refused ones included."""
        return self.state.callbacks

    @property
    def followups(self) -> list[RecordedRequest]:
        """Every `POST /webhooks/{application}/{token}`, refused ones included."""
        return self.state.followups

    async def callback(self, timeout: float = 5.0) -> RecordedRequest:
        await self.fake.wait_until(lambda: bool(self.callbacks), timeout=timeout, what=f"a callback to {self.id}")
        return self.callbacks[0]

    async def followup(self, index: int = 0, timeout: float = 5.0) -> RecordedRequest:
        await self.fake.wait_until(
            lambda: len(self.followups) > index, timeout=timeout, what=f"follow-up #{index} to {self.id}"
        )
        return self.followups[index]


def invoker(
    fake: FakeDiscord,
    user_id: int | None,
    permissions: int | None,
    guild_id: int | Literal[False] | None,
    channel_id: int | None = None,
) -> Invoker:
    """Who acts where: a member of the test guild in its first channel by default (or in `channel_id`, a channel
    or thread of the guild), `guild_id=False` for a direct message."""
    uid = user_id or fake.user_id
    if uid not in fake.users:
        fake.users[uid] = payloads.user(uid, f"user{uid % 10000}")
    perms = fake.member_permissions if permissions is None else int(permissions)
    if perms & Perm.ADMINISTRATOR:
        perms = ADMIN_PERMISSIONS
    if guild_id is False:
        return Invoker(fake.users[uid], perms, None, uid + 1)  # one DM channel per user, stable like Discord's
    guild = fake.guilds[guild_id or fake.guild_id]
    if uid not in guild.members:
        guild.members[uid] = payloads.member(fake.users[uid])
    if channel_id is not None and guild.channel(channel_id) is None:
        raise FakeDiscordUsageError(f"guild {guild.id} has no channel or thread {channel_id}")
    return Invoker(fake.users[uid], perms, guild.id, channel_id or int(guild.channels[0]["id"]))


def envelope(fake: FakeDiscord, kind: int, data: Payload, who: Invoker, message: Payload | None = None) -> Payload:
    """The INTERACTION_CREATE `d` around `data`, with the guild, channel and member as Discord resolves them."""
    iid = fake.snowflake()
    payload: Payload = {
        "id": str(iid),
        "application_id": str(fake.application_id),
        "type": kind,
        "data": data,
        "token": f"aW50ZXJhY3Rpb246{iid}-{secrets.token_urlsafe(96)}",
        "version": 1,
        "locale": "en-US",
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": 10 * 1024 * 1024,
        "channel_id": str(who.channel_id),
    }
    if who.guild_id is None:
        dm = {"id": str(who.channel_id), "type": 1, "last_message_id": None, "flags": 0, "recipients": [who.user]}
        payload.update(
            channel=dm,
            user=who.user,
            app_permissions=str(MEMBER_PERMISSIONS),
            authorizing_integration_owners={"0": "0"},
            context=1,
        )
    else:
        guild = fake.guilds[who.guild_id]
        channel = {**copy.deepcopy(guild.channel(who.channel_id) or {}), "permissions": str(who.permissions)}
        member = {**copy.deepcopy(guild.members[int(who.user["id"])]), "permissions": str(who.permissions)}
        bot_permissions = guild.permissions_of(fake.bot_user_id)
        payload.update(
            guild_id=str(guild.id),
            guild={"id": str(guild.id), "locale": guild.locale, "features": list(guild.features)},
            guild_locale=guild.locale,
            channel=channel,
            member=member,
            app_permissions=str(bot_permissions),
            authorizing_integration_owners={"0": str(guild.id)},
            context=0,
        )
    if message is not None:
        payload["message"] = message
    return payload


def find_command(fake: FakeDiscord, name: str, kind: int = 1, guild_id: int | None = None) -> Payload | None:
    """The synced command a Discord client would run: the guild's own first, then the global one."""
    for scope in [guild_id, None] if guild_id is not None else [None]:
        for command in fake.commands.get(scope, []):
            if command["name"] == name and command["type"] == kind:
                return command
    return None


def visible_command(fake: FakeDiscord, name: str, kind: int, who: Invoker, enforce_permissions: bool) -> Payload | None:
    """The command as `who` may run it; None when no command was synced at all (a bare client's test)."""
    command = find_command(fake, name, kind, who.guild_id)
    if command is None:
        if any(fake.commands.values()):
            synced = [c["name"] for commands in fake.commands.values() for c in commands]
            raise FakeDiscordUsageError(f"command {name!r} (type {kind}) was never synced; synced: {synced}")
        return None
    if enforce_permissions:
        required = command.get("default_member_permissions")
        if required is not None and who.guild_id is not None and who.permissions & int(required) != int(required):
            raise FakeDiscordUsageError(
                f"Discord would not show /{name} to this user: it needs permissions {required}, the user has "
                f"{who.permissions} (pass enforce_permissions=False to send it anyway)"
            )
        contexts = command.get("contexts")
        if contexts is None:  # a definition without contexts: dm_permission decides
            contexts = [0] if command.get("dm_permission") is False else [0, 1]
        context = 1 if who.guild_id is None else 0  # 0: a guild, 1: a direct message with the bot
        if context not in contexts:
            raise FakeDiscordUsageError(f"/{name} is not available in interaction context {context}")
    return command


def command_data(
    fake: FakeDiscord,
    name: str,
    options: Mapping[str, Any] | None,
    who: Invoker,
    *,
    focused: str | None = None,
    enforce_permissions: bool = True,
) -> Payload:
    """The `data` of a slash command (or of its autocomplete, with `focused` the option being typed in).

    `name` may name a subcommand as users type it, e.g. "watch add": the options then nest under it, as Discord
    sends them. Channel and role options take the id (Discord adds the object to `resolved`), booleans a bool.
    """
    top, *path = name.split()
    command = visible_command(fake, top, 1, who, enforce_permissions)
    definitions, nesting = _subcommand_options(command, top, path)
    built = []
    resolved: Payload = {}
    for option, value in (options or {}).items():
        definition = definitions.get(option)
        if command is not None and definition is None:
            raise FakeDiscordUsageError(f"/{name} has no option {option!r}")
        kind = definition["type"] if definition else (INTEGER if isinstance(value, int) else STRING)
        if option == focused:
            built.append({"name": option, "type": kind, "value": str(value), "focused": True})
            continue
        built.append({"name": option, "type": kind, "value": _option_value(kind, value)})
        if kind in (CHANNEL, ROLE) and focused is None:  # Discord resolves them, except while autocompleting
            _resolve(fake, who, kind, int(value), definition or {}, resolved)
    missing = [o for o, d in definitions.items() if d.get("required") and o not in (options or {})]
    if focused is None and missing:
        raise FakeDiscordUsageError(f"/{name}: required option(s) {missing} missing")
    for sub, kind in reversed(nesting):
        built = [{"name": sub, "type": kind, "options": built}]
    data: Payload = {"id": command["id"] if command else str(fake.snowflake()), "name": top, "type": 1}
    if built:
        data["options"] = built
    if resolved:
        data["resolved"] = resolved
    if command and command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def _subcommand_options(
    command: Payload | None, top: str, path: list[str]
) -> tuple[dict[str, Payload], list[tuple[str, int]]]:
    """The option definitions of the (sub)command a user runs, and the subcommands (name, type) on the way."""
    options: list[Payload] = (command or {}).get("options", [])
    nesting = []
    for sub in path:
        chosen = next((o for o in options if o["name"] == sub and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)), None)
        if command is not None and chosen is None:
            raise FakeDiscordUsageError(f"/{top} has no subcommand {sub!r}")
        nesting.append((sub, chosen["type"] if chosen else SUB_COMMAND))
        options = (chosen or {}).get("options", [])
    if command is not None and any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in options):
        raise FakeDiscordUsageError(f"/{top} cannot run without a subcommand: Discord only offers its subcommands")
    return {o["name"]: o for o in options}, nesting


def _option_value(kind: int, value: Any) -> Any:
    if kind == INTEGER:
        return int(value)
    if kind == BOOLEAN:
        if not isinstance(value, bool):
            raise FakeDiscordUsageError(f"a boolean option takes True or False, not {value!r}")
        return value
    if kind in (STRING, CHANNEL, ROLE):
        return str(value)
    raise FakeDiscordUsageError(f"the fake builds string, integer, boolean, channel and role options, not type {kind}")


def _resolve(fake: FakeDiscord, who: Invoker, kind: int, target: int, definition: Payload, resolved: Payload) -> None:
    """The `resolved` entry Discord adds for a channel or role option: the object, as the user picked it."""
    guild = fake.guilds[who.guild_id] if who.guild_id is not None else None
    if kind == CHANNEL:
        channel = guild.channel(target) if guild else None
        if channel is None:
            raise FakeDiscordUsageError(f"there is no channel {target} to pick")
        if definition.get("channel_types") and channel["type"] not in definition["channel_types"]:
            raise FakeDiscordUsageError(f"Discord offers only channels of types {definition['channel_types']} here")
        entry = {k: v for k, v in channel.items() if k not in ("guild_id", "permission_overwrites")}
        resolved.setdefault("channels", {})[str(target)] = {**entry, "permissions": str(who.permissions)}
    else:
        role = guild.role(target) if guild else None
        if role is None:
            raise FakeDiscordUsageError(f"there is no role {target} to pick")
        resolved.setdefault("roles", {})[str(target)] = copy.deepcopy(role)


def submitted_form(form: Payload, values: Mapping[str, str]) -> list[Payload]:
    """A modal's submitted components: its layout (action rows or labels) with each text input's value."""
    remaining = dict(values)

    def answer(component: Payload) -> Payload:
        out = {"type": component["type"], "custom_id": component["custom_id"], "id": component.get("id", 0)}
        out["value"] = str(remaining.pop(component["custom_id"], component.get("value") or ""))
        return out

    components: list[Payload] = []
    for top in form.get("components") or []:
        if top.get("type") == 1:
            row = [answer(c) for c in top.get("components") or [] if "custom_id" in c]
            components.append({"type": 1, "id": top.get("id", 0), "components": row})
        elif isinstance(top.get("component"), dict):
            components.append({"type": top["type"], "id": top.get("id", 0), "component": answer(top["component"])})
    if remaining:
        raise FakeDiscordUsageError(f"the form has no input(s) {sorted(remaining)}")
    return components
