"""Fixtures for the per-server features (scopes, mentions, forums, follow-ups, hand-off): an index of two
podcasts, and bot settings serving it. Wired in by tests/conftest.py."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from bot.settings import Settings
from index.build import build_index
from index.chunking import ChunkerSettings
from index.episodes import read_feed
from index.fetch import Fetcher
from index.sources import transcript_reader
from tests.helpers import CORPUS, SAMPLES

TINY_STACK = "The Tiny Stack"
CHANGELOG = "Changelog Media (selected episodes)"  # Go Time #250 and #300 (tests/data/corpus/changelog)


@pytest.fixture(scope="session")
def network_index(tmp_path_factory, real_embedder) -> Path:
    """A podcast network's index: The Tiny Stack (samples/) and two real Go Time episodes, with the real model."""
    out = tmp_path_factory.mktemp("network") / "index"
    episodes = []
    for feed in (SAMPLES / "feed.xml", CORPUS / "changelog" / "feed.xml"):
        episodes += read_feed(feed.read_bytes(), str(feed)).episodes
    with Fetcher(out / "cache" / "http") as fetcher:
        build_index(
            episodes,
            out,
            embedder=real_embedder,
            chunker=ChunkerSettings(),
            read=transcript_reader(fetcher),
            cache_dir=out / "cache",
        )
    return out


@pytest.fixture
def network_settings(settings: Settings, network_index: Path) -> Settings:
    """The `settings` fixture (no cooldown, no polling), serving the two-podcast index."""
    return settings.model_copy(update={"index_dir": network_index})


async def reply_to(fake, message: dict, timeout: float = 30) -> dict:
    """The bot's reply to a user's message, once it has been sent."""

    def replies() -> list[dict]:
        return [
            m
            for m in fake.messages_in(int(message["channel_id"]))
            if (m.get("message_reference") or {}).get("message_id") == message["id"]
        ]

    await fake.wait_until(lambda: bool(replies()), timeout=timeout, what=f"a reply to message {message['id']}")
    (found,) = replies()
    return found


def sent_bodies(fake) -> list[dict]:
    """The JSON of every message the bot asked Discord to post in a channel."""
    return [r.json for r in fake.requests_for("create_message")]


async def eventually(condition, *, timeout: float = 10, what: str = "") -> None:
    """Wait until `condition()` holds, for state the fake Discord does not see (the bot's SQLite)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not {what or condition} after {timeout} s")
        await asyncio.sleep(0.02)


class SearchGate:
    """Holds the bot's searches until released, so a test can act while the bot is searching (our own code's
    seam: the real searcher still answers once the gate opens)."""

    def __init__(self, searcher) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()
        self._search_page = searcher.search_page
        searcher.search_page = self._held

    def _held(self, *args, **kwargs):
        self.entered.set()
        self.released.wait(timeout=30)
        return self._search_page(*args, **kwargs)


def replied_to(fake, channel_id: int) -> set[str]:
    """The ids of the messages the bot replied to in a channel or thread."""
    return {m["message_reference"]["message_id"] for m in fake.messages_in(channel_id) if m.get("message_reference")}
