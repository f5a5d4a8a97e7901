"""Shared fixtures: the real embedding model (loaded once) and an index of the sample podcast built with it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.client import PodcastBot
from bot.settings import Settings
from bot.store import BotStore
from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import Embedder, load_embedder
from index.episodes import read_feed
from index.fetch import Fetcher
from index.live import LiveIndex
from index.search import Searcher
from index.settings import IndexSettings
from index.sources import transcript_reader
from tests.discord_fixtures import fake_discord, fake_discord_options  # noqa: F401
from tests.helpers import SAMPLES
from tests.server_fixtures import network_index, network_settings  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory) -> Iterator[Path]:
    """ONNX exports go to a cache of this test session (subprocesses inherit it), not the user's."""
    path = tmp_path_factory.mktemp("model-cache")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(path)
    yield path
    if previous is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture(scope="session")
def real_embedder(model_cache) -> Embedder:
    """The default backend of the bundled all-MiniLM-L6-v2, as the bot and the scripts load it."""
    return load_embedder(IndexSettings(_env_file=None))


def build_from_feed(feed: Path, out: Path, embedder, chunker: ChunkerSettings | None = None):
    parsed = read_feed(feed.read_bytes(), str(feed))
    with Fetcher(out / "cache" / "http") as fetcher:
        return build_index(
            parsed.episodes,
            out,
            embedder=embedder,
            chunker=chunker or ChunkerSettings(),
            read=transcript_reader(fetcher),
            cache_dir=out / "cache",
        )


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, real_embedder) -> Path:
    """The Tiny Stack (samples/, four invented episodes in four formats) indexed with the real model, FAISS and
    SQLite; samples/README.md lists questions and where their answers are."""
    out = tmp_path_factory.mktemp("samples") / "index"
    build_from_feed(SAMPLES / "feed.xml", out, real_embedder)
    return out


@pytest.fixture(scope="session")
def sample_searcher(sample_index, real_embedder) -> Searcher:
    searcher = Searcher.open(sample_index, real_embedder)
    yield searcher
    searcher.close()


@pytest.fixture
def settings(tmp_path, sample_index) -> Settings:
    """A bot serving the sample index: no cooldown, no polling, a floor low enough for four short episodes."""
    return Settings(
        _env_file=None,
        index_dir=sample_index,
        bot_db=tmp_path / "bot.sqlite",
        discord_token="not.a.real-token",
        index_poll_seconds=0,
        cooldown_seconds=0,
        score_floor=0.2,
    )


@pytest.fixture
def make_bot(real_embedder):
    """Bots made from settings, with the real model; their feedback databases are closed after the test."""
    stores: list[BotStore] = []

    def make(settings: Settings):
        store = BotStore(settings.bot_db)
        stores.append(store)
        return PodcastBot(settings, LiveIndex(settings.index_dir, real_embedder), store)

    yield make
    for store in stores:
        store.close()
