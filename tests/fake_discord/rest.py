"""The REST API routes the bot calls, in one table, each answering as Discord does (errors included).

Every request is recorded (see records.RecordedRequest). A request to a route the table lacks, or one the fake
does not model (a callback type, a multipart field other than `payload_json` and `files[n]`), is answered with
an error, logged at ERROR and recorded with `route=None`; the pytest fixture then fails the test, so the fake
never silently pretends.
https://discord.com/developers/docs/reference
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from tests.fake_discord import payloads, validation
from tests.fake_discord.constants import (
    ACCEPTED_CALLBACKS,
    API_PREFIX,
    FLAG_EPHEMERAL,
    FLAG_HAS_THREAD,
    FLAG_LOADING,
    FORUM_CHANNEL,
    IMPLEMENTED_CALLBACKS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    SETTABLE_FLAGS,
    TEXT_CHANNEL,
    THREAD_TYPES,
    InteractionType,
    Perm,
)
from tests.fake_discord.interactions import InteractionState
from tests.fake_discord.payloads import FakeGuild
from tests.fake_discord.records import RecordedRequest, Upload
from tests.fake_discord.validation import Response, error

if TYPE_CHECKING:
    from tests.fake_discord.server import FakeDiscord

log = logging.getLogger("fake_discord")
Payload = dict[str, Any]
# Discord's API answers carry it; discord.py retries a 429 only when it is there (without it, the 429 came from
# Cloudflare, not Discord).
DISCORD_HEADERS = {"Via": "1.1 google"}


class Unimplemented(Exception):
    """A request Discord would answer but the fake does not model."""


@dataclass
class Injected:
    method: str
    path: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    times: int


class Rest:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self._injected: list[Injected] = []

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
        """Answer the next `times` requests matching `method` and `path_regex` (searched in the path relative
        to /api/v10) with `status` and `json_body`, e.g. a 429 with `retry_after`."""
        body = json_body if json_body is not None else {"message": f"{status}: injected", "code": 0}
        self._injected.append(
            Injected(method.upper(), re.compile(path_regex), status, body, dict(headers or {}), times)
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        api = request.path.startswith(API_PREFIX + "/")
        rec = RecordedRequest(
            method=request.method,
            path=request.path[len(API_PREFIX) :] if api else request.path,
            query=dict(request.query),
            json=None,
            headers=dict(request.headers),
            t=time.monotonic(),
        )
        try:
            rec.json = await self._read_body(request, rec)
            status, body, headers = await self._answer(request, rec, api)
        except Unimplemented as exc:
            # 400, not 501: discord.py retries a 5xx four times, and this answer will not change.
            (status, body), headers = self._unimplemented(rec, 400, str(exc)), {}
        except Exception as exc:  # a bug in the fake must be loud, not a silent hang
            log.exception("fake discord: handler crashed for %s %s", request.method, rec.path)
            (status, body), headers = error(500, f"fake discord handler crashed: {exc!r}"), {}
        rec.status, rec.response = status, body
        self.fake.requests.append(rec)
        self.fake.notify()
        if status == 204:
            return web.Response(status=204, headers=DISCORD_HEADERS)
        # discord.py only parses bodies whose Content-Type is exactly "application/json" (no charset).
        return web.Response(
            body=json.dumps(body).encode(),
            status=status,
            content_type="application/json",
            headers={**DISCORD_HEADERS, **headers},
        )

    @staticmethod
    async def _read_body(request: web.Request, rec: RecordedRequest) -> Any:
        """The JSON body; of a multipart one (a message with files), its `payload_json`, the files in `rec`."""
        if request.headers.get("Content-Type", "").startswith("multipart/form-data"):
            return await _read_multipart(request, rec)
        raw = await request.read()
        return json.loads(raw) if raw else None

    async def _answer(self, request: web.Request, rec: RecordedRequest, api: bool) -> tuple[int, Any, dict[str, str]]:
        for injected in self._injected if api else []:
            if injected.times > 0 and injected.method == rec.method and injected.path.search(rec.path):
                injected.times -= 1
                rec.route, rec.injected = "injected", True
                return injected.status, injected.body, injected.headers
        known_path = False
        for method, pattern, name, handler, needs_token in ROUTES if api else []:
            match = pattern.fullmatch(rec.path)
            if match is None:
                continue
            known_path = True
            if method == rec.method:
                rec.route, rec.params = name, match.groupdict()
                if needs_token and request.headers.get("Authorization") != f"Bot {self.fake.token}":
                    return *error(401, "401: Unauthorized"), {}
                return *await handler(self, rec), {}
        return *self._unimplemented(rec, 405 if known_path else 404, "no such route in the fake"), {}

    @staticmethod
    def _unimplemented(rec: RecordedRequest, status: int, why: str) -> Response:
        rec.route = None
        log.error(
            "FAKE DISCORD: %s %s (query=%s, body=%s): %s. Add it to tests/fake_discord/ if the bot really needs it.",
            rec.method,
            rec.path,
            rec.query,
            json.dumps(rec.json)[:500] if rec.json is not None else None,
            why,
        )
        return error(status, f"{status}: {why}")

    # -- the logged-in user and the application --

    async def current_user(self, rec: RecordedRequest) -> Response:
        extra = {"verified": True, "mfa_enabled": False, "email": None, "locale": "en-US", "premium_type": 0}
        return 200, {**self.fake.bot_user, **extra, "bio": ""}

    async def application(self, rec: RecordedRequest) -> Response:
        return 200, self.fake.application

    # -- command sync --

    async def overwrite_commands(self, rec: RecordedRequest) -> Response:
        fake = self.fake
        guild = rec.params.get("guild_id")
        if rec.params["application_id"] != str(fake.application_id) or (guild and int(guild) not in fake.guilds):
            return error(403, "Missing Access", 50001)
        refusal = validation.commands_refusal(rec.json)
        if refusal:
            return refusal
        scope = int(guild) if guild else None
        fake.commands[scope] = [self._stored_command(scope, c) for c in rec.json]
        return 200, fake.commands[scope]

    def _stored_command(self, guild_id: int | None, definition: Payload) -> Payload:
        fake = self.fake
        kind = int(definition.get("type", 1))
        permissions = definition.get("default_member_permissions")
        command: Payload = {
            "id": str(fake.command_ids.setdefault((guild_id, kind, definition["name"]), fake.snowflake())),
            "application_id": str(fake.application_id),
            "version": str(fake.snowflake()),
            "type": kind,
            "name": definition["name"],
            "name_localizations": definition.get("name_localizations"),
            "description": definition.get("description", ""),
            "description_localizations": definition.get("description_localizations"),
            # Discord accepts an int or a string and always answers with a string (or null).
            "default_member_permissions": None if permissions is None else str(permissions),
            "dm_permission": definition.get("dm_permission", True),
            "contexts": definition.get("contexts"),
            "integration_types": definition.get("integration_types", [0]),
            "nsfw": definition.get("nsfw", False),
        }
        if definition.get("options"):
            command["options"] = copy.deepcopy(definition["options"])
        if guild_id is not None:
            command["guild_id"] = str(guild_id)
        return command

    # -- interactions: the callback, then follow-ups through the interaction's webhook --

    async def interaction_callback(self, rec: RecordedRequest) -> Response:
        fake = self.fake
        state = fake.interactions.get(int(rec.params["interaction_id"]))
        if state is None or state.token != rec.params["token"]:
            return error(404, "Unknown interaction", 10062)
        state.callbacks.append(rec)
        if state.callback_type is not None:
            return error(400, "Interaction has already been acknowledged.", 40060)
        late = rec.t - state.created
        if fake.callback_deadline is not None and late > fake.callback_deadline:
            log.error("FAKE DISCORD: interaction %s answered after %.2f s -> Unknown interaction", state.id, late)
            return error(404, "Unknown interaction", 10062)
        body = rec.json if isinstance(rec.json, dict) else {}
        kind, data = body.get("type"), body.get("data") or {}
        if kind not in ACCEPTED_CALLBACKS[state.payload["type"]]:
            errors = [(["type"], "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid callback type")]
            return 400, validation.form_error_body(errors)
        if kind not in IMPLEMENTED_CALLBACKS:
            raise Unimplemented(f"callback type {kind}")
        refusal = {
            4: lambda: validation.message_refusal(data, ["data"], files=rec.files),
            8: lambda: validation.autocomplete_refusal(data),
            9: lambda: validation.modal_refusal(data),
        }.get(kind, lambda: None)()
        if refusal:
            return refusal
        state.callback_type = kind
        resource: Payload | None = None
        if kind == 4:
            flags = int(data.get("flags") or 0) & SETTABLE_FLAGS
            message = self._store_message(state, data, flags, files=rec.files)
            resource = {"type": 4, "message": message}
        elif kind == 5:  # "Bot is thinking…": a placeholder the first follow-up replaces
            message = self._store_message(state, {}, (int(data.get("flags") or 0) & FLAG_EPHEMERAL) | FLAG_LOADING)
            state.deferred_pending = True
            resource = {"type": 5, "message": message}
        elif kind == 9:
            state.modal = copy.deepcopy(data)
        if rec.query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        answered: Payload = {"id": str(state.id), "type": state.payload["type"]}
        if resource is not None:
            answered.update(
                response_message_id=resource["message"]["id"],
                response_message_loading=kind == 5,
                response_message_ephemeral=bool(resource["message"]["flags"] & FLAG_EPHEMERAL),
            )
        return 200, {"interaction": answered, **({"resource": resource} if resource else {})}

    async def execute_webhook(self, rec: RecordedRequest) -> Response:
        state = self.fake.by_token.get(rec.params["token"])
        if rec.params["webhook_id"] != str(self.fake.application_id) or state is None:
            return error(404, "Unknown Webhook", 10015)
        state.followups.append(rec)
        if state.callback_type is None:  # Discord creates the interaction's webhook when it is acknowledged
            return error(404, "Unknown Webhook", 10015)
        body = rec.json if isinstance(rec.json, dict) else {}
        refusal = validation.message_refusal(body, files=rec.files)
        if refusal:
            return refusal
        flags = int(body.get("flags") or 0) & SETTABLE_FLAGS
        if state.deferred_pending:
            # The first follow-up after "thinking" replaces it; it is ephemeral when the defer was.
            thinking = self.fake.messages[state.original_message_id]  # type: ignore[index]
            flags = (flags & ~FLAG_EPHEMERAL) | (thinking["flags"] & FLAG_EPHEMERAL)
            message = self._store_message(state, body, flags, replacing=thinking, files=rec.files)
            state.deferred_pending = False
        else:
            message = self._store_message(state, body, flags, files=rec.files)
        return (200, message) if rec.query.get("wait", "").lower() in ("1", "true") else (204, None)

    def _store_message(
        self,
        state: InteractionState,
        body: Payload,
        flags: int,
        replacing: Payload | None = None,
        files: list[Upload] | None = None,
    ) -> Payload:
        """A message the interaction created, as Discord stores and returns it."""
        fake = self.fake
        if state.payload["type"] == InteractionType.APPLICATION_COMMAND:
            kind = 20 if state.payload["data"].get("type", 1) == 1 else 23  # CHAT_INPUT / CONTEXT_MENU_COMMAND
        else:
            kind = 19 if state.payload["type"] == InteractionType.MESSAGE_COMPONENT else 0  # REPLY / DEFAULT
        message_id = int(replacing["id"]) if replacing else fake.snowflake()
        message = payloads.message(message_id, state.invoker.channel_id, fake.bot_user, body, flags=flags, kind=kind)
        payloads.attach(message, body, files or [], fake.snowflake)
        if replacing:
            message["timestamp"] = replacing["timestamp"]
        original = state.original_message_id if state.original_message_id != message_id else None
        message.update(payloads.interaction_metadata(state.payload, state.invoker.user, fake.application_id, original))
        if state.invoker.guild_id is not None:
            message.update(guild_id=str(state.invoker.guild_id), **fake.mentions_in(message["content"]))
        if state.original_message_id is None:
            state.original_message_id = message_id
        fake.record_message(message, body.get("allowed_mentions"))
        return message

    # -- channel messages and threads --

    def _channel(self, rec: RecordedRequest) -> tuple[FakeGuild, Payload] | None:
        """The guild and channel (or thread) of the request's path."""
        channel_id = int(rec.params["channel_id"])
        for guild in self.fake.guilds.values():
            found = guild.channel(channel_id)
            if found is not None:
                return guild, found
        return None

    def _lacks(self, guild: FakeGuild, permission: int) -> Response | None:
        if guild.permissions_of(self.fake.bot_user_id) & permission:
            return None
        return error(403, "Missing Permissions", 50013)

    async def create_message(self, rec: RecordedRequest) -> Response:
        """POST /channels/{id}/messages: a message from the bot (files allowed), a reply when it has a
        `message_reference`. Discord then sends it back to the bot as MESSAGE_CREATE, as it does every message."""
        fake = self.fake
        found = self._channel(rec)
        if found is None:
            return error(404, "Unknown Channel", 10003)
        guild, channel = found
        if channel["type"] == FORUM_CHANNEL:
            return error(400, "Cannot send messages in a non-text channel", 50008)
        in_thread = channel["type"] in THREAD_TYPES
        refused = self._lacks(guild, Perm.SEND_MESSAGES_IN_THREADS if in_thread else Perm.SEND_MESSAGES)
        body = rec.json if isinstance(rec.json, dict) else {}
        refused = refused or validation.message_refusal(body, files=rec.files)
        if refused:
            return refused
        reference = body.get("message_reference")
        replied = fake.messages.get(int(reference.get("message_id") or 0)) if isinstance(reference, dict) else None
        if reference and (replied is None or replied["channel_id"] != channel["id"]):
            if reference.get("fail_if_not_exists", True):
                errors = [(["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")]
                return 400, validation.form_error_body(errors)
            replied = None  # Discord sends it as a plain message
        flags = int(body.get("flags") or 0) & SETTABLE_FLAGS
        message = payloads.message(
            fake.snowflake(), int(channel["id"]), fake.bot_user, body, flags=flags, kind=19 if replied else 0
        )
        message.update(guild_id=str(guild.id), **fake.mentions_in(message["content"]))
        payloads.attach(message, body, rec.files, fake.snowflake)
        if replied is not None:
            message["message_reference"] = {
                "type": 0,
                "message_id": replied["id"],
                "channel_id": replied["channel_id"],
                "guild_id": str(guild.id),
            }
            message["referenced_message"] = {k: v for k, v in replied.items() if k != "referenced_message"}
        fake.record_message(message, body.get("allowed_mentions"))
        fake.gateway.publish("MESSAGE_CREATE", message, guild_id=guild.id, intent=INTENT_GUILD_MESSAGES)
        return 200, message

    async def start_thread(self, rec: RecordedRequest) -> Response:
        """POST /channels/{id}/messages/{message id}/threads: a public thread from a message, with the message's
        id; one per message. THREAD_CREATE follows, as for any new thread."""
        fake = self.fake
        found = self._channel(rec)
        if found is None:
            return error(404, "Unknown Channel", 10003)
        guild, channel = found
        message = fake.messages.get(int(rec.params["message_id"]))
        if message is None or message["channel_id"] != channel["id"]:
            return error(404, "Unknown Message", 10008)
        if channel["type"] != TEXT_CHANNEL:
            return error(400, "Cannot execute action on this channel type", 50024)
        refused = self._lacks(guild, Perm.CREATE_PUBLIC_THREADS)
        if refused:
            return refused
        if message.get("thread"):
            return error(400, "A thread has already been created for this message", 160004)
        body = rec.json if isinstance(rec.json, dict) else {}
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            errors = [(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")]
            return 400, validation.form_error_body(errors)
        thread = payloads.thread(int(message["id"]), guild.id, int(channel["id"]), fake.bot_user_id, name)
        if body.get("auto_archive_duration"):
            thread["thread_metadata"]["auto_archive_duration"] = int(body["auto_archive_duration"])
        joined = {"id": thread["id"], "user_id": str(fake.bot_user_id), "join_timestamp": payloads.iso(), "flags": 0}
        thread["member"] = joined  # the creator joins its thread
        guild.threads.append(thread)
        message["thread"] = thread
        message["flags"] = int(message["flags"]) | FLAG_HAS_THREAD
        fake.gateway.publish(
            "THREAD_CREATE", {**thread, "newly_created": True}, guild_id=guild.id, intent=INTENT_GUILDS
        )
        return 201, thread


async def _read_multipart(request: web.Request, rec: RecordedRequest) -> Any:
    """Discord's multipart shape: a `payload_json` field and the files as `files[n]` (n from 0, with a filename)."""
    payload: Any = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise Unimplemented("nested multipart bodies are not modelled")
        if part.name == "payload_json":
            payload = json.loads(await part.text())
        elif part.name and re.fullmatch(r"files\[\d+\]", part.name) and part.filename:
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            rec.files.append(Upload(part.name, part.filename, content_type, bytes(await part.read())))
        else:
            raise Unimplemented(f"multipart field {part.name!r} (only payload_json and files[n] are modelled)")
    return payload


Handler = Callable[[Rest, RecordedRequest], Awaitable[Response]]
_APP = r"/applications/(?P<application_id>\d+)"
_INTERACTION = r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)"
_GUILD_COMMANDS = _APP + r"/guilds/(?P<guild_id>\d+)/commands"
_WEBHOOK = r"/webhooks/(?P<webhook_id>\d+)/(?P<token>[^/]+)"
_CHANNEL = r"/channels/(?P<channel_id>\d+)"
# (method, path relative to /api/v10, route name, handler, needs "Authorization: Bot <token>")
_ROUTE_TABLE: list[tuple[str, str, str, Handler, bool]] = [
    ("GET", r"/users/@me", "get_current_user", Rest.current_user, True),
    ("GET", r"/oauth2/applications/@me", "get_application", Rest.application, True),
    ("PUT", _APP + r"/commands", "commands_bulk_overwrite", Rest.overwrite_commands, True),
    ("PUT", _GUILD_COMMANDS, "guild_commands_bulk_overwrite", Rest.overwrite_commands, True),
    ("POST", _INTERACTION + r"/callback", "interaction_callback", Rest.interaction_callback, False),
    ("POST", _WEBHOOK, "webhook_execute", Rest.execute_webhook, False),
    ("POST", _CHANNEL + r"/messages", "create_message", Rest.create_message, True),
    ("POST", _CHANNEL + r"/messages/(?P<message_id>\d+)/threads", "start_thread", Rest.start_thread, True),
]
ROUTES = [(method, re.compile(path), name, handler, auth) for method, path, name, handler, auth in _ROUTE_TABLE]
