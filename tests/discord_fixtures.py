"""pytest fixtures for the fake Discord (tests/fake_discord/), wired in by tests/conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.fake_discord import FakeDiscord


@pytest.fixture
def fake_discord_options() -> dict[str, Any]:
    """Keyword arguments for FakeDiscord; a test module overrides this fixture to change e.g.
    `heartbeat_interval_ms` or `callback_deadline`."""
    return {}


@pytest_asyncio.fixture
async def fake_discord(fake_discord_options: dict[str, Any]) -> AsyncIterator[FakeDiscord]:
    """A started FakeDiscord with discord.py pointed at it for this test.

    At teardown the test fails if the client made a request the fake has no answer for (a test that does so
    on purpose sets `fake.strict_routes = False`)."""
    async with FakeDiscord(**fake_discord_options) as fake, fake.patched_client():
        yield fake
    if fake.strict_routes and fake.unknown_requests:
        pytest.fail(
            "the client made request(s) the fake Discord does not implement:\n  "
            + "\n  ".join(f"{r.method} {r.path} body={r.json!r}" for r in fake.unknown_requests),
            pytrace=False,
        )
