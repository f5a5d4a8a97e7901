"""The gateway: a websocket per shard speaking Discord's opcodes, with transport compression as discord.py asks.

HELLO, IDENTIFY (shards included), READY and a GUILD_CREATE per guild the shard owns, heartbeats and their
ACKs, RESUME with replay of what was missed, and the server-side events tests use to exercise the client's
recovery: RECONNECT (op 7), INVALID_SESSION (op 9) and a dropped socket.
https://discord.com/developers/docs/events/gateway

`publish` (now) and `send_event` (once a session is ready) are the ways a dispatch (op 0) reaches a client: they
number the event, keep it for RESUME and route it to the shard that owns the guild, as Discord does, and only to a
session that asked for the event's intent. A message reaches a session without its content unless the session has
the Message Content intent, the bot wrote the message or is mentioned in it. A new gateway event is a call to one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from tests.fake_discord import payloads
from tests.fake_discord.constants import (
    INTENT_GUILD_MEMBERS,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    PRIVILEGED_INTENTS,
)
from tests.fake_discord.records import GatewayFrame, Heartbeat

if TYPE_CHECKING:
    from tests.fake_discord.server import FakeDiscord

log = logging.getLogger("fake_discord")
Payload = dict[str, Any]
REPLAY_LIMIT = 5000  # dispatches kept per session for RESUME
MESSAGE_EVENTS = ("MESSAGE_CREATE", "MESSAGE_UPDATE")
CONTENT_FIELDS = {"content": "", "embeds": [], "attachments": [], "components": []}  # `poll` is left out entirely


def as_received(message: Payload, intents: int, bot_user_id: int) -> Payload:
    """A message as a session receives it (https://discord.com/developers/docs/events/gateway#message-content-
    intent): without the Message Content intent its content fields are empty, except in a message the bot sent or
    one that mentions it."""
    mentioned = any(int(user["id"]) == bot_user_id for user in message.get("mentions") or [])
    if intents & INTENT_MESSAGE_CONTENT or mentioned or int(message["author"]["id"]) == bot_user_id:
        return message
    stripped = {k: v for k, v in message.items() if k != "poll"}
    stripped.update(CONTENT_FIELDS)
    if isinstance(message.get("referenced_message"), dict):
        stripped["referenced_message"] = as_received(message["referenced_message"], intents, bot_user_id)
    return stripped


def zstd_compressor() -> Callable[[bytes], bytes]:
    """discord.py asks for zstd-stream whenever it can decompress it (zstandard installed, or Python 3.14)."""
    try:
        import zstandard  # type: ignore[import-not-found]

        stream = zstandard.ZstdCompressor().compressobj()
        return lambda data: stream.compress(data) + stream.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    except ImportError:
        from compression.zstd import ZstdCompressor  # type: ignore[import-not-found]

        compressor = ZstdCompressor()
        return lambda data: compressor.compress(data, mode=ZstdCompressor.FLUSH_BLOCK)


def compressor(kind: str | None) -> Callable[[str], bytes | str]:
    """Transport compression as Discord does it: one stream per connection, flushed after every message."""
    if kind is None:
        return lambda text: text
    if kind == "zlib-stream":
        stream = zlib.compressobj()
        return lambda text: stream.compress(text.encode()) + stream.flush(zlib.Z_SYNC_FLUSH)
    if kind == "zstd-stream":
        compress = zstd_compressor()
        return lambda text: compress(text.encode())
    raise ValueError(f"unsupported gateway compression {kind!r}")


class Connection:
    """One websocket. Frames are queued synchronously (so sequence numbers and wire order agree) and written
    by one task, which also keeps the compression stream in frame order."""

    _ids = itertools.count(1)

    def __init__(self, gateway: Gateway, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.id = next(self._ids)
        self.gateway = gateway
        self.ws = ws
        self.encode = compressor(compress)
        self.session: Session | None = None
        self.closed = False
        self._queue: asyncio.Queue[tuple[Payload, asyncio.Future[bool]]] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(), name=f"fake-discord-gateway-writer-{self.id}")

    def send(self, payload: Payload) -> asyncio.Future[bool]:
        """Queue a frame; the future resolves to True once written (False if the socket closed first)."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self.closed:
            done.set_result(False)
        else:
            self._queue.put_nowait((payload, done))
        return done

    async def _write_loop(self) -> None:
        while True:
            payload, done = await self._queue.get()
            written = False
            if not self.closed and not self.ws.closed:
                encoded = self.encode(json.dumps(payload, separators=(",", ":")))
                try:
                    if isinstance(encoded, bytes):
                        await self.ws.send_bytes(encoded)
                    else:
                        await self.ws.send_str(encoded)
                    written = True
                except (ConnectionError, RuntimeError):
                    self.closed = True
            if written:
                self.gateway.record("send", self.id, payload)
            if not done.done():
                done.set_result(written)

    async def shutdown(self) -> None:
        self.closed = True
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        while not self._queue.empty():
            _, done = self._queue.get_nowait()
            if not done.done():
                done.set_result(False)


@dataclass
class Session:
    session_id: str
    intents: int
    shard: tuple[int, int] | None
    seq: int = 0
    events: list[Payload] = field(default_factory=list)  # dispatches sent, for RESUME
    conn: Connection | None = None
    ready: bool = False

    def owns(self, guild_id: int | None) -> bool:
        """Discord's shard formula; direct messages go to shard 0."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return shard_id == (0 if guild_id is None else (guild_id >> 22) % count)


class Gateway:
    def __init__(self, fake: FakeDiscord, heartbeat_interval_ms: int) -> None:
        self.fake = fake
        self.heartbeat_interval_ms = heartbeat_interval_ms
        # The privileged intents the application was granted: none, like ours (README: none are needed), so
        # a bot asking for one is refused with 4014 as Discord would.
        self.privileged_intents = 0
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.connects: list[dict[str, str]] = []  # the query string of every websocket opened
        self.heartbeats: list[Heartbeat] = []
        self.frames: list[GatewayFrame] = []
        self.replayed: list[Payload] = []  # dispatches re-sent on RESUME

    @property
    def url(self) -> str:
        """What `DiscordWebSocket.DEFAULT_GATEWAY` points at (with a trailing slash, like the real one)."""
        return f"ws://127.0.0.1:{self.fake.port}/"

    def record(self, direction: str, connection: int, payload: Payload) -> None:
        self.frames.append(GatewayFrame(time.monotonic(), direction, connection, payload))
        self.fake.notify()

    @property
    def identifies(self) -> list[Payload]:
        """The `d` of every IDENTIFY received."""
        return [f.payload["d"] for f in self.frames if f.direction == "recv" and f.op == 2]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.connects.append(query)
        ws = web.WebSocketResponse(max_msg_size=0, compress=False, autoping=True)
        await ws.prepare(request)
        try:
            conn = Connection(self, ws, query.get("compress"))
        except (ValueError, ImportError):
            await ws.close(code=4000, message=b"unsupported compression")
            return ws
        self.connections.append(conn)
        try:
            if query.get("encoding", "json") != "json":
                await ws.close(code=4002, message=b"the fake only speaks json")
                return ws
            if query.get("v") not in (None, "10"):
                await ws.close(code=4012, message=b"Invalid API version")
                return ws
            conn.send({"op": 10, "s": None, "t": None, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for frame in ws:
                if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                try:
                    payload = json.loads(frame.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload")
                    break
                self.record("recv", conn.id, payload)
                await self._handle_op(conn, payload)
        finally:
            await conn.shutdown()
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            self.fake.notify()
        return ws

    async def _handle_op(self, conn: Connection, payload: Payload) -> None:
        op, d = payload.get("op"), payload.get("d")
        if op == 1:
            self.heartbeats.append(Heartbeat(time.monotonic(), d, conn.id))
            conn.send({"op": 11, "s": None, "t": None, "d": None})
        elif op == 2:
            await self._identify(conn, d or {})
        elif op == 6:
            await self._resume(conn, d or {})
        else:
            log.error("FAKE DISCORD: gateway opcode %s is not implemented (payload %s); closing 4001", op, payload)
            await conn.ws.close(code=4001, message=b"Unknown opcode")

    async def _identify(self, conn: Connection, d: Payload) -> None:
        intents, shard = d.get("intents"), d.get("shard")
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated")
        elif d.get("token") != self.fake.token:
            await conn.ws.close(code=4004, message=b"Authentication failed")
        elif shard is not None and not 0 <= shard[0] < shard[1]:
            await conn.ws.close(code=4010, message=b"Invalid shard")
        elif not isinstance(intents, int):
            await conn.ws.close(code=4013, message=b"Invalid intent(s)")
        elif intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s)")
        else:
            session = Session(secrets.token_hex(16), intents, tuple(shard) if shard else None)  # type: ignore[arg-type]
            session.conn, conn.session = conn, session
            self.sessions[session.session_id] = session
            self._ready(session)

    def _ready(self, session: Session) -> None:
        fake = self.fake
        guilds = [g for g in fake.guilds.values() if session.owns(g.id)]
        ready: Payload = {
            "v": 10,
            "user_settings": {},
            "user": {**fake.bot_user, "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.url.rstrip("/"),
            "relationships": [],
            "private_channels": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["fake-east", "fake-west"],
            "auth": {},
            "application": {"id": str(fake.application_id), "flags": fake.application["flags"]},
        }
        if session.shard is not None:
            ready["shard"] = list(session.shard)
        self.dispatch(session, "READY", ready)
        session.ready = True
        if session.intents & INTENT_GUILDS:
            for guild in guilds:
                everyone = session.intents & INTENT_GUILD_MEMBERS and len(guild.members) < 250
                members = list(guild.members.values()) if everyone else [guild.members[fake.bot_user_id]]
                self.dispatch(session, "GUILD_CREATE", payloads.guild_create(guild, members))

    async def _resume(self, conn: Connection, d: Payload) -> None:
        session = self.sessions.get(d.get("session_id") or "")
        if session is None or d.get("token") != self.fake.token:
            conn.send({"op": 9, "s": None, "t": None, "d": False})
            return
        session.conn, conn.session = conn, session
        missed = [event for event in session.events if event["s"] > (d.get("seq") or 0)]
        self.replayed += missed
        for event in missed:
            conn.send(event)
        self.dispatch(session, "RESUMED", {})

    def dispatch(self, session: Session, event: str, data: Payload) -> asyncio.Future[bool]:
        """Number a dispatch, keep it for RESUME and queue it on the session's socket, if it has one."""
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.events.append(frame)
        del session.events[:-REPLAY_LIMIT]
        if session.conn is not None:
            return session.conn.send(frame)
        undelivered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        undelivered.set_result(False)
        return undelivered

    def session_for(self, guild_id: int | None) -> Session | None:
        """The newest ready session of the shard that owns `guild_id` (None: direct messages)."""
        return next((s for s in reversed(self.sessions.values()) if s.ready and s.owns(guild_id)), None)

    def publish(
        self, event: str, data: Payload, *, guild_id: int | None = None, intent: int | None = None
    ) -> asyncio.Future[bool] | None:
        """Dispatch `event` now to the ready session of the shard owning `guild_id` if it asked for `intent`
        (None: an event every session gets); None when no session gets it."""
        session = self.session_for(guild_id)
        if session is None or (intent is not None and not session.intents & intent):
            return None
        if event in MESSAGE_EVENTS:
            data = as_received(data, session.intents, self.fake.bot_user_id)
        return self.dispatch(session, event, data)

    async def send_event(
        self, event: str, data: Payload, *, guild_id: int | None = None, intent: int | None = None, timeout: float = 10
    ) -> int | None:
        """Dispatch `event` to the shard owning `guild_id` once it has a session; returns its sequence number,
        or None when the session did not ask for `intent`. An event sent while the client is reconnecting is
        delivered on RESUME, as Discord does."""
        await self.fake.wait_until(lambda: self.session_for(guild_id) is not None, timeout=timeout, what="IDENTIFY")
        session = self.session_for(guild_id)
        assert session is not None
        delivered = self.publish(event, data, guild_id=guild_id, intent=intent)
        if delivered is None:
            return None
        seq = session.seq
        await delivered
        return seq

    def _connected(self, guild_id: int | None) -> tuple[Session, Connection]:
        session = self.session_for(guild_id)
        assert session is not None and session.conn is not None, "no connected client"
        return session, session.conn

    async def request_reconnect(self, guild_id: int | None = None) -> None:
        """Op 7 RECONNECT: the client closes and RESUMEs on `resume_gateway_url`."""
        _, conn = self._connected(guild_id)
        await conn.send({"op": 7, "s": None, "t": None, "d": None})

    async def invalidate_session(self, *, resumable: bool = False, guild_id: int | None = None) -> None:
        """Op 9 INVALID_SESSION: the client IDENTIFYs again unless `resumable`."""
        session, conn = self._connected(guild_id)
        if not resumable:
            session.ready = False
            del self.sessions[session.session_id]
        await conn.send({"op": 9, "s": None, "t": None, "d": resumable})

    async def drop_connection(self, code: int = 4000, guild_id: int | None = None) -> None:
        """Close the socket from the server side; the client reconnects and RESUMEs."""
        _, conn = self._connected(guild_id)
        await conn.ws.close(code=code, message=b"fake discord dropped the connection")

    def heartbeat_gaps(self, since: float | None = None, until: float | None = None) -> list[float]:
        """Seconds between consecutive heartbeats of the same connection within [since, until]."""
        beats = [h for h in self.heartbeats if (since is None or h.t >= since) and (until is None or h.t <= until)]
        return [b.t - a.t for a, b in itertools.pairwise(beats) if a.connection == b.connection]

    async def close(self) -> None:
        for conn in self.connections:
            if not conn.ws.closed:
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=1001, message=b"fake discord shutting down")
            await conn.shutdown()
