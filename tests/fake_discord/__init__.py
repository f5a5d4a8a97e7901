"""A fake Discord (REST API v10 and gateway) for testing the real, unmodified discord.py client and our bot.

It speaks Discord's wire protocol for what the bot uses and nothing more: login, command sync, the gateway
(HELLO, IDENTIFY with shards, READY, GUILD_CREATE, heartbeats, RESUME, RECONNECT, INVALID_SESSION, zlib or
zstd transport compression as discord.py asks), INTERACTION_CREATE for slash commands (subcommands; string,
integer, boolean, channel and role options), autocomplete, the message menu, buttons and forms, and the
answers: callbacks (message, deferred, autocomplete, modal), webhook follow-ups and messages the bot posts in
a channel by itself, files included (multipart). Members post messages
(MESSAGE_CREATE, only to a session with the Guild Messages intent, and without their text unless it has the
Message Content intent or is mentioned), open forum posts (THREAD_CREATE, then the first message) and tag them
(THREAD_UPDATE); the bot posts replies and starts threads from messages. Every message records whom it would
notify under Discord's allowed-mentions rules (`bot_pings`). It enforces what bots get wrong: a callback after
3 s fails with "Unknown interaction" (10062), a second one with "already acknowledged" (40060), a follow-up
before the callback with "Unknown Webhook" (10015), a second thread from one message with 160004, and every
message, embed, component, command definition, autocomplete list and form is checked against Discord's
documented limits ("Invalid Form Body", 50035). Anything else it is asked is
answered with an error, logged and recorded as unknown; the pytest fixture fails such a test.

    async with FakeDiscord() as fake, fake.patched_client():     # or the `fake_discord` fixture
        async with running_client(bot, fake, wait="guilds"):
            ask = await fake.slash("ask", {"question": "why Postgres?"})
            assert (await ask.callback()).json["type"] == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
            body = (await ask.followup(timeout=30)).json             # the JSON the bot really sent

Modules: `server` (FakeDiscord: the world and what users do), `gateway` (the websocket and dispatches),
`rest` (the route table), `interactions` (INTERACTION_CREATE payloads), `payloads` (Discord's object shapes),
`validation` (the limits, pure functions), `records` (what was seen), `running` (running_client).
"""

from tests.fake_discord.constants import (
    ADMIN_PERMISSIONS,
    MEMBER_PERMISSIONS,
    MODERATOR_PERMISSIONS,
    CallbackType,
    InteractionType,
    Perm,
)
from tests.fake_discord.interactions import DispatchedInteraction, FakeDiscordUsageError
from tests.fake_discord.records import GatewayFrame, Heartbeat, RecordedRequest, Upload
from tests.fake_discord.running import running_client
from tests.fake_discord.server import FakeDiscord

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
    "RecordedRequest",
    "Upload",
    "running_client",
]
