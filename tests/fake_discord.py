"""A fake Discord server (REST API v10 + gateway) for testing a real, unmodified discord.py client.

The fake is an aiohttp application bound to 127.0.0.1 on an ephemeral port. It speaks the real wire
protocol: the client logs in over REST, opens the gateway websocket (zlib-stream transport compression,
exactly as discord.py asks for it), receives HELLO / READY / GUILD_CREATE, heartbeats, and gets
``INTERACTION_CREATE`` dispatches built to the API v10 shapes. Every HTTP request the client makes is
recorded (method, path, query, parsed JSON body or multipart ``payload_json``, files, monotonic time)
so tests can assert on the bodies the bot really sent.

Only two discord.py class attributes need pointing at the fake (see :meth:`FakeDiscord.patch_client`):

* ``discord.http.Route.BASE`` - every REST call, including interaction callbacks and webhook follow-ups
  (``discord.webhook.async_`` builds its URLs from the same ``Route`` class);
* ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` - a plain ``discord.Client`` never asks
  ``GET /gateway``: it connects straight to this URL. Reconnects use the ``resume_gateway_url`` from READY,
  which the fake points at itself; ``AutoShardedClient`` asks ``GET /gateway/bot``, also served here.

Nothing else is patched: the bot under test runs exactly as in production.

Usage (see tests/test_fake_discord.py for complete examples)::

    async def test_ping(fake_discord):                     # fixture from tests/discord_fixtures.py
        bot = MyBot()                                      # any discord.Client / commands.Bot
        async with running_client(bot, fake_discord):      # start(), wait for on_ready, close() after
            inter = await fake_discord.slash("ping", {"query": "django"}, permissions=MODERATOR_PERMISSIONS)
            assert (await inter.callback()).json["type"] == 5            # deferred within the deadline
            body = (await inter.followup()).json                         # the follow-up's real JSON body
            assert body["allowed_mentions"]["parse"] == []

The fake enforces the parts of Discord's behaviour that bots get wrong in practice: interaction callbacks
after the 3 s deadline fail with ``Unknown interaction`` (10062), a second callback fails with
``Interaction has already been acknowledged`` (40060), follow-ups before an acknowledgement fail with
``Unknown Webhook`` (10015), and message / embed / component / autocomplete / modal limits are validated
with Discord-style ``Invalid Form Body`` (50035) errors. Unknown routes are recorded, answered with a
Discord-style 404 and logged at ERROR level; the pytest fixture fails the test at teardown if any were hit.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import enum
import itertools
import json
import logging
import re
import secrets
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger("fake_discord")

__all__ = [
    "ADMIN_PERMISSIONS",
    "MEMBER_PERMISSIONS",
    "MODERATOR_PERMISSIONS",
    "CallbackType",
    "DispatchedInteraction",
    "FakeDiscord",
    "FakeDiscordUsageError",
    "GatewayFrame",
    "Heartbeat",
    "InteractionType",
    "Perm",
    "RecordedFile",
    "RecordedRequest",
    "running_client",
]

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000


class Perm(enum.IntFlag):
    """Permission bits (https://discord.com/developers/docs/topics/permissions)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    CREATE_PUBLIC_THREADS = 1 << 35
    SEND_MESSAGES_IN_THREADS = 1 << 38


MEMBER_PERMISSIONS = int(
    Perm.CREATE_INSTANT_INVITE
    | Perm.ADD_REACTIONS
    | Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.CONNECT
    | Perm.SPEAK
    | Perm.CHANGE_NICKNAME
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
)
MODERATOR_PERMISSIONS = MEMBER_PERMISSIONS | int(Perm.MANAGE_GUILD | Perm.MANAGE_MESSAGES)
# What Discord reports for a member with Administrator in a channel: every permission bit.
ADMIN_PERMISSIONS = (1 << 51) - 1


class InteractionType(enum.IntEnum):
    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    APPLICATION_COMMAND_AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class CallbackType(enum.IntEnum):
    PONG = 1
    CHANNEL_MESSAGE_WITH_SOURCE = 4
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
    MODAL = 9
    PREMIUM_REQUIRED = 10
    LAUNCH_ACTIVITY = 12


# Which callback types Discord accepts for which interaction type.
_VALID_CALLBACKS: dict[int, set[int]] = {
    InteractionType.PING: {1},
    InteractionType.APPLICATION_COMMAND: {4, 5, 9, 10, 12},
    InteractionType.MESSAGE_COMPONENT: {4, 5, 6, 7, 9, 10, 12},
    InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE: {8},
    InteractionType.MODAL_SUBMIT: {4, 5, 6, 7, 10},
}

# Gateway intents used by the fake's behaviour.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Message flags.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_IS_VOICE_MESSAGE = 1 << 13
FLAG_IS_COMPONENTS_V2 = 1 << 15
_SETTABLE_FLAGS = (
    FLAG_SUPPRESS_EMBEDS | FLAG_EPHEMERAL | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_IS_VOICE_MESSAGE | FLAG_IS_COMPONENTS_V2
)

_COMMAND_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")


class FakeDiscordUsageError(Exception):
    """The test asked the fake for something real Discord would never send (e.g. a missing required
    option, a command the user may not see, a button that does not exist)."""


def _iso(ts: float | None = None) -> str:
    dt = datetime.fromtimestamp(time.time() if ts is None else ts, tz=UTC)
    return dt.isoformat(timespec="microseconds")


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in {"1", "true", "yes"}


class _Snowflakes:
    """Real-looking, strictly increasing snowflakes (timestamp << 22 | worker | increment)."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        now = ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (1 << 17)
        self._last = max(now, self._last + 1)
        return self._last


# ---------------------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------------------


@dataclass
class RecordedFile:
    field: str  # multipart field name, e.g. "files[0]"
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class RecordedRequest:
    """One HTTP request the client made. ``path`` is relative to ``/api/v10`` (e.g. ``/users/@me``)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any  # parsed JSON body, or the parsed ``payload_json`` part of a multipart body; None if empty
    files: list[RecordedFile]
    headers: dict[str, str]
    t: float  # time.monotonic() on arrival
    route: str | None = None  # symbolic route name, e.g. "interaction_callback"; None if unknown
    params: dict[str, str] = field(default_factory=dict)  # path parameters, e.g. {"interaction_id": ...}
    status: int = 0
    response: Any = None
    injected: bool = False  # answered by inject_error()
    multipart: bool = False

    @property
    def unknown(self) -> bool:
        return self.route is None

    def __repr__(self) -> str:
        body = json.dumps(self.json)[:200] if self.json is not None else ""
        return f"<{self.method} {self.path} -> {self.status} route={self.route} {body}>"


@dataclass
class Heartbeat:
    t: float  # time.monotonic() on arrival
    seq: int | None  # the "d" of the heartbeat (last sequence number the client saw)
    connection: int


@dataclass
class GatewayFrame:
    t: float
    direction: str  # "recv" (client -> fake) or "send" (fake -> client)
    connection: int
    payload: dict[str, Any]

    @property
    def op(self) -> int:
        return self.payload.get("op", -1)

    @property
    def event(self) -> str | None:
        return self.payload.get("t")


@dataclass
class _Invoker:
    user: dict[str, Any]
    permissions: int
    roles: list[int]
    guild_id: int | None
    channel_id: int
    locale: str


@dataclass
class _InteractionState:
    id: int
    token: str
    type: int
    payload: dict[str, Any]
    invoker: _Invoker
    created: float
    callback_type: int | None = None
    callback_at: float | None = None
    original_message_id: int | None = None
    deferred_pending: bool = False  # type 5 sent and not yet filled by the first follow-up / edit
    modal: dict[str, Any] | None = None


@dataclass
class DispatchedInteraction:
    """Handle returned by every interaction dispatch helper."""

    fake: FakeDiscord
    id: int
    token: str
    type: int
    payload: dict[str, Any]
    sent_at: float

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every recorded request that belongs to this interaction (callback, follow-ups, edits...)."""
        return [
            r
            for r in self.fake.requests
            if r.params.get("interaction_id") == str(self.id) or r.params.get("token") == self.token
        ]

    @property
    def callbacks(self) -> list[RecordedRequest]:
        return self.fake.callbacks_for(self.id)

    @property
    def followups(self) -> list[RecordedRequest]:
        return self.fake.followups_for(self.token)

    @property
    def edits(self) -> list[RecordedRequest]:
        return self.fake.edits_for(self.token)

    async def callback(self, timeout: float = 5.0) -> RecordedRequest:
        """Wait for (and return) the first interaction callback request."""
        return await self.fake.wait_for(
            lambda r: r.route == "interaction_callback" and r.params["interaction_id"] == str(self.id),
            timeout=timeout,
            what=f"a callback for interaction {self.id}",
        )

    async def followup(self, index: int = 0, timeout: float = 5.0) -> RecordedRequest:
        """Wait for (and return) the ``index``-th follow-up ``POST /webhooks/{app}/{token}``."""
        await self.fake.wait_until(
            lambda: len(self.followups) > index, timeout=timeout, what=f"follow-up #{index} for {self.id}"
        )
        return self.followups[index]

    async def edit(self, index: int = 0, timeout: float = 5.0) -> RecordedRequest:
        """Wait for (and return) the ``index``-th ``PATCH /webhooks/{app}/{token}/messages/...``."""
        await self.fake.wait_until(
            lambda: len(self.edits) > index, timeout=timeout, what=f"edit #{index} for {self.id}"
        )
        return self.edits[index]

    @property
    def state(self) -> _InteractionState:
        return self.fake._interactions[self.id]

    @property
    def original_message(self) -> dict[str, Any] | None:
        """The current server-side state of the original response message (None if none / deleted)."""
        mid = self.state.original_message_id
        return None if mid is None else self.fake.messages.get(mid)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Current state of every message this interaction created (original first), deleted ones omitted."""
        return [m for m in self.fake.messages.values() if m.get("_interaction_id") == self.id]


# ---------------------------------------------------------------------------------------------------------
# Gateway connection
# ---------------------------------------------------------------------------------------------------------


class _Compressor:
    """Transport compression as Discord does it: one stream per connection, flushed per message."""

    def __init__(self, kind: str | None) -> None:
        self.kind = kind
        self._zlib = None
        self._zstd: Any = None
        self._zstd_flush: Any = None
        if kind == "zlib-stream":
            self._zlib = zlib.compressobj()
        elif kind == "zstd-stream":
            try:
                import zstandard  # type: ignore[import-not-found]

                self._zstd = zstandard.ZstdCompressor().compressobj()
                self._zstd_flush = lambda obj, data: obj.compress(data) + obj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
            except ImportError:
                from compression.zstd import ZstdCompressor  # type: ignore[import-not-found]

                self._zstd = ZstdCompressor()
                self._zstd_flush = lambda obj, data: obj.compress(data, mode=ZstdCompressor.FLUSH_BLOCK)
        elif kind is not None:
            raise ValueError(f"unsupported gateway compression {kind!r}")

    def encode(self, text: str) -> bytes | str:
        data = text.encode("utf-8")
        if self._zlib is not None:
            return self._zlib.compress(data) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        if self._zstd is not None:
            return self._zstd_flush(self._zstd, data)
        return text


class _GatewayConnection:
    _ids = itertools.count(1)

    def __init__(self, fake: FakeDiscord, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.id = next(self._ids)
        self.fake = fake
        self.ws = ws
        self.compressor = _Compressor(compress)
        self.session: _Session | None = None
        self.closed = False
        self.resumed = False
        # Frames are queued synchronously (so sequence numbers and wire order always agree) and written by
        # one task, which also keeps the zlib stream in step with the frame order.
        self._queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[bool]]] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(), name=f"fake-discord-gateway-writer-{self.id}")

    def send(self, payload: dict[str, Any]) -> asyncio.Future[bool]:
        """Queue a frame; the returned future resolves to True once written (False if the socket closed)."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self.closed:
            fut.set_result(False)
        else:
            self._queue.put_nowait((payload, fut))
        return fut

    async def _write_loop(self) -> None:
        while True:
            payload, fut = await self._queue.get()
            ok = False
            if not self.closed and not self.ws.closed:
                encoded = self.compressor.encode(json.dumps(payload, separators=(",", ":")))
                try:
                    if isinstance(encoded, bytes):
                        await self.ws.send_bytes(encoded)
                    else:
                        await self.ws.send_str(encoded)
                    ok = True
                except (ConnectionError, RuntimeError):
                    self.closed = True
            if ok:
                self.fake._record_frame("send", self.id, payload)
            if not fut.done():
                fut.set_result(ok)

    async def shutdown(self) -> None:
        self.closed = True
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        while not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_result(False)


@dataclass
class _Session:
    session_id: str
    identify: dict[str, Any]
    intents: int
    shard: tuple[int, int] | None
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)  # sent dispatches, for RESUME replay
    conn: _GatewayConnection | None = None
    ready_sent: bool = False
    guilds_sent: set[int] = field(default_factory=set)


# ---------------------------------------------------------------------------------------------------------
# Guild model
# ---------------------------------------------------------------------------------------------------------


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: list[dict[str, Any]]
    channels: list[dict[str, Any]]
    members: dict[int, dict[str, Any]]
    joined_at: str
    locale: str = "en-US"
    features: list[str] = field(default_factory=list)

    def channel(self, channel_id: int) -> dict[str, Any] | None:
        return next((c for c in self.channels if int(c["id"]) == channel_id), None)

    def role(self, role_id: int) -> dict[str, Any] | None:
        return next((r for r in self.roles if int(r["id"]) == role_id), None)


# ---------------------------------------------------------------------------------------------------------
# Validation helpers (Discord "Invalid Form Body" errors)
# ---------------------------------------------------------------------------------------------------------

_FormErrors = list[tuple[list[str], str, str]]  # (path, code, message)


def _form_error_body(errors: _FormErrors, prefix: Iterable[str] = ()) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, code, message in errors:
        node = tree
        for part in [*prefix, *path]:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
    return {"message": "Invalid Form Body", "code": 50035, "errors": tree}


def _max_len(errors: _FormErrors, path: list[str], value: Any, limit: int, minimum: int = 0) -> None:
    if value is None:
        return
    n = len(str(value))
    if n > limit:
        errors.append((path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."))
    elif n < minimum:
        errors.append((path, "BASE_TYPE_MIN_LENGTH", f"Must be {minimum} or more in length."))


def _walk_components(components: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for c in components or []:
        yield c
        yield from _walk_components(c.get("components") or [])
        if isinstance(c.get("component"), dict):
            yield from _walk_components([c["component"]])
        if isinstance(c.get("accessory"), dict):
            yield from _walk_components([c["accessory"]])


def _validate_components(errors: _FormErrors, components: list[dict[str, Any]], v2: bool) -> None:
    if not v2 and len(components) > 5:
        errors.append((["components"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length."))
    seen: set[str] = set()
    for i, row in enumerate(components):
        if not v2:
            if row.get("type") != 1:
                errors.append((["components", str(i)], "UNION_TYPE_CHOICES", "Value of field must be 1"))
                continue
            children = row.get("components") or []
            if not 1 <= len(children) <= 5:
                errors.append((["components", str(i), "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5"))
            if any(c.get("type") != 2 for c in children) and len(children) > 1:
                errors.append((["components", str(i), "components"], "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Too wide"))
    for comp in _walk_components(components):
        ctype = comp.get("type")
        custom_id = comp.get("custom_id")
        if ctype == 2:
            is_link = comp.get("style") == 5
            is_premium = comp.get("style") == 6
            if is_link and not comp.get("url"):
                errors.append((["components"], "BUTTON_LINK_URL_REQUIRED", "A link button requires a url"))
            if not is_link and not is_premium and not custom_id:
                errors.append((["components"], "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED", "custom_id required"))
            _max_len(errors, ["components", "label"], comp.get("label"), 80)
        if custom_id is not None:
            _max_len(errors, ["components", "custom_id"], custom_id, 100, 1)
            if custom_id in seen:
                errors.append(
                    (["components"], "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
                )
            seen.add(custom_id)


def _embed_size(embed: dict[str, Any]) -> int:
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or []:
        size += len(f.get("name") or "") + len(f.get("value") or "")
    return size


def _validate_message_body(body: dict[str, Any], *, has_files: bool, is_edit: bool) -> _FormErrors:
    errors: _FormErrors = []
    flags = int(body.get("flags") or 0)
    v2 = bool(flags & FLAG_IS_COMPONENTS_V2)
    content = body.get("content")
    embeds = body.get("embeds") or []
    components = body.get("components") or []
    _max_len(errors, ["content"], content, 2000)
    if v2 and (content or embeds):
        errors.append((["content"], "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2", "Legacy fields"))
    if len(embeds) > 10:
        errors.append((["embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length."))
    total = 0
    for i, e in enumerate(embeds):
        p = ["embeds", str(i)]
        _max_len(errors, [*p, "title"], e.get("title"), 256)
        _max_len(errors, [*p, "description"], e.get("description"), 4096)
        _max_len(errors, [*p, "footer", "text"], (e.get("footer") or {}).get("text"), 2048)
        _max_len(errors, [*p, "author", "name"], (e.get("author") or {}).get("name"), 256)
        fields = e.get("fields") or []
        if len(fields) > 25:
            errors.append(([*p, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
        for j, f in enumerate(fields):
            _max_len(errors, [*p, "fields", str(j), "name"], f.get("name"), 256, 1)
            _max_len(errors, [*p, "fields", str(j), "value"], f.get("value"), 1024, 1)
        color = e.get("color")
        if color is not None and not 0 <= int(color) <= 0xFFFFFF:
            errors.append(([*p, "color"], "NUMBER_TYPE_MAX", "int value should be less than or equal to 16777215."))
        total += _embed_size(e)
    if total > 6000:
        errors.append((["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"))
    _validate_components(errors, components, v2)
    am = body.get("allowed_mentions")
    if am is not None:
        parse = am.get("parse") or []
        for value in parse:
            if value not in ("roles", "users", "everyone"):
                errors.append((["allowed_mentions", "parse"], "BASE_TYPE_CHOICES", f"Value {value!r} invalid"))
        for kind in ("users", "roles"):
            if kind in parse and am.get(kind):
                errors.append(
                    (["allowed_mentions"], "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", f"parse:[{kind}] and {kind}")
                )
    if not is_edit:
        empty = not content and not embeds and not components and not has_files
        empty = empty and not body.get("sticker_ids") and not body.get("poll")
        if empty:
            errors.append(([], "EMPTY_MESSAGE", "Cannot send an empty message"))
    return errors


def _validate_command(errors: _FormErrors, p: list[str], cmd: dict[str, Any]) -> None:
    ctype = cmd.get("type", 1)
    name = cmd.get("name") or ""
    # Slash commands: lowercase, no spaces. Context menus: any 1-32 characters.
    slash_ok = bool(_COMMAND_NAME_RE.match(name)) and name == name.lower()
    valid = slash_ok if ctype == 1 else 1 <= len(name) <= 32
    if not valid:
        errors.append(([*p, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"))
    if ctype == 1:
        _max_len(errors, [*p, "description"], cmd.get("description") or "", 100, 1)
        _validate_options(errors, [*p, "options"], cmd.get("options") or [], depth=0)
    elif cmd.get("description"):
        errors.append(([*p, "description"], "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION", "Must be empty"))


def _validate_options(errors: _FormErrors, p: list[str], options: list[dict[str, Any]], depth: int) -> None:
    if len(options) > 25:
        errors.append((p, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
    seen_optional = False
    names: set[str] = set()
    for i, opt in enumerate(options):
        op = [*p, str(i)]
        name = opt.get("name") or ""
        if not _COMMAND_NAME_RE.match(name) or name != name.lower():
            errors.append(([*op, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"))
        if name in names:
            errors.append(([*op, "name"], "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Duplicate name"))
        names.add(name)
        _max_len(errors, [*op, "description"], opt.get("description") or "", 100, 1)
        otype = opt.get("type")
        if otype in (1, 2):
            if depth >= (1 if otype == 2 else 2):
                errors.append(([*op, "type"], "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Too deeply nested"))
            _validate_options(errors, [*op, "options"], opt.get("options") or [], depth + 1)
            continue
        if opt.get("required"):
            if seen_optional:
                errors.append(
                    (
                        [*op, "required"],
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
                )
        else:
            seen_optional = True
        choices = opt.get("choices") or []
        if len(choices) > 25:
            errors.append(([*op, "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
        if choices and opt.get("autocomplete"):
            errors.append(([*op, "autocomplete"], "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES", "Both"))


# ---------------------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------------------

_Handler = Callable[["FakeDiscord", web.Request, RecordedRequest], Any]


class FakeDiscord:
    """The fake Discord server. Use as ``async with FakeDiscord() as fake:`` or ``await fake.start()``."""

    def __init__(
        self,
        *,
        token: str | None = None,
        heartbeat_interval_ms: int = 500,
        callback_deadline: float | None = 3.0,
        bot_username: str = "FakeBot",
        allowed_privileged_intents: int = PRIVILEGED_INTENTS,
        bot_permissions: int = MEMBER_PERMISSIONS,
        member_permissions: int = MEMBER_PERMISSIONS,
    ) -> None:
        self.snowflake = _Snowflakes()
        self.token = token or f"FAKE.{secrets.token_urlsafe(18)}.{secrets.token_urlsafe(27)}"
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.callback_deadline = callback_deadline
        self.allowed_privileged_intents = allowed_privileged_intents
        self.member_permissions = member_permissions
        self.strict_routes = True  # the pytest fixture fails the test if unknown routes were hit

        # Modern applications: application id == bot user id.
        self.application_id = self.bot_user_id = self.snowflake()
        self.bot_user: dict[str, Any] = self._user_payload(self.bot_user_id, bot_username, bot=True)
        self.owner_user = self._user_payload(self.snowflake(), "app-owner")
        self.application: dict[str, Any] = self._application_payload()

        self.users: dict[int, dict[str, Any]] = {self.bot_user_id: self.bot_user}
        self.user_id = self.snowflake()
        self.users[self.user_id] = self._user_payload(self.user_id, "tester")

        self.requests: list[RecordedRequest] = []
        self.heartbeats: list[Heartbeat] = []
        self.frames: list[GatewayFrame] = []
        self.replayed: list[dict[str, Any]] = []  # dispatches re-sent on RESUME (missed while disconnected)
        self.messages: dict[int, dict[str, Any]] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild_id (None = global) -> commands
        self._command_ids: dict[tuple[int | None, int, str], int] = {}
        self._interactions: dict[int, _InteractionState] = {}
        self._by_token: dict[str, _InteractionState] = {}
        self._files: dict[str, tuple[bytes, str | None]] = {}  # cdn path -> (data, content type)
        self._sessions: dict[str, _Session] = {}
        self._connections: list[_GatewayConnection] = []
        self._injected: list[dict[str, Any]] = []
        self._changed: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

        self.guilds: dict[int, FakeGuild] = {}
        guild = self.add_guild("Fake Guild", bot_permissions=bot_permissions)
        self.guild_id = guild.id
        self.channel_id = int(guild.channels[0]["id"])

    # ----- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        self._changed = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self._ws_handler)
        app.router.add_route("*", "/{tail:.*}", self._http_handler)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.debug("fake discord listening on %s", self.http_url)
        return self

    async def stop(self) -> None:
        for conn in list(self._connections):
            if not conn.ws.closed:
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=1001, message=b"fake discord shutting down")
            await conn.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be set to."""
        return f"{self.http_url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` must be set to (with a trailing slash, like the real one)."""
        return f"ws://127.0.0.1:{self.port}/"

    def patch_client(self, monkeypatch: Any) -> None:
        """Point discord.py at this server via pytest's ``monkeypatch`` (undone automatically)."""
        import discord.gateway
        import discord.http
        import yarl

        monkeypatch.setattr(discord.http.Route, "BASE", self.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url))

    # ----- world model ----------------------------------------------------------------------------------

    def _user_payload(self, user_id: int, username: str, *, bot: bool = False) -> dict[str, Any]:
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

    def _application_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": secrets.token_hex(32),
            "flags": (1 << 19) | (1 << 23),  # GATEWAY_MESSAGE_CONTENT_LIMITED | APPLICATION_COMMAND_BADGE
            "owner": self.owner_user,
            "team": None,
            "bot": self.bot_user,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "tags": [],
            "install_params": {"scopes": ["bot", "applications.commands"], "permissions": "0"},
            "integration_types_config": {"0": {}},
            "approximate_guild_count": 1,
            "approximate_user_install_count": 0,
        }

    def _member_payload(self, user: dict[str, Any], roles: Iterable[int] = (), joined_at: str | None = None) -> dict:
        return {
            "user": user,
            "roles": [str(r) for r in roles],
            "nick": None,
            "avatar": None,
            "banner": None,
            "joined_at": joined_at or _iso(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
            "unusual_dm_activity_until": None,
        }

    def _role_payload(self, role_id: int, name: str, permissions: int, position: int, **extra: Any) -> dict:
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

    def add_guild(
        self, name: str = "Another Guild", *, bot_permissions: int = MEMBER_PERMISSIONS, channels: Iterable[str] = ()
    ) -> FakeGuild:
        """Add a guild the bot is in (must be called before the client identifies to appear in READY)."""
        gid = self.snowflake()
        joined = _iso()
        bot_role_id = self.snowflake()
        roles = [
            self._role_payload(gid, "@everyone", self.member_permissions, 0),
            self._role_payload(
                bot_role_id,
                self.bot_user["username"],
                bot_permissions,
                1,
                managed=True,
                tags={"bot_id": str(self.bot_user_id)},
            ),
        ]
        guild = FakeGuild(
            id=gid,
            name=name,
            owner_id=int(self.owner_user["id"]),
            roles=roles,
            channels=[],
            members={},
            joined_at=joined,
        )
        for ch_name in ["general", *channels]:
            self.add_channel(guild, ch_name)
        guild.members[self.bot_user_id] = self._member_payload(self.bot_user, [bot_role_id], joined)
        guild.members[self.user_id] = self._member_payload(self.users[self.user_id])
        self.guilds[gid] = guild
        return guild

    def add_channel(self, guild: FakeGuild, name: str, *, type: int = 0) -> dict[str, Any]:
        """Add a channel (type 0 = text). A connected client is told with CHANNEL_CREATE, as by Discord."""
        cid = self.snowflake()
        channel = {
            "id": str(cid),
            "type": type,
            "guild_id": str(guild.id),
            "name": name,
            "position": len(guild.channels),
            "permission_overwrites": [],
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        guild.channels.append(channel)
        self._broadcast(guild, "CHANNEL_CREATE", copy.deepcopy(channel), INTENT_GUILDS)
        return channel

    def add_user(self, username: str, *, guild_id: int | None = None, roles: Iterable[int] = ()) -> int:
        """Create a user (and make them a member of ``guild_id``, default the test guild). Returns the id."""
        uid = self.snowflake()
        self.users[uid] = self._user_payload(uid, username)
        guild = self.guilds[guild_id or self.guild_id]
        self._add_member(guild, uid, roles)
        return uid

    def _add_member(self, guild: FakeGuild, user_id: int, roles: Iterable[int] = ()) -> None:
        guild.members[user_id] = self._member_payload(self.users[user_id], roles)
        event = {**copy.deepcopy(guild.members[user_id]), "guild_id": str(guild.id)}
        self._broadcast(guild, "GUILD_MEMBER_ADD", event, INTENT_GUILD_MEMBERS)

    def add_role(self, name: str, permissions: int = 0, *, guild_id: int | None = None) -> int:
        guild = self.guilds[guild_id or self.guild_id]
        rid = self.snowflake()
        guild.roles.append(self._role_payload(rid, name, permissions, len(guild.roles)))
        role_event = {"guild_id": str(guild.id), "role": copy.deepcopy(guild.roles[-1])}
        self._broadcast(guild, "GUILD_ROLE_CREATE", role_event, INTENT_GUILDS)
        return rid

    def _guild_for_channel(self, channel_id: int) -> FakeGuild | None:
        return next((g for g in self.guilds.values() if g.channel(channel_id) is not None), None)

    def _guild_create_payload(self, guild: FakeGuild, session: _Session) -> dict[str, Any]:
        all_members = session.intents & INTENT_GUILD_MEMBERS and len(guild.members) < 250
        members = list(guild.members.values()) if all_members else [guild.members[self.bot_user_id]]
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
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "embedded_activities": [],
            "activity_instances": [],
            "application_command_counts": {},
        }

    # ----- recording / waiting ----------------------------------------------------------------------------

    def _notify(self) -> None:
        """Wake every wait_until() so it re-checks its condition."""
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def _record_frame(self, direction: str, conn_id: int, payload: dict[str, Any]) -> None:
        self.frames.append(GatewayFrame(time.monotonic(), direction, conn_id, payload))
        self._notify()

    async def wait_until(self, condition: Callable[[], bool], *, timeout: float = 5.0, what: str = "") -> None:
        """Wait until ``condition()`` holds; re-checked whenever a request, heartbeat or frame arrives."""
        assert self._changed is not None, "FakeDiscord not started"
        try:
            async with asyncio.timeout(timeout):
                while not condition():
                    await self._changed.wait()
        except TimeoutError:
            recent = "\n  ".join(repr(r) for r in self.requests[-15:])
            raise AssertionError(
                f"fake discord: timed out after {timeout}s waiting for {what or condition}; last requests:\n  {recent}"
            ) from None

    async def wait_for(
        self,
        predicate: Callable[[RecordedRequest], bool],
        *,
        timeout: float = 5.0,
        since: float | None = None,
        what: str = "",
    ) -> RecordedRequest:
        """Return the first recorded request (arrived at/after ``since``) matching ``predicate``, waiting
        up to ``timeout`` seconds for it. Raises AssertionError (listing recent requests) on timeout."""
        found: list[RecordedRequest] = []

        def check() -> bool:
            for r in self.requests:
                if (since is None or r.t >= since) and predicate(r):
                    found.append(r)
                    return True
            return False

        await self.wait_until(check, timeout=timeout, what=what or "a matching request")
        return found[0]

    def requests_for(self, route: str | None = None, method: str | None = None) -> list[RecordedRequest]:
        return [
            r for r in self.requests if (route is None or r.route == route) and (method is None or r.method == method)
        ]

    def callbacks_for(self, interaction_id: int | str) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.route == "interaction_callback" and r.params.get("interaction_id") == str(interaction_id)
        ]

    def followups_for(self, token: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route == "webhook_execute" and r.params.get("token") == token]

    def edits_for(self, token: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route == "webhook_message_edit" and r.params.get("token") == token]

    @property
    def unknown_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route is None]

    @property
    def command_syncs(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route in ("commands_bulk_overwrite", "guild_commands_bulk_overwrite")]

    def heartbeat_gaps(self, since: float | None = None, until: float | None = None) -> list[float]:
        """Gaps (seconds) between consecutive heartbeats on the same connection within [since, until]."""
        gaps: list[float] = []
        beats = [h for h in self.heartbeats if (since is None or h.t >= since) and (until is None or h.t <= until)]
        for a, b in itertools.pairwise(beats):
            if a.connection == b.connection:
                gaps.append(b.t - a.t)
        return gaps

    def channel_messages(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        cid = str(channel_id or self.channel_id)
        return [m for m in self.messages.values() if m["channel_id"] == cid]

    def inject_error(
        self,
        method: str,
        path_regex: str,
        *,
        status: int,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and ``path_regex`` (searched in the
        path relative to /api/v10) with ``status`` / ``json_body`` instead of the normal handler."""
        body = json_body if json_body is not None else {"message": f"{status}: injected", "code": 0}
        self._injected.append(
            {
                "method": method.upper(),
                "re": re.compile(path_regex),
                "status": status,
                "json": body,
                "headers": dict(headers or {}),
                "times": times,
            }
        )

    # ----- HTTP plumbing ------------------------------------------------------------------------------

    @staticmethod
    def _json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
        # discord.py only parses bodies whose Content-Type is exactly "application/json" (no charset).
        return web.Response(
            body=json.dumps(data).encode(), status=status, content_type="application/json", headers=headers
        )

    @staticmethod
    def _error(status: int, message: str, code: int = 0) -> tuple[int, dict[str, Any]]:
        return status, {"message": message, "code": code}

    async def _read_body(self, request: web.Request, rec: RecordedRequest) -> None:
        ctype = request.headers.get("Content-Type", "")
        if ctype.startswith("multipart/"):
            rec.multipart = True
            reader = await request.multipart()
            async for part in reader:
                if part is None:
                    break
                name = part.name or ""
                data = await part.read(decode=False)  # type: ignore[union-attr]
                if name == "payload_json":
                    rec.json = json.loads(bytes(data).decode())
                else:
                    rec.files.append(RecordedFile(name, part.filename, part.headers.get("Content-Type"), bytes(data)))
            return
        raw = await request.read()
        if raw:
            try:
                rec.json = json.loads(raw)
            except ValueError:
                rec.json = raw.decode(errors="replace")

    async def _http_handler(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        full_path = request.path
        path = full_path[len(API_PREFIX) :] if full_path.startswith(API_PREFIX + "/") else full_path
        rec = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=None,
            files=[],
            headers=dict(request.headers),
            t=arrived,
        )
        try:
            await self._read_body(request, rec)
            response = await self._route(request, rec, api=full_path.startswith(API_PREFIX + "/"))
        except Exception as exc:  # a bug in the fake must be loud, not a silent hang
            log.exception("fake discord: handler crashed for %s %s", request.method, path)
            status, body = self._error(500, f"fake discord handler crashed: {exc!r}")
            response = self._json_response(body, status)
            rec.status, rec.response = status, body
        self.requests.append(rec)
        self._notify()
        return response

    async def _route(self, request: web.Request, rec: RecordedRequest, api: bool) -> web.StreamResponse:
        if not api:
            cdn = self._files.get(rec.path)
            if request.method == "GET" and cdn is not None:
                rec.route, rec.status = "cdn", 200
                return web.Response(body=cdn[0], content_type=cdn[1] or "application/octet-stream")
            return self._unknown(rec, 404, "404: Not Found")

        for inj in self._injected:
            if inj["times"] > 0 and inj["method"] == rec.method and inj["re"].search(rec.path):
                inj["times"] -= 1
                rec.injected = True
                rec.route = "injected"
                rec.status, rec.response = inj["status"], inj["json"]
                return self._json_response(inj["json"], inj["status"], inj["headers"])

        path_matched = False
        for method, regex, name, handler, auth in _ROUTES:
            m = regex.fullmatch(rec.path)
            if not m:
                continue
            path_matched = True
            if method != rec.method:
                continue
            rec.route = name
            rec.params = {k: v for k, v in m.groupdict().items() if v is not None}
            if auth and request.headers.get("Authorization") != f"Bot {self.token}":
                status, body = self._error(401, "401: Unauthorized")
            else:
                status, body = await handler(self, request, rec)
            rec.status, rec.response = status, body
            if status == 204:
                return web.Response(status=204)
            return self._json_response(body, status)
        if path_matched:
            return self._unknown(rec, 405, "405: Method Not Allowed")
        return self._unknown(rec, 404, "404: Not Found")

    def _unknown(self, rec: RecordedRequest, status: int, message: str) -> web.Response:
        rec.status, rec.response = status, {"message": message, "code": 0}
        log.error(
            "FAKE DISCORD: UNHANDLED ROUTE %s %s (query=%s, body=%s) -> %s. Add it to tests/fake_discord.py "
            "if the bot really needs it.",
            rec.method,
            rec.path,
            rec.query,
            json.dumps(rec.json)[:500] if rec.json is not None else None,
            status,
        )
        return self._json_response(rec.response, status)

    # ----- REST handlers ---------------------------------------------------------------------------

    async def _h_me(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        me = dict(self.bot_user)
        me.update(
            {"verified": True, "mfa_enabled": False, "email": None, "locale": "en-US", "premium_type": 0, "bio": ""}
        )
        return 200, me

    async def _h_gateway(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url.rstrip("/")}

    async def _h_gateway_bot(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        return 200, {
            "url": self.gateway_url.rstrip("/"),
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1},
        }

    async def _h_application(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        return 200, self.application

    async def _h_get_user(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        user = self.users.get(int(rec.params["user_id"]))
        return (200, user) if user else self._error(404, "Unknown User", 10013)

    async def _h_create_dm(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        uid = int((rec.json or {}).get("recipient_id", 0))
        user = self.users.get(uid)
        if user is None:
            return self._error(400, "Unknown User", 10013)
        channel = {
            "id": str(self._dm_channel_id(uid)),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [user],
        }
        return 200, channel

    def _dm_channel_id(self, user_id: int) -> int:
        # Deterministic per user so repeated create-DM calls return the same channel, as Discord does.
        return user_id + 1

    async def _h_get_guild(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        guild = self.guilds.get(int(rec.params["guild_id"]))
        if guild is None:
            return self._error(404, "Unknown Guild", 10004)
        data = self._guild_create_payload(guild, _Session("", {}, 0, None))
        for key in (
            "members",
            "channels",
            "threads",
            "presences",
            "voice_states",
            "joined_at",
            "large",
            "member_count",
            "lazy",
            "unavailable",
        ):
            data.pop(key, None)
        return 200, data

    async def _h_get_member(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        guild = self.guilds.get(int(rec.params["guild_id"]))
        if guild is None:
            return self._error(404, "Unknown Guild", 10004)
        member = guild.members.get(int(rec.params["user_id"]))
        return (200, member) if member else self._error(404, "Unknown Member", 10007)

    async def _h_get_channel(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        cid = int(rec.params["channel_id"])
        guild = self._guild_for_channel(cid)
        if guild is None:
            return self._error(404, "Unknown Channel", 10003)
        return 200, guild.channel(cid)

    async def _h_typing(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        return 204, None

    # application commands

    def _command_scope(self, rec: RecordedRequest) -> tuple[int | None, tuple[int, Any] | None]:
        if rec.params["application_id"] != str(self.application_id):
            return None, self._error(403, "Missing Access", 50001)
        gid = rec.params.get("guild_id")
        if gid is not None and int(gid) not in self.guilds:
            return None, self._error(403, "Missing Access", 50001)
        return (int(gid) if gid is not None else None), None

    def _store_command(self, guild_id: int | None, payload: dict[str, Any]) -> dict[str, Any]:
        ctype = int(payload.get("type", 1))
        key = (guild_id, ctype, payload["name"])
        cid = self._command_ids.setdefault(key, self.snowflake())
        perms = payload.get("default_member_permissions")
        cmd: dict[str, Any] = {
            "id": str(cid),
            "application_id": str(self.application_id),
            "version": str(self.snowflake()),
            "type": ctype,
            "name": payload["name"],
            "name_localizations": payload.get("name_localizations"),
            "description": payload.get("description", ""),
            "description_localizations": payload.get("description_localizations"),
            # Discord accepts an int or a string and always answers with a string (or null).
            "default_member_permissions": None if perms is None else str(perms),
            "dm_permission": payload.get("dm_permission", True),
            "contexts": payload.get("contexts"),
            "integration_types": payload.get("integration_types", [0]),
            "nsfw": payload.get("nsfw", False),
        }
        if payload.get("options"):
            cmd["options"] = copy.deepcopy(payload["options"])
        if guild_id is not None:
            cmd["guild_id"] = str(guild_id)
        return cmd

    async def _h_commands_get(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        gid, err = self._command_scope(rec)
        return err or (200, self.commands.get(gid, []))

    async def _h_commands_put(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        gid, err = self._command_scope(rec)
        if err:
            return err
        body = rec.json
        if not isinstance(body, list):
            return 400, _form_error_body([([], "BASE_TYPE_ARRAY", "Must be an array.")])
        errors: _FormErrors = []
        seen: set[tuple[int, str]] = set()
        for i, cmd in enumerate(body):
            _validate_command(errors, [str(i)], cmd)
            key = (int(cmd.get("type", 1)), cmd.get("name", ""))
            if key in seen:
                errors.append(([str(i), "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME", "Duplicate name"))
            seen.add(key)
        counts = {t: sum(1 for c in body if int(c.get("type", 1)) == t) for t in (1, 2, 3)}
        if counts[1] > 100 or counts[2] > 15 or counts[3] > 15:
            errors.append(([], "BASE_TYPE_MAX_LENGTH", "Too many application commands"))
        if errors:
            return 400, _form_error_body(errors)
        self.commands[gid] = [self._store_command(gid, c) for c in body]
        return 200, self.commands[gid]

    async def _h_command_post(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        gid, err = self._command_scope(rec)
        if err:
            return err
        errors: _FormErrors = []
        _validate_command(errors, [], rec.json or {})
        if errors:
            return 400, _form_error_body(errors)
        cmd = self._store_command(gid, rec.json)
        existing = self.commands.setdefault(gid, [])
        existing[:] = [c for c in existing if c["id"] != cmd["id"]] + [cmd]
        return 201, cmd

    def _find_command_by_id(self, gid: int | None, command_id: str) -> dict[str, Any] | None:
        return next((c for c in self.commands.get(gid, []) if c["id"] == command_id), None)

    async def _h_command_get(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        gid, err = self._command_scope(rec)
        if err:
            return err
        cmd = self._find_command_by_id(gid, rec.params["command_id"])
        return (200, cmd) if cmd else self._error(404, "Unknown application command", 10063)

    async def _h_command_patch(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        gid, err = self._command_scope(rec)
        if err:
            return err
        cmd = self._find_command_by_id(gid, rec.params["command_id"])
        if cmd is None:
            return self._error(404, "Unknown application command", 10063)
        cmd.update(copy.deepcopy(rec.json or {}))
        return 200, cmd

    async def _h_command_delete(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        gid, err = self._command_scope(rec)
        if err:
            return err
        cmd = self._find_command_by_id(gid, rec.params["command_id"])
        if cmd is None:
            return self._error(404, "Unknown application command", 10063)
        self.commands[gid].remove(cmd)
        return 204, None

    async def _h_command_permissions(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        _, err = self._command_scope(rec)
        return err or (200, [])

    # messages

    def _attachments_from(self, rec: RecordedRequest, channel_id: int, existing: list[dict] | None = None) -> list:
        """Build attachment objects from the multipart files and the body's ``attachments`` list."""
        body = rec.json if isinstance(rec.json, dict) else {}
        by_field = {f.field: f for f in rec.files}
        result: list[dict[str, Any]] = []
        keep = {str(a["id"]): a for a in existing or []}
        meta = body.get("attachments")
        if meta is None:
            meta = [{"id": i} for i in range(len(rec.files))] if rec.files else None
            if meta is None:
                return list(existing or [])
        for item in meta:
            aid = str(item.get("id"))
            if aid in keep:
                result.append(keep[aid])
                continue
            f = by_field.get(f"files[{aid}]")
            if f is None:
                continue
            new_id = self.snowflake()
            filename = item.get("filename") or f.filename or "file"
            cdn_path = f"/attachments/{channel_id}/{new_id}/{filename}"
            self._files[cdn_path] = (f.data, f.content_type)
            att = {
                "id": str(new_id),
                "filename": filename,
                "size": len(f.data),
                "url": f"{self.http_url}{cdn_path}",
                "proxy_url": f"{self.http_url}{cdn_path}",
                "content_type": f.content_type,
            }
            if item.get("description"):
                att["description"] = item["description"]
            result.append(att)
        return result

    @staticmethod
    def _normalize_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
        comps = copy.deepcopy(components)
        counter = itertools.count(1)
        for c in _walk_components(comps):
            c.setdefault("id", next(counter))
        return comps

    def _new_message(
        self,
        *,
        channel_id: int,
        body: dict[str, Any],
        attachments: list[dict[str, Any]],
        flags: int = 0,
        msg_type: int = 0,
        interaction: _InteractionState | None = None,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        embeds = copy.deepcopy(body.get("embeds") or [])
        for e in embeds:
            e.setdefault("type", "rich")
            e.setdefault("content_scan_version", 0)
        msg: dict[str, Any] = {
            "id": str(message_id or self.snowflake()),
            "type": msg_type,
            "channel_id": str(channel_id),
            "author": self.bot_user,
            "content": body.get("content") or "",
            "embeds": embeds,
            "components": self._normalize_components(body.get("components") or []),
            "attachments": attachments,
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(body.get("tts", False)),
            "timestamp": _iso(),
            "edited_timestamp": None,
            "flags": flags,
            "sticker_items": [],
        }
        ref = body.get("message_reference")
        if ref:
            msg["type"] = 19
            msg["message_reference"] = {"type": 0, "channel_id": str(channel_id), **ref}
            msg["referenced_message"] = self.messages.get(int(ref.get("message_id", 0)))
        if interaction is not None:
            msg["webhook_id"] = str(self.application_id)
            msg["application_id"] = str(self.application_id)
            meta: dict[str, Any] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.invoker.user,
                "authorizing_integration_owners": interaction.payload.get("authorizing_integration_owners", {}),
            }
            data = interaction.payload.get("data") or {}
            if interaction.type == InteractionType.APPLICATION_COMMAND:
                meta["name"] = data.get("name")
                meta["command_type"] = data.get("type", 1)
            if interaction.type == InteractionType.MESSAGE_COMPONENT and interaction.payload.get("message"):
                meta["interacted_message_id"] = interaction.payload["message"]["id"]
            if interaction.original_message_id and message_id != interaction.original_message_id:
                meta["original_response_message_id"] = str(interaction.original_message_id)
            msg["interaction_metadata"] = meta
            msg["interaction"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "name": data.get("name", ""),
                "user": interaction.invoker.user,
            }
            msg["_interaction_id"] = interaction.id  # private bookkeeping; stripped from responses
        return msg

    @staticmethod
    def _public(msg: dict[str, Any] | None) -> dict[str, Any] | None:
        if msg is None:
            return None
        return {k: v for k, v in msg.items() if not k.startswith("_")}

    def _apply_edit(self, msg: dict[str, Any], rec: RecordedRequest) -> None:
        body = rec.json if isinstance(rec.json, dict) else {}
        if "content" in body:
            msg["content"] = body["content"] or ""
        if "embeds" in body:
            embeds = copy.deepcopy(body["embeds"] or [])
            for e in embeds:
                e.setdefault("type", "rich")
            msg["embeds"] = embeds
        if "components" in body:
            msg["components"] = self._normalize_components(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            keep = msg["flags"] & (FLAG_EPHEMERAL | FLAG_IS_COMPONENTS_V2)
            msg["flags"] = keep | (int(body["flags"]) & FLAG_SUPPRESS_EMBEDS)
        if "attachments" in body or rec.files:
            msg["attachments"] = self._attachments_from(rec, int(msg["channel_id"]), msg["attachments"])
        msg["edited_timestamp"] = _iso()

    async def _maybe_message_create_event(self, msg: dict[str, Any]) -> None:
        """Dispatch MESSAGE_CREATE for non-ephemeral messages, as Discord does when intents allow."""
        if msg["flags"] & FLAG_EPHEMERAL:
            return
        cid = int(msg["channel_id"])
        guild = self._guild_for_channel(cid)
        for session in list(self._sessions.values()):
            need = INTENT_GUILD_MESSAGES if guild else INTENT_DIRECT_MESSAGES
            if not session.intents & need or session.conn is None:
                continue
            data = self._public(msg) or {}
            if guild is not None:
                data["guild_id"] = str(guild.id)
                member = {k: v for k, v in guild.members[self.bot_user_id].items() if k != "user"}
                data["member"] = member
            self._send_dispatch(session, "MESSAGE_CREATE", data)

    def _validation_error(
        self, rec: RecordedRequest, *, is_edit: bool, prefix: Iterable[str] = (), body: dict | None = None
    ) -> tuple | None:
        if body is None:
            body = rec.json if isinstance(rec.json, dict) else {}
        errors = _validate_message_body(body, has_files=bool(rec.files or body.get("attachments")), is_edit=is_edit)
        if not errors:
            return None
        if any(code == "EMPTY_MESSAGE" for _, code, _ in errors):
            return self._error(400, "Cannot send an empty message", 50006)
        return 400, _form_error_body(errors, prefix)

    async def _h_channel_message_create(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        cid = int(rec.params["channel_id"])
        is_dm = any(self._dm_channel_id(u) == cid for u in self.users)
        if self._guild_for_channel(cid) is None and not is_dm:
            return self._error(404, "Unknown Channel", 10003)
        err = self._validation_error(rec, is_edit=False)
        if err:
            return err
        body = rec.json or {}
        flags = int(body.get("flags") or 0) & (_SETTABLE_FLAGS & ~FLAG_EPHEMERAL)
        msg = self._new_message(channel_id=cid, body=body, attachments=self._attachments_from(rec, cid), flags=flags)
        self.messages[int(msg["id"])] = msg
        await self._maybe_message_create_event(msg)
        return 200, self._public(msg)

    def _channel_message(self, rec: RecordedRequest) -> dict[str, Any] | None:
        msg = self.messages.get(int(rec.params["message_id"]))
        if msg is None or msg["channel_id"] != rec.params["channel_id"]:
            return None
        return msg

    async def _h_channel_message_get(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        msg = self._channel_message(rec)
        return (200, self._public(msg)) if msg else self._error(404, "Unknown Message", 10008)

    async def _h_channel_message_edit(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        msg = self._channel_message(rec)
        if msg is None:
            return self._error(404, "Unknown Message", 10008)
        err = self._validation_error(rec, is_edit=True)
        if err:
            return err
        self._apply_edit(msg, rec)
        return 200, self._public(msg)

    async def _h_channel_message_delete(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        msg = self._channel_message(rec)
        if msg is None:
            return self._error(404, "Unknown Message", 10008)
        del self.messages[int(msg["id"])]
        return 204, None

    # interactions

    async def _h_interaction_callback(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        state = self._interactions.get(int(rec.params["interaction_id"]))
        if state is None or state.token != rec.params["token"]:
            return self._error(404, "Unknown interaction", 10062)
        if state.callback_type is not None:
            return self._error(400, "Interaction has already been acknowledged.", 40060)
        if self.callback_deadline is not None and rec.t - state.created > self.callback_deadline:
            log.error(
                "FAKE DISCORD: interaction %s answered after %.2fs (deadline %.1fs) -> Unknown interaction",
                state.id,
                rec.t - state.created,
                self.callback_deadline,
            )
            return self._error(404, "Unknown interaction", 10062)
        body = rec.json if isinstance(rec.json, dict) else {}
        ctype = body.get("type")
        if ctype not in _VALID_CALLBACKS.get(state.type, set()) or (ctype in (6, 7) and "message" not in state.payload):
            return 400, _form_error_body([(["type"], "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid callback type")])
        data = body.get("data") or {}
        if ctype in (4, 7):
            err = self._validation_error(rec, is_edit=ctype == 7, prefix=["data"], body=data)
            if err:
                return err
        elif ctype == 8:
            errors: _FormErrors = []
            choices = data.get("choices")
            if choices is None:
                errors.append((["data", "choices"], "BASE_TYPE_REQUIRED", "This field is required"))
            else:
                if len(choices) > 25:
                    errors.append((["data", "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
                for i, ch in enumerate(choices):
                    _max_len(errors, ["data", "choices", str(i), "name"], ch.get("name"), 100, 1)
                    if isinstance(ch.get("value"), str):
                        _max_len(errors, ["data", "choices", str(i), "value"], ch["value"], 100)
            if errors:
                return 400, _form_error_body(errors)
        elif ctype == 9:
            errors = []
            _max_len(errors, ["data", "title"], data.get("title"), 45, 1)
            _max_len(errors, ["data", "custom_id"], data.get("custom_id"), 100, 1)
            comps = data.get("components") or []
            if not 1 <= len(comps) <= 5:
                errors.append((["data", "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."))
            if errors:
                return 400, _form_error_body(errors)

        state.callback_type, state.callback_at = ctype, rec.t
        iinfo: dict[str, Any] = {"id": str(state.id), "type": state.type}
        resource: dict[str, Any] | None = None
        cid = state.invoker.channel_id
        if ctype == 4:
            flags = int(data.get("flags") or 0) & _SETTABLE_FLAGS
            mtype = 20 if (state.payload.get("data") or {}).get("type", 1) == 1 else 23
            if state.type != InteractionType.APPLICATION_COMMAND:
                mtype = 19 if state.type == InteractionType.MESSAGE_COMPONENT else 0
            msg = self._new_message(
                channel_id=cid,
                body=data,
                attachments=self._attachments_from(rec, cid),
                flags=flags,
                msg_type=mtype,
                interaction=state,
            )
            state.original_message_id = int(msg["id"])
            self.messages[state.original_message_id] = msg
            resource = {"type": 4, "message": self._public(msg)}
            iinfo.update(
                response_message_id=msg["id"],
                response_message_loading=False,
                response_message_ephemeral=bool(flags & FLAG_EPHEMERAL),
            )
            await self._maybe_message_create_event(msg)
        elif ctype == 5:
            flags = (int(data.get("flags") or 0) & FLAG_EPHEMERAL) | FLAG_LOADING
            msg = self._new_message(
                channel_id=cid, body={}, attachments=[], flags=flags, msg_type=20, interaction=state
            )
            state.original_message_id = int(msg["id"])
            state.deferred_pending = True
            self.messages[state.original_message_id] = msg
            resource = {"type": 5, "message": self._public(msg)}
            iinfo.update(
                response_message_id=msg["id"],
                response_message_loading=True,
                response_message_ephemeral=bool(flags & FLAG_EPHEMERAL),
            )
        elif ctype in (6, 7):
            target = int(state.payload["message"]["id"])
            state.original_message_id = target
            msg = self.messages.get(target)
            if msg is None:  # a message the fake never stored (e.g. a synthetic one): adopt the payload copy
                msg = copy.deepcopy(state.payload["message"])
                self.messages[target] = msg
            if ctype == 7:
                self._apply_edit(msg, RecordedRequest("PATCH", rec.path, {}, data, rec.files, {}, rec.t))
                resource = {"type": 7, "message": self._public(msg)}
            iinfo.update(
                response_message_id=str(target),
                response_message_loading=False,
                response_message_ephemeral=bool(msg["flags"] & FLAG_EPHEMERAL),
            )
        elif ctype == 9:
            state.modal = copy.deepcopy(data)
        if not _truthy(rec.query.get("with_response")):
            return 204, None
        out: dict[str, Any] = {"interaction": iinfo}
        if resource is not None:
            out["resource"] = resource
        return 200, out

    def _webhook_state(self, rec: RecordedRequest) -> tuple[_InteractionState | None, tuple | None]:
        state = self._by_token.get(rec.params["token"])
        if rec.params["webhook_id"] != str(self.application_id) or state is None:
            return None, self._error(404, "Unknown Webhook", 10015)
        if state.callback_type is None:
            # Discord only creates the interaction webhook once the interaction is acknowledged.
            return None, self._error(404, "Unknown Webhook", 10015)
        return state, None

    async def _h_webhook_execute(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        state, err = self._webhook_state(rec)
        if err:
            return err
        assert state is not None
        err = self._validation_error(rec, is_edit=False)
        if err:
            return err
        body = rec.json if isinstance(rec.json, dict) else {}
        cid = state.invoker.channel_id
        if state.deferred_pending:
            # The first follow-up after a deferred (type 5) response replaces the "thinking" message; its
            # ephemerality is the one chosen at defer time.
            msg = self.messages[state.original_message_id]  # type: ignore[index]
            state.deferred_pending = False
            eph = msg["flags"] & FLAG_EPHEMERAL
            new = self._new_message(
                channel_id=cid,
                body=body,
                attachments=self._attachments_from(rec, cid),
                flags=eph | (int(body.get("flags") or 0) & (_SETTABLE_FLAGS & ~FLAG_EPHEMERAL)),
                msg_type=msg["type"],
                interaction=state,
                message_id=int(msg["id"]),
            )
            new["timestamp"] = msg["timestamp"]
            self.messages[int(msg["id"])] = new
            msg = new
        else:
            flags = int(body.get("flags") or 0) & _SETTABLE_FLAGS
            msg = self._new_message(
                channel_id=cid,
                body=body,
                attachments=self._attachments_from(rec, cid),
                flags=flags,
                interaction=state,
            )
            self.messages[int(msg["id"])] = msg
        await self._maybe_message_create_event(msg)
        if _truthy(rec.query.get("wait")):
            return 200, self._public(msg)
        return 204, None

    def _webhook_message(self, state: _InteractionState, message_id: str) -> dict[str, Any] | None:
        mid = state.original_message_id if message_id == "@original" else int(message_id)
        msg = self.messages.get(mid) if mid is not None else None
        if msg is None:
            return None
        # Interaction webhooks may only touch their own messages (or the message a component was on).
        if msg.get("_interaction_id") not in (state.id, None) and mid != state.original_message_id:
            return None
        return msg

    async def _h_webhook_message_get(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        state, err = self._webhook_state(rec)
        if err:
            return err
        assert state is not None
        msg = self._webhook_message(state, rec.params["message_id"])
        return (200, self._public(msg)) if msg else self._error(404, "Unknown Message", 10008)

    async def _h_webhook_message_edit(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        state, err = self._webhook_state(rec)
        if err:
            return err
        assert state is not None
        msg = self._webhook_message(state, rec.params["message_id"])
        if msg is None:
            return self._error(404, "Unknown Message", 10008)
        err = self._validation_error(rec, is_edit=True)
        if err:
            return err
        if msg["flags"] & FLAG_LOADING:
            msg["flags"] &= ~FLAG_LOADING
            if rec.params["message_id"] == "@original":
                state.deferred_pending = False
        self._apply_edit(msg, rec)
        return 200, self._public(msg)

    async def _h_webhook_message_delete(self, request: web.Request, rec: RecordedRequest) -> tuple[int, Any]:
        state, err = self._webhook_state(rec)
        if err:
            return err
        assert state is not None
        msg = self._webhook_message(state, rec.params["message_id"])
        if msg is None:
            return self._error(404, "Unknown Message", 10008)
        del self.messages[int(msg["id"])]
        return 204, None

    # ----- gateway -----------------------------------------------------------------------------------

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return await self._http_handler(request)
        query = dict(request.query)
        self._record_ws_open(query)
        compress = query.get("compress")
        ws = web.WebSocketResponse(max_msg_size=0, compress=False, autoping=True)
        await ws.prepare(request)
        try:
            conn = _GatewayConnection(self, ws, compress)
        except (ValueError, ImportError):
            await ws.close(code=4000, message=b"unsupported compression")
            return ws
        self._connections.append(conn)
        try:
            if query.get("encoding", "json") != "json":
                await ws.close(code=4002, message=b"fake discord only speaks json")
                return ws
            if query.get("v") not in (None, "10"):
                await ws.close(code=4012, message=b"Invalid API version")
                return ws
            conn.send(
                {
                    "op": 10,
                    "s": None,
                    "t": None,
                    "d": {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-gateway"]},
                },
            )
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    raw = msg.data
                elif msg.type == WSMsgType.BINARY:
                    raw = msg.data.decode()
                else:
                    break
                try:
                    payload = json.loads(raw)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload")
                    break
                self._record_frame("recv", conn.id, payload)
                await self._handle_op(conn, payload)
                self._notify()
        finally:
            await conn.shutdown()
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            self._notify()
        return ws

    def _record_ws_open(self, query: dict[str, str]) -> None:
        self.requests.append(
            RecordedRequest("GET", "/", query, None, [], {}, time.monotonic(), route="gateway_connect", status=101)
        )

    async def _handle_op(self, conn: _GatewayConnection, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        d = payload.get("d")
        if op == 1:
            self.heartbeats.append(Heartbeat(time.monotonic(), d, conn.id))
            conn.send({"op": 11, "s": None, "t": None, "d": None})
        elif op == 2:
            await self._identify(conn, d or {})
        elif op == 6:
            await self._resume(conn, d or {})
        elif op == 8:
            await self._request_members(conn, d or {})
        elif op in (3, 4):
            pass  # presence / voice state updates: recorded in self.frames
        else:
            log.error("FAKE DISCORD: unknown gateway opcode %s (payload %s); closing 4001", op, payload)
            await conn.ws.close(code=4001, message=b"Unknown opcode")

    async def _identify(self, conn: _GatewayConnection, d: dict[str, Any]) -> None:
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated")
            return
        if d.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed")
            return
        intents = d.get("intents")
        if not isinstance(intents, int):
            await conn.ws.close(code=4013, message=b"Invalid intent(s)")
            return
        if intents & PRIVILEGED_INTENTS & ~self.allowed_privileged_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s)")
            return
        shard = tuple(d["shard"]) if d.get("shard") else None
        session = _Session(secrets.token_hex(16), d, intents, shard)  # type: ignore[arg-type]
        session.conn = conn
        conn.session = session
        self._sessions[session.session_id] = session
        guilds = [g for g in self.guilds.values() if shard is None or (g.id >> 22) % shard[1] == shard[0]]
        ready = {
            "v": 10,
            "user_settings": {},
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url.rstrip("/"),
            "relationships": [],
            "private_channels": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["fake-east", "fake-west"],
            "auth": {},
            "application": {"id": str(self.application_id), "flags": self.application["flags"]},
            "_trace": ["fake-gateway"],
        }
        if shard is not None:
            ready["shard"] = list(shard)
        self._send_dispatch(session, "READY", ready)
        session.ready_sent = True
        if intents & INTENT_GUILDS:
            for guild in guilds:
                self._send_dispatch(session, "GUILD_CREATE", self._guild_create_payload(guild, session))
                session.guilds_sent.add(guild.id)

    async def _resume(self, conn: _GatewayConnection, d: dict[str, Any]) -> None:
        session = self._sessions.get(d.get("session_id") or "")
        if session is None or d.get("token") != self.token:
            conn.send({"op": 9, "s": None, "t": None, "d": False})
            return
        conn.session = session
        conn.resumed = True
        session.conn = conn
        last = d.get("seq") or 0
        for event in session.events:
            if event["s"] > last:
                self.replayed.append(event)
                conn.send(event)
        self._send_dispatch(session, "RESUMED", {"_trace": ["fake-gateway"]})

    async def _request_members(self, conn: _GatewayConnection, d: dict[str, Any]) -> None:
        session = conn.session
        guild = self.guilds.get(int(d.get("guild_id") or 0))
        if session is None or guild is None:
            return
        members = list(guild.members.values())
        not_found: list[str] = []
        if d.get("user_ids"):
            wanted = [int(u) for u in d["user_ids"]]
            members = [guild.members[u] for u in wanted if u in guild.members]
            not_found = [str(u) for u in wanted if u not in guild.members]
        elif d.get("query"):
            q = d["query"].lower()
            members = [m for m in members if m["user"]["username"].lower().startswith(q)]
        if d.get("limit"):
            members = members[: int(d["limit"])]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": copy.deepcopy(members),
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": not_found,
        }
        if d.get("presences"):
            chunk["presences"] = []
        if d.get("nonce"):
            chunk["nonce"] = d["nonce"]
        self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _send_dispatch(self, session: _Session, event: str, data: dict[str, Any]) -> asyncio.Future[bool]:
        """Assign the next sequence number, keep the event for RESUME replay and queue it for sending."""
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.events.append(frame)
        del session.events[:-5000]
        if session.conn is not None:
            return session.conn.send(frame)
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        fut.set_result(False)
        return fut

    def _broadcast(self, guild: FakeGuild, event: str, data: dict[str, Any], intent: int) -> None:
        """Dispatch a guild event to every session that has that guild and the intent for the event."""
        for session in self._sessions.values():
            if guild.id in session.guilds_sent and session.intents & intent:
                self._send_dispatch(session, event, data)

    def _current_session(self) -> _Session | None:
        live = [s for s in self._sessions.values() if s.ready_sent]
        return live[-1] if live else None

    async def wait_until_identified(self, timeout: float = 10.0) -> None:
        """Wait until a client has IDENTIFYed and received READY (+ GUILD_CREATEs)."""
        await self.wait_until(lambda: self._current_session() is not None, timeout=timeout, what="IDENTIFY")

    async def send_event(self, event: str, data: dict[str, Any], *, timeout: float = 10.0) -> int:
        """Dispatch a raw gateway event (op 0) to the connected client; returns its sequence number.
        Events sent while the client is reconnecting are buffered and replayed on RESUME, as Discord does."""
        await self.wait_until_identified(timeout)
        session = self._current_session()
        assert session is not None
        delivered = self._send_dispatch(session, event, data)
        seq = session.seq
        await delivered  # False if the socket dropped: the event is then replayed on RESUME
        return seq

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: the client must close and RESUME on ``resume_gateway_url``."""
        session = self._current_session()
        assert session is not None and session.conn is not None, "no connected client"
        await session.conn.send({"op": 7, "s": None, "t": None, "d": None})

    async def invalidate_session(self, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION (the client re-IDENTIFYs unless ``resumable``)."""
        session = self._current_session()
        assert session is not None and session.conn is not None, "no connected client"
        if not resumable:
            session.ready_sent = False
            self._sessions.pop(session.session_id, None)
        await session.conn.send({"op": 9, "s": None, "t": None, "d": resumable})

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the gateway socket from the server side (the client should reconnect and RESUME)."""
        session = self._current_session()
        assert session is not None and session.conn is not None, "no connected client"
        await session.conn.ws.close(code=code, message=b"fake discord dropped the connection")

    @property
    def connections(self) -> list[_GatewayConnection]:
        return list(self._connections)

    # ----- interaction builders ----------------------------------------------------------------------

    def _invoker(
        self,
        *,
        user_id: int | None,
        permissions: int | None,
        roles: Iterable[int] | None,
        guild_id: int | bool | None,
        channel_id: int | None,
        locale: str,
    ) -> _Invoker:
        uid = user_id or self.user_id
        if uid not in self.users:
            self.users[uid] = self._user_payload(uid, f"user{uid % 10000}")
        perms = self.member_permissions if permissions is None else int(permissions)
        if perms & Perm.ADMINISTRATOR:
            perms = ADMIN_PERMISSIONS
        if guild_id is False:  # bot DM
            return _Invoker(self.users[uid], perms, [], None, channel_id or self._dm_channel_id(uid), locale)
        if guild_id:
            gid = int(guild_id)
        else:
            channel_guild = self._guild_for_channel(channel_id) if channel_id else None
            gid = channel_guild.id if channel_guild else self.guild_id
        guild = self.guilds[gid]
        if uid not in guild.members:
            self._add_member(guild, uid, roles or ())
        role_ids = list(roles) if roles is not None else [int(r) for r in guild.members[uid]["roles"]]
        if [str(r) for r in role_ids] != guild.members[uid]["roles"]:
            guild.members[uid]["roles"] = [str(r) for r in role_ids]
            update = {**copy.deepcopy(guild.members[uid]), "guild_id": str(guild.id)}
            self._broadcast(guild, "GUILD_MEMBER_UPDATE", update, INTENT_GUILD_MEMBERS)
        cid = channel_id or int(guild.channels[0]["id"])
        return _Invoker(self.users[uid], perms, role_ids, gid, cid, locale)

    def _envelope(self, itype: int, data: dict[str, Any] | None, inv: _Invoker, message: dict | None) -> dict:
        iid = self.snowflake()
        token = f"aW50ZXJhY3Rpb246{iid}:{secrets.token_urlsafe(96)}".replace(":", "-")
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "token": token,
            "version": 1,
            "locale": inv.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if data is not None:
            payload["data"] = data
        if inv.guild_id is not None:
            guild = self.guilds[inv.guild_id]
            channel = dict(
                guild.channel(inv.channel_id)
                or {"id": str(inv.channel_id), "type": 0, "name": "unknown", "guild_id": str(guild.id), "position": 0}
            )
            channel["permissions"] = str(inv.permissions)
            member = copy.deepcopy(guild.members[int(inv.user["id"])])
            member["roles"] = [str(r) for r in inv.roles]
            member["permissions"] = str(inv.permissions)
            bot_role_perms = 0
            for rid in [guild.id, *[int(r) for r in guild.members[self.bot_user_id]["roles"]]]:
                role = guild.role(rid)
                bot_role_perms |= int(role["permissions"]) if role else 0
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": guild.locale, "features": list(guild.features)},
                guild_locale=guild.locale,
                channel_id=str(inv.channel_id),
                channel=channel,
                member=member,
                app_permissions=str(ADMIN_PERMISSIONS if bot_role_perms & Perm.ADMINISTRATOR else bot_role_perms),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(
                channel_id=str(inv.channel_id),
                channel={
                    "id": str(inv.channel_id),
                    "type": 1,
                    "last_message_id": None,
                    "flags": 0,
                    "recipients": [inv.user],
                },
                user=inv.user,
                app_permissions=str(MEMBER_PERMISSIONS),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        if message is not None:
            payload["message"] = self._public(message)
        return payload

    async def dispatch(
        self,
        interaction_type: int,
        data: dict[str, Any] | None,
        *,
        user_id: int | None = None,
        permissions: int | None = None,
        roles: Iterable[int] | None = None,
        guild_id: int | bool | None = None,
        channel_id: int | None = None,
        locale: str = "en-US",
        message: dict[str, Any] | None = None,
        timeout: float = 10.0,
    ) -> DispatchedInteraction:
        """Build a real INTERACTION_CREATE around ``data`` and dispatch it over the gateway.

        ``user_id`` defaults to ``fake.user_id``; ``permissions`` (int bitset, e.g. ``MODERATOR_PERMISSIONS``
        or ``MEMBER_PERMISSIONS | Perm.MANAGE_GUILD``) defaults to ``fake.member_permissions``;
        ``guild_id=False`` sends it from a DM with the bot; ``message`` is the message a component was on.
        """
        inv = self._invoker(
            user_id=user_id,
            permissions=permissions,
            roles=roles,
            guild_id=guild_id,
            channel_id=channel_id,
            locale=locale,
        )
        return await self._dispatch_payload(self._envelope(interaction_type, data, inv, message), inv, timeout)

    async def _dispatch_payload(
        self, payload: dict[str, Any], inv: _Invoker, timeout: float = 10.0
    ) -> DispatchedInteraction:
        await self.wait_until_identified(timeout)
        iid = int(payload["id"])
        state = _InteractionState(iid, payload["token"], payload["type"], payload, inv, time.monotonic())
        self._interactions[iid] = state
        self._by_token[state.token] = state
        await self.send_event("INTERACTION_CREATE", payload)
        state.created = time.monotonic()
        return DispatchedInteraction(self, iid, state.token, state.type, payload, state.created)

    # -- application commands --

    def find_command(self, name: str, *, type: int = 1, guild_id: int | None = None) -> dict[str, Any] | None:
        """The synced command a Discord client would invoke: guild commands first, then global ones."""
        scopes: list[int | None] = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name and cmd["type"] == type:
                    return cmd
        return None

    def _command_for(self, name: str, ctype: int, inv: _Invoker, enforce_permissions: bool) -> dict | None:
        cmd = self.find_command(name, type=ctype, guild_id=inv.guild_id)
        synced_any = any(self.commands.values())
        if cmd is None:
            if synced_any:
                raise FakeDiscordUsageError(
                    f"command {name!r} (type {ctype}) was never synced for guild {inv.guild_id}; synced: "
                    f"{[c['name'] for cmds in self.commands.values() for c in cmds]}"
                )
            return None
        if enforce_permissions:
            required = cmd.get("default_member_permissions")
            if required is not None and inv.guild_id is not None:
                need = int(required)
                if not inv.permissions & Perm.ADMINISTRATOR and (inv.permissions & need) != need:
                    raise FakeDiscordUsageError(
                        f"Discord would not let this user run /{name}: needs permissions {need}, has "
                        f"{inv.permissions} (pass enforce_permissions=False to bypass)"
                    )
            contexts = cmd.get("contexts")
            ctx = 0 if inv.guild_id is not None else 1
            if contexts is not None and ctx not in contexts:
                raise FakeDiscordUsageError(f"/{name} is not available in interaction context {ctx}")
            if inv.guild_id is None and contexts is None and cmd.get("dm_permission") is False:
                raise FakeDiscordUsageError(f"/{name} is not available in DMs")
        return cmd

    @staticmethod
    def _infer_type(value: Any) -> int:
        if isinstance(value, bool):
            return 5
        if isinstance(value, int):
            return 4
        if isinstance(value, float):
            return 10
        return 3

    def _option(self, otype: int, name: str, value: Any, resolved: dict[str, dict], inv: _Invoker) -> dict:
        if otype == 4:
            value = int(value)
        elif otype == 10:
            value = float(value)
        elif otype == 5:
            value = bool(value)
        elif otype == 3:
            value = str(value)
        elif otype in (6, 9) and int(value) in self.users:
            uid = int(value)
            resolved.setdefault("users", {})[str(uid)] = self.users[uid]
            if inv.guild_id is not None and uid in self.guilds[inv.guild_id].members:
                member = {k: v for k, v in self.guilds[inv.guild_id].members[uid].items() if k != "user"}
                member["permissions"] = str(self.member_permissions)
                resolved.setdefault("members", {})[str(uid)] = member
            value = str(uid)
        elif otype in (8, 9) and inv.guild_id is not None and self.guilds[inv.guild_id].role(int(value)):
            resolved.setdefault("roles", {})[str(value)] = self.guilds[inv.guild_id].role(int(value))
            value = str(value)
        elif otype == 7:
            guild = self._guild_for_channel(int(value))
            ch = dict(guild.channel(int(value)) if guild else {"id": str(value), "type": 0, "name": "unknown"})
            ch["permissions"] = str(inv.permissions)
            resolved.setdefault("channels", {})[str(value)] = ch
            value = str(value)
        elif otype == 11:
            if not isinstance(value, dict) or "data" not in value:
                raise FakeDiscordUsageError("attachment options take {'filename': ..., 'data': bytes}")
            aid = self.snowflake()
            filename = value.get("filename", "file.bin")
            cdn_path = f"/ephemeral-attachments/{self.application_id}/{aid}/{filename}"
            self._files[cdn_path] = (value["data"], value.get("content_type"))
            resolved.setdefault("attachments", {})[str(aid)] = {
                "id": str(aid),
                "filename": filename,
                "size": len(value["data"]),
                "url": f"{self.http_url}{cdn_path}",
                "proxy_url": f"{self.http_url}{cdn_path}",
                "content_type": value.get("content_type"),
                "ephemeral": True,
            }
            value = str(aid)
        return {"name": name, "type": otype, "value": value}

    def _command_data(
        self,
        name: str,
        options: Mapping[str, Any] | list[dict[str, Any]] | None,
        inv: _Invoker,
        *,
        focused: str | None,
        enforce_permissions: bool,
    ) -> dict[str, Any]:
        root, *path = name.split()
        cmd = self._command_for(root, 1, inv, enforce_permissions)
        resolved: dict[str, dict] = {}
        defs: list[dict[str, Any]] | None = (cmd or {}).get("options") if cmd else None
        path_types: list[int] = []
        for part in path:
            sub = next((o for o in defs or [] if o["name"] == part), None) if defs is not None else None
            if cmd is not None and sub is None:
                raise FakeDiscordUsageError(f"/{root} has no subcommand (group) {part!r}")
            path_types.append(sub["type"] if sub else (2 if len(path) == 2 and not path_types else 1))
            defs = sub.get("options") if sub else None
        if isinstance(options, list):
            opts = copy.deepcopy(options)
        else:
            opts = []
            for oname, value in (options or {}).items():
                odef = next((o for o in defs or [] if o["name"] == oname), None)
                if cmd is not None and defs is not None and odef is None:
                    raise FakeDiscordUsageError(f"/{name} has no option {oname!r}")
                otype = odef["type"] if odef else self._infer_type(value)
                if oname == focused:
                    opt = {"name": oname, "type": otype, "value": str(value), "focused": True}
                else:
                    opt = self._option(otype, oname, value, resolved, inv)
                    if odef and odef.get("choices") and opt["value"] not in [c["value"] for c in odef["choices"]]:
                        raise FakeDiscordUsageError(f"{value!r} is not a choice of option {oname!r}")
                opts.append(opt)
            if focused is None and defs is not None:
                missing = [o["name"] for o in defs if o.get("required") and o["name"] not in (options or {})]
                if missing:
                    raise FakeDiscordUsageError(f"/{name}: required option(s) {missing} missing")
        for part, ptype in zip(reversed(path), reversed(path_types), strict=True):
            opts = [{"name": part, "type": ptype, "options": opts}]
        data: dict[str, Any] = {"id": cmd["id"] if cmd else str(self.snowflake()), "name": root, "type": 1}
        if opts:
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        if cmd and cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return data

    async def slash(
        self,
        name: str,
        options: Mapping[str, Any] | list[dict[str, Any]] | None = None,
        *,
        enforce_permissions: bool = True,
        **ctx: Any,
    ) -> DispatchedInteraction:
        """Dispatch ``/name`` (``"group sub"`` for subcommands). ``options`` maps option name to value
        (types taken from the synced command; users/channels/roles by id; attachments as
        ``{"filename", "data"}``), or is a raw list of option dicts. ``ctx``: see :meth:`dispatch`."""
        inv = self._invoker(**self._ctx_args(ctx))
        data = self._command_data(name, options, inv, focused=None, enforce_permissions=enforce_permissions)
        return await self._dispatch_payload(self._envelope(InteractionType.APPLICATION_COMMAND, data, inv, None), inv)

    async def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        enforce_permissions: bool = True,
        **ctx: Any,
    ) -> DispatchedInteraction:
        """Dispatch an autocomplete request for option ``focused`` (its value is what the user typed)."""
        if focused not in options:
            raise FakeDiscordUsageError(f"focused option {focused!r} must be in options")
        inv = self._invoker(**self._ctx_args(ctx))
        data = self._command_data(name, options, inv, focused=focused, enforce_permissions=enforce_permissions)
        payload = self._envelope(InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE, data, inv, None)
        return await self._dispatch_payload(payload, inv)

    async def message_command(
        self,
        name: str,
        target: dict[str, Any] | None = None,
        *,
        content: str = "a message to act on",
        author_id: int | None = None,
        enforce_permissions: bool = True,
        **ctx: Any,
    ) -> DispatchedInteraction:
        """Dispatch a message context-menu command on ``target`` (a message dict) or on a new message
        with ``content`` written by ``author_id`` (default: the invoking user) in the invoking channel."""
        inv = self._invoker(**self._ctx_args(ctx))
        cmd = self._command_for(name, 3, inv, enforce_permissions)
        if target is None:
            author = self.users[author_id or int(inv.user["id"])]
            target = {
                "id": str(self.snowflake()),
                "type": 0,
                "channel_id": str(inv.channel_id),
                "author": author,
                "content": content,
                "embeds": [],
                "components": [],
                "attachments": [],
                "mentions": [],
                "mention_roles": [],
                "mention_everyone": False,
                "pinned": False,
                "tts": False,
                "timestamp": _iso(),
                "edited_timestamp": None,
                "flags": 0,
            }
            self.messages[int(target["id"])] = target
        data: dict[str, Any] = {
            "id": cmd["id"] if cmd else str(self.snowflake()),
            "name": name,
            "type": 3,
            "target_id": str(target["id"]),
            "resolved": {"messages": {str(target["id"]): self._public(target)}},
        }
        if cmd and cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return await self._dispatch_payload(self._envelope(InteractionType.APPLICATION_COMMAND, data, inv, None), inv)

    async def user_command(
        self, name: str, target_user_id: int | None = None, *, enforce_permissions: bool = True, **ctx: Any
    ) -> DispatchedInteraction:
        """Dispatch a user context-menu command on ``target_user_id`` (default: the invoking user)."""
        inv = self._invoker(**self._ctx_args(ctx))
        cmd = self._command_for(name, 2, inv, enforce_permissions)
        resolved: dict[str, dict] = {}
        target = target_user_id or int(inv.user["id"])
        self._option(6, "target", target, resolved, inv)
        data: dict[str, Any] = {
            "id": cmd["id"] if cmd else str(self.snowflake()),
            "name": name,
            "type": 2,
            "target_id": str(target),
            "resolved": resolved,
        }
        if cmd and cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return await self._dispatch_payload(self._envelope(InteractionType.APPLICATION_COMMAND, data, inv, None), inv)

    # -- components & modals --

    def find_message_with_component(self, custom_id: str) -> dict[str, Any] | None:
        """The most recent stored message carrying a component with this custom_id."""
        for msg in reversed(list(self.messages.values())):
            if any(c.get("custom_id") == custom_id for c in _walk_components(msg.get("components") or [])):
                return msg
        return None

    async def click(
        self,
        custom_id: str,
        *,
        message: dict[str, Any] | None = None,
        component_type: int | None = None,
        values: list[str] | None = None,
        **ctx: Any,
    ) -> DispatchedInteraction:
        """Click a button / choose select ``values`` on ``message`` (default: the latest message the bot
        sent that has this custom_id; if none, a synthetic bot message carrying just that button, which is
        what a click on a pre-restart message of a persistent view looks like)."""
        if message is None:
            message = self.find_message_with_component(custom_id)
        if message is None:
            message = self._new_message(
                channel_id=ctx.get("channel_id") or self.channel_id,
                body={
                    "components": [
                        {"type": 1, "components": [{"type": 2, "style": 1, "label": custom_id, "custom_id": custom_id}]}
                    ]
                },
                attachments=[],
            )
            self.messages[int(message["id"])] = message
        comp = next(
            (c for c in _walk_components(message.get("components") or []) if c.get("custom_id") == custom_id), None
        )
        if comp is None:
            raise FakeDiscordUsageError(f"message {message['id']} has no component with custom_id {custom_id!r}")
        if comp.get("disabled"):
            raise FakeDiscordUsageError(f"component {custom_id!r} is disabled; Discord users cannot click it")
        ctype = component_type or comp.get("type", 2)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if "id" in comp:
            data["id"] = comp["id"]
        if ctype in (3, 5, 6, 7, 8):
            data["values"] = list(values or [])
        ctx.setdefault("channel_id", int(message["channel_id"]))
        inv = self._invoker(**self._ctx_args(ctx))
        payload = self._envelope(InteractionType.MESSAGE_COMPONENT, data, inv, message)
        return await self._dispatch_payload(payload, inv)

    def _latest_modal(self, custom_id: str) -> _InteractionState | None:
        for state in reversed(list(self._interactions.values())):
            if state.modal is not None and state.modal.get("custom_id") == custom_id:
                return state
        return None

    async def submit_modal(
        self,
        custom_id: str,
        values: Mapping[str, str | list[str]],
        **ctx: Any,
    ) -> DispatchedInteraction:
        """Submit the modal with ``custom_id`` that the bot opened (a type 9 callback), filling its inputs
        from ``values`` (input custom_id -> text, or list of values for selects). The submission mirrors
        the modal's layout (action rows or labels) and comes from the user/channel that opened it. If the
        bot never opened such a modal, a plain action-row layout of text inputs is sent."""
        opener = self._latest_modal(custom_id)
        if opener is not None:
            for key, value in {
                "user_id": int(opener.invoker.user["id"]),
                "channel_id": opener.invoker.channel_id,
                "guild_id": opener.invoker.guild_id if opener.invoker.guild_id else False,
                "permissions": opener.invoker.permissions,
                "roles": opener.invoker.roles,
            }.items():
                ctx.setdefault(key, value)
        inv = self._invoker(**self._ctx_args(ctx))
        remaining = dict(values)

        def submitted(comp: dict[str, Any]) -> dict[str, Any] | None:
            cid = comp.get("custom_id")
            if cid is None:
                return None
            out: dict[str, Any] = {"type": comp["type"], "custom_id": cid}
            if "id" in comp:
                out["id"] = comp["id"]
            if comp["type"] == 4:
                out["value"] = str(remaining.pop(cid, comp.get("value") or ""))
            else:
                v = remaining.pop(cid, [])
                out["values"] = [v] if isinstance(v, str) else list(v)
            return out

        components: list[dict[str, Any]] = []
        if opener is not None:
            for top in opener.modal.get("components") or []:  # type: ignore[union-attr]
                if top.get("type") == 1:
                    row = [s for c in top.get("components") or [] if (s := submitted(c))]
                    if row:
                        components.append({"type": 1, **({"id": top["id"]} if "id" in top else {}), "components": row})
                elif top.get("type") == 18 and isinstance(top.get("component"), dict):
                    s = submitted(top["component"])
                    if s:
                        components.append({"type": 18, **({"id": top["id"]} if "id" in top else {}), "component": s})
                elif top.get("type") == 10:
                    components.append({"type": 10, "id": top.get("id", 0)})
        for cid, value in remaining.items():
            components.append({"type": 1, "components": [{"type": 4, "custom_id": cid, "value": str(value)}]})
        data = {"custom_id": custom_id, "components": components}
        message = None
        if opener is not None and "message" in opener.payload:
            message = self.messages.get(int(opener.payload["message"]["id"]), opener.payload["message"])
        payload = self._envelope(InteractionType.MODAL_SUBMIT, data, inv, message)
        return await self._dispatch_payload(payload, inv)

    @staticmethod
    def _ctx_args(ctx: dict[str, Any]) -> dict[str, Any]:
        allowed = {"user_id", "permissions", "roles", "guild_id", "channel_id", "locale"}
        unknown = set(ctx) - allowed
        if unknown:
            raise TypeError(f"unknown interaction context argument(s): {sorted(unknown)}")
        return {
            "user_id": ctx.get("user_id"),
            "permissions": ctx.get("permissions"),
            "roles": ctx.get("roles"),
            "guild_id": ctx.get("guild_id"),
            "channel_id": ctx.get("channel_id"),
            "locale": ctx.get("locale", "en-US"),
        }


# (method, path regex relative to /api/v10, route name, handler, needs "Authorization: Bot <token>")
_APP = r"/applications/(?P<application_id>\d+)"
_GUILD_CMDS = _APP + r"/guilds/(?P<guild_id>\d+)/commands"
_WEBHOOK = r"/webhooks/(?P<webhook_id>\d+)/(?P<token>[^/]+)"
_CHANNEL = r"/channels/(?P<channel_id>\d+)"
_ROUTE_SPECS: list[tuple[str, str, str, Callable[..., Any], bool]] = [
    ("GET", r"/users/@me", "get_current_user", FakeDiscord._h_me, True),
    ("GET", r"/users/(?P<user_id>\d+)", "get_user", FakeDiscord._h_get_user, True),
    ("POST", r"/users/@me/channels", "create_dm", FakeDiscord._h_create_dm, True),
    ("GET", r"/gateway", "get_gateway", FakeDiscord._h_gateway, False),
    ("GET", r"/gateway/bot", "get_gateway_bot", FakeDiscord._h_gateway_bot, True),
    ("GET", r"/oauth2/applications/@me", "get_application", FakeDiscord._h_application, True),
    ("GET", r"/applications/@me", "get_application", FakeDiscord._h_application, True),
    ("GET", _APP + r"/commands", "commands_list", FakeDiscord._h_commands_get, True),
    ("PUT", _APP + r"/commands", "commands_bulk_overwrite", FakeDiscord._h_commands_put, True),
    ("POST", _APP + r"/commands", "command_create", FakeDiscord._h_command_post, True),
    ("GET", _APP + r"/commands/(?P<command_id>\d+)", "command_get", FakeDiscord._h_command_get, True),
    ("PATCH", _APP + r"/commands/(?P<command_id>\d+)", "command_edit", FakeDiscord._h_command_patch, True),
    ("DELETE", _APP + r"/commands/(?P<command_id>\d+)", "command_delete", FakeDiscord._h_command_delete, True),
    ("GET", _GUILD_CMDS, "guild_commands_list", FakeDiscord._h_commands_get, True),
    ("PUT", _GUILD_CMDS, "guild_commands_bulk_overwrite", FakeDiscord._h_commands_put, True),
    ("POST", _GUILD_CMDS, "guild_command_create", FakeDiscord._h_command_post, True),
    ("GET", _GUILD_CMDS + r"/permissions", "guild_command_permissions", FakeDiscord._h_command_permissions, True),
    ("GET", _GUILD_CMDS + r"/(?P<command_id>\d+)", "guild_command_get", FakeDiscord._h_command_get, True),
    ("PATCH", _GUILD_CMDS + r"/(?P<command_id>\d+)", "guild_command_edit", FakeDiscord._h_command_patch, True),
    ("DELETE", _GUILD_CMDS + r"/(?P<command_id>\d+)", "guild_command_delete", FakeDiscord._h_command_delete, True),
    (
        "POST",
        r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback",
        "interaction_callback",
        FakeDiscord._h_interaction_callback,
        False,
    ),
    ("POST", _WEBHOOK, "webhook_execute", FakeDiscord._h_webhook_execute, False),
    (
        "GET",
        _WEBHOOK + r"/messages/(?P<message_id>@original|\d+)",
        "webhook_message_get",
        FakeDiscord._h_webhook_message_get,
        False,
    ),
    (
        "PATCH",
        _WEBHOOK + r"/messages/(?P<message_id>@original|\d+)",
        "webhook_message_edit",
        FakeDiscord._h_webhook_message_edit,
        False,
    ),
    (
        "DELETE",
        _WEBHOOK + r"/messages/(?P<message_id>@original|\d+)",
        "webhook_message_delete",
        FakeDiscord._h_webhook_message_delete,
        False,
    ),
    ("GET", _CHANNEL, "get_channel", FakeDiscord._h_get_channel, True),
    ("POST", _CHANNEL + r"/typing", "typing", FakeDiscord._h_typing, True),
    ("POST", _CHANNEL + r"/messages", "channel_message_create", FakeDiscord._h_channel_message_create, True),
    (
        "GET",
        _CHANNEL + r"/messages/(?P<message_id>\d+)",
        "channel_message_get",
        FakeDiscord._h_channel_message_get,
        True,
    ),
    (
        "PATCH",
        _CHANNEL + r"/messages/(?P<message_id>\d+)",
        "channel_message_edit",
        FakeDiscord._h_channel_message_edit,
        True,
    ),
    (
        "DELETE",
        _CHANNEL + r"/messages/(?P<message_id>\d+)",
        "channel_message_delete",
        FakeDiscord._h_channel_message_delete,
        True,
    ),
    ("GET", r"/guilds/(?P<guild_id>\d+)", "get_guild", FakeDiscord._h_get_guild, True),
    ("GET", r"/guilds/(?P<guild_id>\d+)/members/(?P<user_id>\d+)", "get_member", FakeDiscord._h_get_member, True),
]
_ROUTES = [(m, re.compile(p), name, h, auth) for m, p, name, h, auth in _ROUTE_SPECS]


# ---------------------------------------------------------------------------------------------------------
# Running a client against the fake
# ---------------------------------------------------------------------------------------------------------


class _ErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.asynccontextmanager
async def running_client(
    client: Any,
    fake: FakeDiscord,
    *,
    wait: str = "ready",
    timeout: float = 15.0,
    fail_on_errors: bool = True,
) -> AsyncIterator[Any]:
    """Run ``client.start(fake.token)`` in a task for the duration of the block, then close it.

    ``wait``: ``"ready"`` (``client.is_ready()``, i.e. on_ready fired - discord.py waits
    ``guild_ready_timeout``, default 2 s, after the last GUILD_CREATE), ``"guilds"`` (the client has
    processed the GUILD_CREATEs: interactions work, but on_ready may not have fired yet), or ``"none"``.
    With ``fail_on_errors`` any ERROR logged by discord.py (e.g. an exception in a command handler, which
    discord.py only logs) fails the block when it exits.
    """
    if wait not in ("ready", "guilds", "none"):
        raise ValueError(f"wait must be 'ready', 'guilds' or 'none', not {wait!r}")
    collector = _ErrorCollector()
    discord_logger = logging.getLogger("discord")
    discord_logger.addHandler(collector)
    task = asyncio.create_task(client.start(fake.token), name="fake-discord-client")

    def reached() -> bool:
        if wait == "ready":
            return client.is_ready()
        if wait == "guilds":
            guilds = [client.get_guild(gid) for gid in fake.guilds]
            return all(g is not None and not g.unavailable for g in guilds)
        return True

    failed = False
    try:
        deadline = time.monotonic() + timeout
        while not reached():
            if task.done():
                task.result()  # raises the login / connection error
                raise RuntimeError("client.start() returned before the client was ready")
            if time.monotonic() > deadline:
                raise TimeoutError(f"client not {wait!r} after {timeout}s")
            await asyncio.sleep(0.01)
        yield client
    except BaseException:
        failed = True
        raise
    finally:
        try:
            await client.close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)
            # discord.py's close() leaves the "wait guild_ready_timeout, then dispatch on_ready" task running
            # when the client is closed before it was ready (wait="guilds"); cancel it so no task leaks.
            ready_task = getattr(getattr(client, "_connection", None), "_ready_task", None)
            if ready_task is not None and not ready_task.done():
                ready_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ready_task
        finally:
            discord_logger.removeHandler(collector)
        if fail_on_errors and collector.records and not failed:
            details = "\n".join(
                f"{r.name}: {r.getMessage()}"
                + (f"\n{logging.Formatter().formatException(r.exc_info)}" if r.exc_info else "")
                for r in collector.records
            )
            raise AssertionError(f"discord.py logged {len(collector.records)} error(s):\n{details}")
