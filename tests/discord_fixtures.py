"""pytest fixtures for the fake Discord server (see tests/fake_discord.py).

Wire into tests/conftest.py with::

    from tests.discord_fixtures import fake_discord, fake_discord_options  # noqa: F401
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.fake_discord import FakeDiscord


@pytest.fixture
def fake_discord_options() -> dict[str, Any]:
    """Keyword arguments for :class:`FakeDiscord`. Override this fixture in a test module (or parametrize it
    indirectly) to change e.g. ``heartbeat_interval_ms`` or ``callback_deadline``."""
    return {}


@pytest_asyncio.fixture
async def fake_discord(
    monkeypatch: pytest.MonkeyPatch, fake_discord_options: dict[str, Any]
) -> AsyncIterator[FakeDiscord]:
    """A started :class:`FakeDiscord` with discord.py pointed at it: ``discord.http.Route.BASE`` and
    ``DiscordWebSocket.DEFAULT_GATEWAY`` are monkeypatched for this test only.

    At teardown the test fails if the client hit a route the fake does not implement (set
    ``fake.strict_routes = False`` in a test that does so on purpose)."""
    async with FakeDiscord(**fake_discord_options) as fake:
        fake.patch_client(monkeypatch)
        yield fake
        unknown = fake.unknown_requests
    if fake.strict_routes and unknown:
        pytest.fail(
            "the client called route(s) the fake Discord does not implement:\n  "
            + "\n  ".join(f"{r.method} {r.path} body={r.json!r}" for r in unknown),
            pytrace=False,
        )
