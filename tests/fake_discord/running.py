"""Running a real discord.py client against the fake for the length of a block."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TypeVar

import discord

from tests.fake_discord.server import FakeDiscord

ClientT = TypeVar("ClientT", bound=discord.Client)


class _ErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.asynccontextmanager
async def running_client(
    client: ClientT, fake: FakeDiscord, *, wait: str = "ready", timeout: float = 15.0
) -> AsyncIterator[ClientT]:
    """`client.start(fake.token)` in a task for the block, then `client.close()`.

    `wait`: "ready" (on_ready fired, which discord.py delays by `guild_ready_timeout`, 2 s, after the last
    GUILD_CREATE) or "guilds" (every guild is loaded: interactions work). An ERROR that discord.py logged (it
    only logs an exception in an event handler) fails the block.
    """
    if wait not in ("ready", "guilds"):
        raise ValueError(f"wait must be 'ready' or 'guilds', not {wait!r}")
    collector = _ErrorCollector()
    discord_logger = logging.getLogger("discord")
    discord_logger.addHandler(collector)
    task = asyncio.create_task(client.start(fake.token), name="fake-discord-client")

    def reached() -> bool:
        if wait == "ready":
            return client.is_ready()
        return all((g := client.get_guild(gid)) is not None and not g.unavailable for gid in fake.guilds)

    failed = False
    try:
        deadline = time.monotonic() + timeout
        while not reached():
            if task.done():
                task.result()  # raises the login or connection error
                raise RuntimeError("client.start() returned before the client was ready")
            if time.monotonic() > deadline:
                raise TimeoutError(f"client not {wait!r} after {timeout} s")
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
            # close() leaves discord.py's "wait guild_ready_timeout, then dispatch on_ready" task running when
            # the client closes before it was ready (wait="guilds"); cancel it so no task outlives the block.
            ready_task = getattr(client._connection, "_ready_task", None)
            if ready_task is not None and not ready_task.done():
                ready_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ready_task
        finally:
            discord_logger.removeHandler(collector)
        if collector.records and not failed:
            details = "\n".join(
                f"{r.name}: {r.getMessage()}"
                + (f"\n{logging.Formatter().formatException(r.exc_info)}" if r.exc_info else "")
                for r in collector.records
            )
            raise AssertionError(f"discord.py logged {len(collector.records)} error(s):\n{details}")
