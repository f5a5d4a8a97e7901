"""/watch through the real client and the fake Discord: a watch posts once per new or updated episode that says
its phrase, never for what was indexed when it was made, not again after a restart or an identical re-publish."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.render import TOTAL_LIMIT
from bot.store import BotStore
from bot.watches import Sighting, Watch, WatchStore, episode_fingerprints, render_sighting
from index.phrases import Occurrence, PhraseReport
from index.search import Searcher
from index.store import EpisodeRow
from tests.conftest import build_from_feed
from tests.fake_discord import MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS, FakeDiscord, running_client
from tests.helpers import SAMPLES, CountingEmbedder, build_folder_index, write_show

EPHEMERAL = 64
SQLITE_EPISODE = "SQLite in Production"  # the only sample episode that says "SQLite" (samples/README.md)
SEARCH_EPISODE = "Search for Podcasts"  # episode 4: never says it
LINK = re.compile(r"\[▶ (\d+:\d\d)\]\((https://tinystack\.example/episodes/(\d)#t=\d+)\)")


def feed_without(tmp_path: Path, *titles: str) -> Path:
    """The sample feed without the items titled `titles` (the show before they were published), next to a copy
    of the transcripts (so a test may edit one)."""
    feed = (SAMPLES / "feed.xml").read_text(encoding="utf-8")
    for item in re.findall(r"<item>.*?</item>", feed, re.S):
        if any(f"<title>{title}</title>" in item for title in titles):
            feed = feed.replace(item, "")
    if not (tmp_path / "transcripts").exists():
        shutil.copytree(SAMPLES / "transcripts", tmp_path / "transcripts")
    path = tmp_path / ("feed-without.xml" if titles else "feed.xml")
    path.write_text(feed, encoding="utf-8")
    return path


def posts(fake: FakeDiscord, channel_id: int) -> list[dict[str, Any]]:
    """What the bot posted in a channel by itself, in order."""
    return [
        r.json
        for r in fake.requests_for("create_message")
        if r.params["channel_id"] == str(channel_id) and r.status == 200
    ]


async def reload(fake: FakeDiscord, bot) -> None:
    """/reload as a moderator (or the poller, if it was quicker), then wait for the watch check it started."""
    inter = await fake.slash("reload", permissions=MODERATOR_PERMISSIONS)
    reply = (await inter.followup(timeout=30)).json["content"]
    assert reply.startswith(("Now serving build", "Already serving the newest build")), reply
    await bot.watches.settled()


@pytest.mark.asyncio
async def test_a_watch_posts_once_per_new_episode_that_says_the_phrase(
    fake_discord: FakeDiscord, settings, make_bot, real_embedder, tmp_path
):
    fake = fake_discord
    announcements = fake.add_channel("announcements")
    index_dir = tmp_path / "index"
    build_from_feed(feed_without(tmp_path, SQLITE_EPISODE, SEARCH_EPISODE), index_dir, real_embedder)
    watching = settings.model_copy(update={"index_dir": index_dir, "index_poll_seconds": 0.2})
    full_feed = feed_without(tmp_path)

    bot = make_bot(watching)
    async with running_client(bot, fake, wait="guilds"):
        refused = await fake.slash(
            "watch add",
            {"phrase": "SQLite", "channel": announcements},
            permissions=MEMBER_PERMISSIONS,
            enforce_permissions=False,
        )
        assert "Manage Server" in (await refused.callback()).json["data"]["content"]

        # "backup" is said in episode 3, indexed already, and in episode 1, which is not yet.
        for phrase, channel in (("SQLite", announcements), ("backup", fake.channel_id)):
            added = await fake.slash(
                "watch add", {"phrase": phrase, "channel": channel}, permissions=MODERATOR_PERMISSIONS
            )
            reply = (await added.followup(timeout=30)).json
            assert reply["flags"] == EPHEMERAL and f"<#{channel}>" in reply["content"], reply
            assert "The 2 episodes indexed now are not announced" in reply["content"]
        assert not fake.requests_for("create_message")
        again = await fake.slash(
            "watch add", {"phrase": "sqlite", "channel": announcements}, permissions=MODERATOR_PERMISSIONS
        )
        assert "Already watching" in (await again.callback()).json["data"]["content"]

        listed = await fake.slash("watch list", permissions=MODERATOR_PERMISSIONS)
        lines = (await listed.callback()).json["data"]["content"].splitlines()
        assert len(lines) == 2 and f"“SQLite” → <#{announcements}>" in lines[0] and "“backup”" in lines[1]

        # The poller loads the next build: episodes 1 and 4 are new, only episode 1 says "SQLite".
        await asyncio.to_thread(build_from_feed, full_feed, index_dir, real_embedder)
        await fake.wait_until(lambda: posts(fake, fake.channel_id), timeout=30, what="the second watch's post")
        await bot.watches.settled()
        (backup,) = posts(fake, fake.channel_id)
        assert backup["content"].endswith("**SQLite in Production**") and "Running a Discord" not in json.dumps(backup)
        (post,) = posts(fake, announcements)
        assert post["allowed_mentions"] == {"parse": []}
        said = re.fullmatch(
            r"🔔 A new episode mentions “SQLite” \*\*(\d+) times\*\*: \*\*SQLite in Production\*\*", post["content"]
        )
        assert said and int(said[1]) >= 5, post["content"]
        (embed,) = post["embeds"]
        assert embed["title"] == SQLITE_EPISODE and embed["url"] == "https://tinystack.example/episodes/1"
        moments = LINK.findall(embed["description"])
        assert len(moments) == 5 and {m[2] for m in moments} == {"1"}
        assert all("sqlite" in line.casefold() for line in embed["description"].splitlines())

        # The same episodes published again: a new build with nothing new in it.
        await asyncio.to_thread(build_from_feed, full_feed, index_dir, real_embedder)
        await reload(fake, bot)
        assert len(posts(fake, announcements)) == 1

    restarted = make_bot(watching.model_copy(update={"index_poll_seconds": 0}))  # the same database: nothing twice
    async with running_client(restarted, fake, wait="guilds"):
        await restarted.watches.settled()  # the check at start-up
        assert len(posts(fake, announcements)) == 1

        transcript = tmp_path / "transcripts" / "004-search-for-podcasts.srt"  # an episode corrected in place
        transcript.write_text(
            transcript.read_text(encoding="utf-8").replace("Welcome to The Tiny Stack.", "Welcome to SQLite talk."),
            encoding="utf-8",
        )
        await asyncio.to_thread(build_from_feed, full_feed, index_dir, real_embedder)
        await reload(fake, restarted)
        assert len(posts(fake, announcements)) == 2
        update = posts(fake, announcements)[-1]["content"]
        assert update.startswith("🔔 An updated episode mentions “SQLite” **1 time**: **Search for Podcasts**")
        assert len(posts(fake, fake.channel_id)) == 1  # the update does not say "backup"
        assert SEARCH_EPISODE not in json.dumps(posts(fake, announcements)[0])

        (sqlite_watch, _) = restarted.watches.watches.of_guild(fake.guild_id)
        removed = await fake.slash("watch remove", {"watch": str(sqlite_watch.id)}, permissions=MODERATOR_PERMISSIONS)
        assert "Stopped watching “SQLite”" in (await removed.callback()).json["data"]["content"]
        assert [w.phrase for w in restarted.watches.watches.of_guild(fake.guild_id)] == ["backup"]


@pytest.mark.asyncio
async def test_watch_remove_autocompletes_and_refuses_what_it_does_not_know(
    fake_discord: FakeDiscord, settings, make_bot
):
    fake = fake_discord
    async with running_client(make_bot(settings), fake, wait="guilds"):
        for phrase in ("type hints", "Shelfcopy"):
            inter = await fake.slash(
                "watch add", {"phrase": phrase, "channel": fake.channel_id}, permissions=MODERATOR_PERMISSIONS
            )
            await inter.followup(timeout=30)
        ac = await fake.autocomplete(
            "watch remove", {"watch": "shelf"}, focused="watch", permissions=MODERATOR_PERMISSIONS
        )
        (choice,) = (await ac.callback()).json["data"]["choices"]
        assert choice["name"].endswith("“Shelfcopy”")
        unknown = await fake.slash("watch remove", {"watch": "9999"}, permissions=MODERATOR_PERMISSIONS)
        reply = (await unknown.callback()).json["data"]
        assert reply["flags"] == EPHEMERAL and "I don't know that watch" in reply["content"]
        blank = await fake.slash(
            "watch add", {"phrase": "?!", "channel": fake.channel_id}, permissions=MODERATOR_PERMISSIONS
        )
        assert "Watch words" in (await blank.callback()).json["data"]["content"]


def test_fingerprints_change_with_the_words_not_with_a_rebuild(tmp_path):
    show = {"001-one.txt": "00:00:01 We moved to SQLite.\n00:00:09 It was fast.\n", "002-two.txt": "00:00:01 Hello.\n"}
    first = build_folder_index(write_show(tmp_path / "show", show), tmp_path / "a")
    again = build_folder_index(write_show(tmp_path / "show", show), tmp_path / "b")
    show["002-two.txt"] = "00:00:01 Hello there.\n"
    edited = build_folder_index(write_show(tmp_path / "show", show), tmp_path / "c")
    retimed = build_folder_index(
        write_show(tmp_path / "show", {**show, "001-one.txt": show["001-one.txt"].replace("00:00:09", "00:00:12")}),
        tmp_path / "d",
    )

    def fingerprints(report) -> dict[str, str]:
        searcher = Searcher(report.out / "builds" / report.build_id, CountingEmbedder())
        try:
            return episode_fingerprints(searcher.store)
        finally:
            searcher.close()

    a, b, c, d = map(fingerprints, (first, again, edited, retimed))
    assert a == b and len(a) == 2
    assert c["show/001-one.txt"] == a["show/001-one.txt"] and c["show/002-two.txt"] != a["show/002-two.txt"]
    assert d["show/001-one.txt"] == a["show/001-one.txt"]  # re-timed, same words: not news


def test_what_a_watch_has_seen_survives_a_reopened_database(tmp_path):
    store = BotStore(tmp_path / "bot.sqlite")
    watch = WatchStore(store).add(1, 2, "SQLite", {"ep-1": "aaa"})
    WatchStore(store).mark_seen(watch.id, {"ep-2": "bbb"})
    store.close()
    reopened = BotStore(tmp_path / "bot.sqlite")
    try:
        assert WatchStore(reopened).seen(watch.id) == {"ep-1": "aaa", "ep-2": "bbb"}
        assert WatchStore(reopened).remove(1, watch.id) == watch and WatchStore(reopened).seen(watch.id) == {}
    finally:
        reopened.close()


def test_a_post_escapes_what_the_transcript_says_and_stays_within_limits():
    episode = EpisodeRow(
        1, "ep", "The *Show*", "@everyone " + "x" * 300, "https://e.example/1", 1, None, "f", None, 60, "srt"
    )
    said = "<@123456789012345678> said **SQLite** " + "y" * 500
    occurrences = [Occurrence(episode, 60.0 * i, "Ann", said, f"https://e.example/1#t={60 * i}") for i in range(50)]
    report = PhraseReport("SQLite", 50, [(episode, 50)], occurrences)
    rendered = render_sighting(Sighting(Watch(7, 1, 2, "SQLite", 0.0), episode, report, "f", updated=False))
    (embed,) = [e.to_dict() for e in rendered.embeds]
    assert len(rendered.content) <= 2000 and sum(len(e) for e in rendered.embeds) <= TOTAL_LIMIT
    assert "@everyone" not in rendered.content and "<@123456789012345678>" not in embed["description"]
    assert embed["description"].count("https://e.example/1#t=") == 5
    assert "watch #7" in embed["footer"]["text"]
