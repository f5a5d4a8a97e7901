"""FakeDiscord: the world (application, guild, users, synced commands, messages), the server, and what users do."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Literal

from aiohttp import web

from tests.fake_discord import interactions, payloads
from tests.fake_discord.constants import (
    API_PREFIX,
    FORUM_CHANNEL,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    MEMBER_PERMISSIONS,
    InteractionType,
    Perm,
)
from tests.fake_discord.gateway import Gateway
from tests.fake_discord.interactions import DispatchedInteraction, FakeDiscordUsageError, InteractionState, Invoker
from tests.fake_discord.payloads import FakeGuild, Payload
from tests.fake_discord.records import RecordedRequest
from tests.fake_discord.rest import Rest
from tests.fake_discord.validation import EVERYONE_MENTION, ROLE_MENTION, USER_MENTION, pings, walk_components

GuildChoice = int | Literal[False] | None  # a guild id, False for a direct message, None for the test guild
# aiohttp refuses bodies over 1 MiB by itself; Discord reads files up to its own limit (validation.py) first.
MAX_REQUEST_BYTES = 64 * 1024 * 1024


class FakeDiscord:
    """Discord's REST API and gateway on one ephemeral port of 127.0.0.1: `async with FakeDiscord() as fake:`.

    `callback_deadline` is Discord's three seconds to answer an interaction (None: no deadline).
    """

    def __init__(self, *, heartbeat_interval_ms: int = 500, callback_deadline: float | None = 3.0) -> None:
        self.snowflake = payloads.Snowflakes()
        self.token = f"FAKE.{secrets.token_urlsafe(18)}.{secrets.token_urlsafe(27)}"
        self.callback_deadline = callback_deadline
        self.member_permissions = MEMBER_PERMISSIONS  # what members may do unless a test says otherwise
        self.strict_routes = True  # the pytest fixture fails the test if a request hit no route of the fake

        # Applications made since 2021: the application id is the bot user's id.
        self.application_id = self.bot_user_id = self.snowflake()
        self.bot_user = payloads.user(self.bot_user_id, "FakeBot", bot=True)
        self.application = payloads.application(
            self.application_id, self.bot_user, payloads.user(self.snowflake(), "app-owner")
        )
        self.user_id = self.snowflake()
        self.users: dict[int, Payload] = {
            self.bot_user_id: self.bot_user,
            self.user_id: payloads.user(self.user_id, "tester"),
        }
        self.guilds: dict[int, FakeGuild] = {}
        guild = self._add_guild("Fake Guild")
        self.guild_id, self.channel_id = guild.id, int(guild.channels[0]["id"])
        self.commands: dict[int | None, list[Payload]] = {}  # guild id (None: global) -> synced commands
        self.command_ids: dict[tuple[int | None, int, str], int] = {}  # a command keeps its id across syncs
        self.messages: dict[int, Payload] = {}  # every message, the bot's and the users', by id
        self.pings: dict[int, dict[str, Any]] = {}  # message id -> who it notified (validation.pings)
        self.interactions: dict[int, InteractionState] = {}
        self.by_token: dict[str, InteractionState] = {}
        self.requests: list[RecordedRequest] = []

        self.rest = Rest(self)
        self.gateway = Gateway(self, heartbeat_interval_ms)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._changed: asyncio.Event | None = None

    # -- running --

    async def start(self) -> FakeDiscord:
        self._changed = asyncio.Event()
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/" and request.headers.get("Upgrade", "").lower() == "websocket":
            return await self.gateway.handle(request)
        return await self.rest.handle(request)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @contextlib.asynccontextmanager
    async def patched_client(self) -> AsyncIterator[None]:
        """Point discord.py at this server for the block, then restore where it pointed. Asynchronous only
        to share a line with the server: `async with FakeDiscord() as fake, fake.patched_client():`.

        Two class attributes suffice: `discord.http.Route.BASE` (every REST call, interaction callbacks and
        webhook follow-ups included) and `DiscordWebSocket.DEFAULT_GATEWAY` (an AutoShardedClient given its
        shard count connects straight there; reconnects use READY's `resume_gateway_url`, also this server).
        Nothing else changes: the client under test runs as in production.
        """
        import discord.gateway
        import discord.http
        import yarl

        socket = discord.gateway.DiscordWebSocket
        saved = discord.http.Route.BASE, socket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base  # type: ignore[misc]
        socket.DEFAULT_GATEWAY = yarl.URL(self.gateway.url)
        try:
            yield
        finally:
            discord.http.Route.BASE, socket.DEFAULT_GATEWAY = saved  # type: ignore[misc]

    # -- the world --

    def _add_guild(self, name: str) -> FakeGuild:
        guild_id, bot_role, channel = self.snowflake(), self.snowflake(), self.snowflake()
        joined = payloads.iso()
        roles = [
            payloads.role(guild_id, "@everyone", self.member_permissions, 0),
            payloads.role(bot_role, self.bot_user["username"], self.member_permissions, 1, managed=True,
                          tags={"bot_id": str(self.bot_user_id)}),
        ]  # fmt: skip
        guild = FakeGuild(guild_id, name, int(self.application["owner"]["id"]), roles, [], {}, joined)
        guild.channels.append(payloads.text_channel(channel, guild_id, "general", 0))
        guild.members[self.bot_user_id] = payloads.member(self.bot_user, [bot_role], joined)
        guild.members[self.user_id] = payloads.member(self.users[self.user_id])
        self.guilds[guild_id] = guild
        return guild

    def add_user(self, username: str, roles: Sequence[int] = ()) -> int:
        """A new member of the test guild (with `roles`); returns their id."""
        user_id = self.snowflake()
        self.users[user_id] = payloads.user(user_id, username)
        self.guilds[self.guild_id].members[user_id] = payloads.member(self.users[user_id], roles)
        return user_id

    @property
    def guild(self) -> FakeGuild:
        return self.guilds[self.guild_id]

    def add_channel(self, name: str) -> int:
        """A new text channel of the test guild (before the client connects: it arrives in GUILD_CREATE)."""
        channel_id = self.snowflake()
        self.guild.channels.append(payloads.text_channel(channel_id, self.guild_id, name, len(self.guild.channels)))
        return channel_id

    def add_forum(self, name: str, tags: Sequence[str] = ()) -> int:
        """A new forum channel with `tags` (before the client connects); `forum_tag` gives a tag's id."""
        channel_id = self.snowflake()
        made = [payloads.forum_tag(self.snowflake(), tag) for tag in tags]
        self.guild.channels.append(
            payloads.forum_channel(channel_id, self.guild_id, name, len(self.guild.channels), made)
        )
        return channel_id

    def forum_tag(self, forum_id: int, name: str) -> int:
        forum = self.guild.channel(forum_id)
        assert forum is not None and forum["type"] == FORUM_CHANNEL
        return int(next(t["id"] for t in forum["available_tags"] if t["name"] == name))

    def add_role(self, name: str, permissions: int = MEMBER_PERMISSIONS, *, mentionable: bool = False) -> int:
        """A new role of the test guild (before the client connects); returns its id. A role that is not
        `mentionable` is notified only by members with Mention Everyone, as on Discord."""
        role_id = self.snowflake()
        role = payloads.role(role_id, name, permissions, len(self.guild.roles), mentionable=mentionable)
        self.guild.roles.append(role)
        return role_id

    async def set_roles(self, user_id: int, roles: Sequence[int]) -> None:
        """Give a member exactly `roles`. GUILD_MEMBER_UPDATE reaches only a session with the privileged Guild
        Members intent; other clients see the new roles in the member of the user's next message or interaction."""
        member = self.guild.members[user_id]
        member["roles"] = [str(r) for r in roles]
        update = {"guild_id": str(self.guild_id), **{k: v for k, v in member.items() if k != "permissions"}}
        self.gateway.publish("GUILD_MEMBER_UPDATE", update, guild_id=self.guild_id, intent=INTENT_GUILD_MEMBERS)

    def messages_in(self, channel_id: int, *, by_bot: bool = True) -> list[Payload]:
        """The messages posted in a channel or thread, oldest first (only the bot's, by default)."""
        return [
            m
            for m in self.messages.values()
            if int(m["channel_id"]) == channel_id and (not by_bot or int(m["author"]["id"]) == self.bot_user_id)
        ]

    def bot_pings(self) -> list[tuple[Payload, dict[str, Any]]]:
        """Every message of the bot that notified anyone, with whom (see validation.pings)."""
        return [
            (self.messages[i], p)
            for i, p in self.pings.items()
            if int(self.messages[i]["author"]["id"]) == self.bot_user_id and (p["everyone"] or p["users"] or p["roles"])
        ]

    def record_message(self, message: Payload, allowed_mentions: dict[str, Any] | None) -> None:
        """Keep a new message, with who it pinged (a reply's author is who its reference points at). Without
        Mention Everyone an author notifies neither @everyone nor a role that is not mentionable."""
        replied = (message.get("referenced_message") or {}).get("author", {}).get("id")
        self.messages[int(message["id"])] = message
        notified = pings(message["content"], allowed_mentions, int(replied) if replied else None)
        guild = self.guilds.get(int(message.get("guild_id") or 0))
        author = int(message["author"]["id"])
        if guild is not None and author in guild.members and not guild.permissions_of(author) & Perm.MENTION_EVERYONE:
            notified["everyone"] = False
            notified["roles"] = [r for r in notified["roles"] if (guild.role(r) or {}).get("mentionable")]
        self.pings[int(message["id"])] = notified

    def mentions_in(self, content: str) -> Payload:
        """The mention fields Discord fills from a message's text (who is mentioned, not who is pinged)."""
        guild = self.guild
        users = [int(u) for u in dict.fromkeys(USER_MENTION.findall(content)) if int(u) in self.users]
        return {
            "mentions": [
                {**self.users[u], "member": {k: v for k, v in guild.members[u].items() if k != "user"}}
                for u in users
                if u in guild.members
            ],
            "mention_roles": [r for r in dict.fromkeys(ROLE_MENTION.findall(content)) if guild.role(int(r))],
            "mention_everyone": EVERYONE_MENTION.search(content) is not None,
        }

    def find_command(self, name: str, kind: int = 1, guild_id: int | None = None) -> Payload | None:
        """The synced command (1: slash, 3: message menu) a user would run in `guild_id` (None: anywhere)."""
        return interactions.find_command(self, name, kind, guild_id)

    # -- records --

    def notify(self) -> None:
        """Wake every wait_until() to re-check its condition."""
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait_until(self, condition: Callable[[], bool], *, timeout: float = 5.0, what: str = "") -> None:
        """Wait until `condition()` holds, re-checked whenever a request, heartbeat or frame arrives."""
        assert self._changed is not None, "FakeDiscord not started"
        try:
            async with asyncio.timeout(timeout):
                while not condition():
                    await self._changed.wait()
        except TimeoutError:
            recent = "\n  ".join(repr(r) for r in self.requests[-15:])
            raise AssertionError(
                f"fake discord: no {what or condition} after {timeout} s; last requests:\n  {recent}"
            ) from None

    def requests_for(self, route: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route == route]

    @property
    def unknown_requests(self) -> list[RecordedRequest]:
        """Requests the fake had no answer for (see rest.py); the pytest fixture fails a test that made any."""
        return [r for r in self.requests if r.unknown]

    def clear_records(self) -> None:
        """Forget every request, message, interaction and frame so far (a long soak's memory should be the
        bot's, not the fake's); interactions not yet answered can no longer be answered."""
        self.requests.clear()
        self.messages.clear()
        self.pings.clear()
        self.interactions.clear()
        self.by_token.clear()
        self.gateway.frames.clear()
        self.gateway.heartbeats.clear()
        self.gateway.replayed.clear()

    # -- what users do --

    async def slash(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        user_id: int | None = None,
        permissions: int | None = None,
        guild_id: GuildChoice = None,
        channel_id: int | None = None,
        enforce_permissions: bool = True,
    ) -> DispatchedInteraction:
        """Run `/name` (or a subcommand, "/setup forum") with `options` (option name to value) in `channel_id`
        (default: the guild's first channel). `permissions` are the member's in the channel (default
        `member_permissions`); with `enforce_permissions` Discord's own rule applies: a command whose default
        permissions the member lacks is not even shown (FakeDiscordUsageError)."""
        who = interactions.invoker(self, user_id, permissions, guild_id, channel_id)
        data = interactions.command_data(self, name, options, who, enforce_permissions=enforce_permissions)
        return await self._dispatch(InteractionType.APPLICATION_COMMAND, data, who)

    async def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        user_id: int | None = None,
        permissions: int | None = None,
        channel_id: int | None = None,
    ) -> DispatchedInteraction:
        """Type `options[focused]` into option `focused` of `/name` (with `permissions` as in `slash`)."""
        if focused not in options:
            raise FakeDiscordUsageError(f"focused option {focused!r} must be in options")
        who = interactions.invoker(self, user_id, permissions, None, channel_id)
        data = interactions.command_data(self, name, options, who, focused=focused)
        return await self._dispatch(InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE, data, who)

    async def message_command(self, name: str, *, content: str, user_id: int | None = None) -> DispatchedInteraction:
        """Run the message menu command `name` on a message with `content` that the user wrote in the channel."""
        who = interactions.invoker(self, user_id, None, None)
        command = interactions.visible_command(self, name, 3, who, enforce_permissions=True)
        target = payloads.message(self.snowflake(), who.channel_id, who.user, {"content": content})
        data: Payload = {
            "id": command["id"] if command else str(self.snowflake()),
            "name": name,
            "type": 3,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: target}},
        }
        return await self._dispatch(InteractionType.APPLICATION_COMMAND, data, who)

    async def click(self, custom_id: str, *, user_id: int | None = None) -> DispatchedInteraction:
        """Click the button `custom_id` on the newest message the bot sent with it; when none has it, on a bot
        message the fake never saw (which is what a message sent before a restart looks like)."""
        message = next(
            (m for m in reversed(self.messages.values()) if _component(m, custom_id) is not None),
            None,
        ) or payloads.message(
            self.snowflake(),
            self.channel_id,
            self.bot_user,
            {"components": [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": custom_id}]}]},
        )
        button = _component(message, custom_id)
        assert button is not None
        if button.get("disabled"):
            raise FakeDiscordUsageError(f"button {custom_id!r} is disabled: nobody can click it")
        who = interactions.invoker(self, user_id, None, None, int(message["channel_id"]))
        data = {"custom_id": custom_id, "component_type": button["type"], "id": button["id"]}
        return await self._dispatch(InteractionType.MESSAGE_COMPONENT, data, who, message)

    async def post(
        self,
        content: str,
        *,
        channel_id: int | None = None,
        user_id: int | None = None,
        reply_to: int | None = None,
        ping_reply: bool = True,
        message_id: int | None = None,
    ) -> Payload:
        """A member posts `content` in a channel or thread (default: the first channel), optionally as a reply
        (which mentions the replied-to author when `ping_reply`); sent as MESSAGE_CREATE to a session with the
        Guild Messages intent, and without its text unless the session may read it (gateway.as_received)."""
        uid = user_id or self.user_id
        channel = channel_id or self.channel_id
        if self.guild.channel(channel) is None:
            raise FakeDiscordUsageError(f"no channel or thread {channel}")
        member = {k: v for k, v in self.guild.members[uid].items() if k != "user"}
        message = payloads.message(
            message_id or self.snowflake(), channel, self.users[uid], {"content": content}, kind=19 if reply_to else 0
        )
        message.update(guild_id=str(self.guild_id), member=member, **self.mentions_in(content))
        if reply_to is not None:
            replied = self.messages[reply_to]
            message["message_reference"] = {
                "type": 0,
                "message_id": replied["id"],
                "channel_id": replied["channel_id"],
                "guild_id": str(self.guild_id),
            }
            message["referenced_message"] = {k: v for k, v in replied.items() if k != "referenced_message"}
            if ping_reply and all(m["id"] != replied["author"]["id"] for m in message["mentions"]):
                message["mentions"].append(replied["author"])
        self.record_message(message, None)
        await self.gateway.send_event("MESSAGE_CREATE", message, guild_id=self.guild_id, intent=INTENT_GUILD_MESSAGES)
        return message

    async def forum_post(
        self, forum_id: int, title: str, content: str, *, user_id: int | None = None, tags: Sequence[int] = ()
    ) -> int:
        """A member opens a post in a forum: THREAD_CREATE (the new thread, `newly_created`), then the post's
        first message, whose id is the thread's, as MESSAGE_CREATE in the thread. Returns the thread id."""
        forum = self.guild.channel(forum_id)
        if forum is None or forum["type"] != FORUM_CHANNEL:
            raise FakeDiscordUsageError(f"{forum_id} is not a forum channel")
        uid = user_id or self.user_id
        thread_id = self.snowflake()
        thread = payloads.thread(thread_id, self.guild_id, forum_id, uid, title, tags)
        self.guild.threads.append(thread)
        created = {**thread, "newly_created": True}
        await self.gateway.send_event("THREAD_CREATE", created, guild_id=self.guild_id, intent=INTENT_GUILDS)
        await self.post(content, channel_id=thread_id, user_id=uid, message_id=thread_id)
        return thread_id

    async def tag_post(self, thread_id: int, tags: Sequence[int]) -> None:
        """Someone sets a forum post's tags: THREAD_UPDATE with the whole thread, as Discord sends it."""
        thread = self.guild.channel(thread_id)
        assert thread is not None
        thread["applied_tags"] = [str(t) for t in tags]
        await self.gateway.send_event("THREAD_UPDATE", thread, guild_id=self.guild_id, intent=INTENT_GUILDS)

    async def submit_modal(self, custom_id: str, values: Mapping[str, str]) -> DispatchedInteraction:
        """Submit the newest form `custom_id` the bot opened, as the user it opened for, with `values` (input
        custom id to text) typed in."""
        opener = next(
            (s for s in reversed(self.interactions.values()) if (s.modal or {}).get("custom_id") == custom_id), None
        )
        if opener is None or opener.modal is None:
            raise FakeDiscordUsageError(f"the bot never opened a form {custom_id!r}")
        data = {"custom_id": custom_id, "components": interactions.submitted_form(opener.modal, values)}
        return await self._dispatch(InteractionType.MODAL_SUBMIT, data, opener.invoker, opener.payload.get("message"))

    async def _dispatch(
        self, kind: int, data: Payload, who: Invoker, message: Payload | None = None
    ) -> DispatchedInteraction:
        payload = interactions.envelope(self, kind, data, who, message)
        state = InteractionState(payload, who, time.monotonic())
        self.interactions[state.id] = state
        self.by_token[state.token] = state
        await self.gateway.send_event("INTERACTION_CREATE", payload, guild_id=who.guild_id)
        state.created = time.monotonic()
        return DispatchedInteraction(self, state, state.created)


def _component(message: Payload, custom_id: str) -> Payload | None:
    return next((c for c in walk_components(message.get("components") or []) if c.get("custom_id") == custom_id), None)
