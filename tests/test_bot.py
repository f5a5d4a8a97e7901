"""The bot end to end: the real discord.py client against the fake Discord server, the real model and index."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import re
import shutil
import sqlite3
import statistics
import time
from typing import Any

import pytest
from pydantic import SecretStr

from bot.insights import load_insights
from bot.store import BotStore
from index.build import STORE_FILE
from index.layout import IndexLayout
from tests.conftest import build_from_feed
from tests.fake_discord import MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS, CallbackType, FakeDiscord, running_client
from tests.helpers import ROOT, SAMPLES

HEARTBEAT_MS = 400
EPHEMERAL = 64
BACKUP_QUESTION = "What backup tool does Marta recommend?"
BACKUP_MOMENT = range(208, 241)  # 3:28–4:00 of episode 1: Marta's answer, where she recommends Shelfcopy
LINK = re.compile(r"\[▶ (?:\d+:)?\d+:\d\d\]\((https://tinystack\.example/episodes/1#t=(\d+))\)")


@pytest.fixture
def fake_discord_options() -> dict[str, Any]:
    return {"heartbeat_interval_ms": HEARTBEAT_MS}


def custom_ids(body: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in body.get("components", []) for c in row.get("components", [])]


def moments(body: dict[str, Any]) -> list[int]:
    return [int(m.group(2)) for e in body["embeds"] for m in [LINK.search(e["description"])] if m]


@pytest.mark.asyncio
async def test_ask_defers_at_once_then_quotes_the_backup_advice_with_a_link(
    fake_discord: FakeDiscord, settings, make_bot
):
    async with running_client(make_bot(settings), fake_discord, wait="guilds"):
        inter = await fake_discord.slash("ask", {"question": BACKUP_QUESTION})
        callback = await inter.callback()
        assert callback.json["type"] == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        assert not callback.json.get("data", {}).get("flags", 0) & EPHEMERAL
        assert callback.t - inter.sent_at < 3

        body = (await inter.followup(timeout=30)).json
        assert body["allowed_mentions"] == {"parse": []}
        assert BACKUP_QUESTION in body["content"]
        assert body["embeds"][0]["title"] == "SQLite in Production"
        assert len(body["embeds"]) == settings.results_per_page
        assert moments(body)[0] in BACKUP_MOMENT, moments(body)
        ids = custom_ids(body)
        assert re.fullmatch(r"pqa:more:\d+:0", ids[0]) and re.fullmatch(r"pqa:same:\d+:0", ids[1])
        assert [i.rsplit(":", 1)[1] for i in ids[2:4]] == ["up", "down"]
        assert re.fullmatch(r"pqa:follow:\d+", ids[4])
        labels = [c["label"] for row in body["components"] for c in row["components"] if "label" in c]
        assert "More from SQLite in Production" in labels


@pytest.mark.asyncio
async def test_fifty_questions_at_once_are_all_answered_while_heartbeats_keep_time(
    fake_discord: FakeDiscord, settings, make_bot
):
    fake = fake_discord
    async with running_client(make_bot(settings), fake, wait="guilds"):
        users = [fake.add_user(f"listener{i}") for i in range(50)]
        questions = [
            BACKUP_QUESTION,
            "why did they move off Postgres?",
            "what went wrong with the linkmoth release?",
            "what is the rule about bots and at-everyone mentions?",
        ]
        began = time.monotonic()
        inters = await asyncio.gather(
            *(fake.slash("ask", {"question": questions[i % 4]}, user_id=u) for i, u in enumerate(users))
        )
        await fake.wait_until(lambda: all(i.followups for i in inters), timeout=240, what="50 follow-ups")
        # The burst may be over within one heartbeat interval: look at the beats around it, at least three.
        await fake.wait_until(
            lambda: sum(h.t >= began for h in fake.gateway.heartbeats) >= 3,
            timeout=10 * HEARTBEAT_MS / 1000,
            what="three heartbeats",
        )
        ended = time.monotonic()

        latencies = []
        for inter in inters:
            (callback,) = inter.callbacks
            assert callback.status == 200 and callback.t - inter.sent_at < 3
            (followup,) = inter.followups
            assert followup.status == 200 and followup.json["embeds"]
            latencies.append(followup.t - inter.sent_at)
        # The beats either side of the burst count too: one answered within two intervals still shows the beat
        # it delayed (a searching event loop would hold the next beat back by seconds).
        interval = HEARTBEAT_MS / 1000
        await fake.wait_until(lambda: fake.gateway.heartbeats[-1].t > ended, timeout=10, what="a beat after the burst")
        gaps = fake.gateway.heartbeat_gaps(since=began - interval, until=ended + 4 * interval)
        # Searching on the event loop would hold every heartbeat back for seconds (50 searches in a row); a few
        # intervals of slack keep a busy machine's scheduling jitter from failing the test.
        assert gaps and max(gaps) < 4 * HEARTBEAT_MS / 1000, gaps
        p50 = statistics.median(latencies)
        p95 = statistics.quantiles(latencies, n=20)[-1]
        print(f"\n50 concurrent /ask: INTERACTION_CREATE -> follow-up p50 {p50:.2f} s, p95 {p95:.2f} s")


@pytest.mark.asyncio
async def test_find_in_episodes_answers_a_message_in_the_channel(fake_discord: FakeDiscord, settings, make_bot):
    async with running_client(make_bot(settings), fake_discord, wait="guilds"):
        inter = await fake_discord.message_command(
            "Find in episodes", content="which tool do you use for backups of the sqlite database?"
        )
        deferred = (await inter.callback()).json
        assert not deferred.get("data", {}).get("flags", 0) & EPHEMERAL  # public: the answer is for the channel
        body = (await inter.followup(timeout=30)).json
        assert moments(body) and moments(body)[0] in BACKUP_MOMENT, moments(body)

        empty = await fake_discord.message_command("Find in episodes", content="   ")
        reply = (await empty.callback()).json
        assert reply["data"]["flags"] == EPHEMERAL and "no text" in reply["data"]["content"]


@pytest.mark.asyncio
async def test_suggestions_that_fail_are_an_empty_list_not_an_unanswered_interaction(
    fake_discord: FakeDiscord, settings, make_bot, tmp_path, caplog
):
    index = tmp_path / "index"
    shutil.copytree(settings.index_dir, index)
    broken = settings.model_copy(update={"index_dir": index})
    async with running_client(make_bot(broken), fake_discord, wait="guilds"):
        with sqlite3.connect(IndexLayout(index).current() / STORE_FILE) as conn:  # the index's store goes bad
            conn.execute("ALTER TABLE sentences RENAME TO sentences_gone")
        typed = await fake_discord.autocomplete("ask", {"question": "x", "speaker": "mar"}, focused="speaker")
        assert (await typed.callback()).json["data"]["choices"] == []
    assert "error while suggesting choices for ask" in caplog.text


@pytest.mark.asyncio
async def test_episode_autocomplete_and_card(fake_discord: FakeDiscord, settings, make_bot):
    async with running_client(make_bot(settings), fake_discord, wait="guilds"):
        ac = await fake_discord.autocomplete("episode", {"title": "sqlite"}, focused="title")
        choices = (await ac.callback()).json["data"]["choices"]
        assert 1 <= len(choices) <= 25 and all(len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices)
        assert choices[0]["name"] == "SQLite in Production"

        none = await fake_discord.autocomplete("ask", {"question": "x", "episode": "zzz no such"}, focused="episode")
        assert (await none.callback()).json["data"]["choices"] == []

        card = await fake_discord.slash("episode", {"title": choices[0]["value"]})
        embed = (await card.callback()).json["data"]["embeds"][0]
        assert embed["title"] == "SQLite in Production"
        assert embed["url"] == "https://tinystack.example/episodes/1"

        scoped = await fake_discord.slash("ask", {"question": "sqlite", "episode": choices[0]["value"]})
        assert (await scoped.followup(timeout=30)).json["embeds"]

        about = await fake_discord.slash("about")
        about_body = (await about.callback()).json["data"]
        assert about_body["flags"] == EPHEMERAL and "The Tiny Stack: 4 episodes" in json.dumps(about_body)


@pytest.mark.asyncio
async def test_reload_needs_manage_server_checked_by_the_bot_itself(fake_discord: FakeDiscord, settings, make_bot):
    async with running_client(make_bot(settings), fake_discord, wait="guilds"):
        refused = await fake_discord.slash("reload", permissions=MEMBER_PERMISSIONS, enforce_permissions=False)
        reply = (await refused.callback()).json["data"]
        assert reply["flags"] == EPHEMERAL and "Manage Server" in reply["content"]

        allowed = await fake_discord.slash("reload", permissions=MODERATOR_PERMISSIONS)
        assert (await allowed.callback()).json["type"] == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        assert "Already serving the newest build" in (await allowed.followup()).json["content"]


@pytest.mark.asyncio
async def test_cooldown_refuses_politely_per_user(fake_discord: FakeDiscord, settings, make_bot):
    limited = settings.model_copy(update={"cooldown_questions": 1, "cooldown_seconds": 600})
    async with running_client(make_bot(limited), fake_discord, wait="guilds"):
        first = await fake_discord.slash("ask", {"question": "sqlite"})
        assert (await first.callback()).json["type"] == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        second = await fake_discord.slash("ask", {"question": "sqlite again"})
        reply = (await second.callback()).json["data"]
        assert reply["flags"] == EPHEMERAL and "Try again in" in reply["content"]
        other = await fake_discord.slash("ask", {"question": "sqlite"}, user_id=fake_discord.add_user("someone"))
        assert (await other.callback()).json["type"] == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE


@pytest.mark.asyncio
async def test_bad_questions_get_a_hint_not_an_error(fake_discord: FakeDiscord, settings, make_bot, caplog):
    fake = fake_discord
    async with running_client(make_bot(settings), fake, wait="guilds"):
        refusals = {
            "Ask a question in words": await fake.slash("ask", {"question": "   "}),
            "under 300 characters": await fake.slash("ask", {"question": "why " * 1000}),
            "I don't know that episode": await fake.slash("ask", {"question": "sqlite", "episode": "no-such-one"}),
            "pick one from the list": await fake.slash("find", {"phrase": "sqlite", "episode": "no-such-one"}),
            "No episode matches “nothing like it”": await fake.slash("episode", {"title": "nothing like it"}),
            "no text to search for": await fake.message_command("Find in episodes", content="  "),
        }
        for hint, inter in refusals.items():
            reply = (await inter.callback()).json
            assert reply["type"] == CallbackType.CHANNEL_MESSAGE_WITH_SOURCE and hint in reply["data"]["content"]
            assert reply["data"]["flags"] == EPHEMERAL
        offtopic = await fake_discord.slash("ask", {"question": "recipe for a chocolate cake with strawberries"})
        body = (await offtopic.followup(timeout=30)).json
        assert body["embeds"][0]["title"] == "No confident match" and not body.get("components")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # a refusal is no error to log


@pytest.mark.asyncio
async def test_mentions_never_ping(fake_discord: FakeDiscord, settings, make_bot):
    async with running_client(make_bot(settings), fake_discord, wait="guilds"):
        question = "@everyone @here <@123456789012345678> <@&223456789012345678> is sqlite ok in production?"
        inter = await fake_discord.slash("ask", {"question": question})
        body = (await inter.followup(timeout=30)).json
        for raw in question.split()[:4]:
            assert raw not in body["content"]
        message_bodies = [
            r.json for r in fake_discord.requests if isinstance(r.json, dict) and r.method in ("POST", "PATCH")
        ]
        sends = [
            b.get("data", b) for b in message_bodies if "content" in b.get("data", b) or "embeds" in b.get("data", b)
        ]
        assert sends and all(s.get("allowed_mentions") == {"parse": []} for s in sends)


@pytest.mark.asyncio
async def test_a_comment_that_cannot_be_saved_is_still_answered(fake_discord: FakeDiscord, settings, make_bot):
    fake = fake_discord
    async with running_client(make_bot(settings), fake, wait="guilds"):
        inter = await fake.slash("ask", {"question": BACKUP_QUESTION})
        down_id = custom_ids((await inter.followup(timeout=30)).json)[3]
        modal = (await (await fake.click(down_id)).callback()).json
        with sqlite3.connect(settings.bot_db) as conn:  # the bot's own database goes bad under it
            conn.execute("ALTER TABLE feedback RENAME TO feedback_gone")
        submitted = await fake.submit_modal(modal["data"]["custom_id"], {"comment": "wrong episode"})
        reply = (await submitted.callback()).json["data"]
        assert reply["flags"] == EPHEMERAL and "something went wrong" in reply["content"]
        assert reply["allowed_mentions"] == {"parse": []}


@pytest.mark.asyncio
async def test_more_and_feedback_buttons_work_across_a_restart(fake_discord: FakeDiscord, settings, make_bot):
    fake = fake_discord
    async with running_client(make_bot(settings), fake, wait="guilds"):
        inter = await fake.slash("ask", {"question": BACKUP_QUESTION})
        first_page = (await inter.followup(timeout=30)).json
    more_id, same_id, up_id, down_id, _follow_up = custom_ids(first_page)

    async with running_client(make_bot(settings), fake, wait="guilds"):  # a new process, same database
        more = await fake.click(more_id)
        assert (await more.callback()).json["type"] == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        second_page = (await more.followup(timeout=30)).json
        assert "(4–" in second_page["content"] or "(4)" in second_page["content"]
        assert set(moments(second_page)).isdisjoint(moments(first_page))
        assert {i.split(":")[1:4:2] == ["vote", "3"] for i in custom_ids(second_page) if "vote" in i} == {True}

        up = await fake.click(up_id)
        assert "Thanks" in (await up.callback()).json["data"]["content"]
        down = await fake.click(down_id, user_id=fake.add_user("critic"))
        modal = (await down.callback()).json
        assert modal["type"] == CallbackType.MODAL
        submitted = await fake.submit_modal(modal["data"]["custom_id"], {"comment": "The answer is at 3:32"})
        assert "noted" in (await submitted.callback()).json["data"]["content"]

        same = await fake.click(same_id)  # the question again, inside the first answer's episode only
        from_episode = (await same.followup(timeout=30)).json
        # Every moment of that short episode above the floor was on the two pages shown: none is shown again.
        assert "that's everything I found" in from_episode["content"] and not from_episode.get("embeds")
        assert "pqa:same" not in json.dumps(from_episode.get("components", []))  # it searched one episode already

        expired = await fake.click("pqa:more:999999:0")
        assert "expired" in (await expired.callback()).json["data"]["content"]

    store = BotStore(settings.bot_db)
    rows = store.feedback_rows()
    assert [(r["vote"], r["comment"]) for r in rows] == [("up", None), ("down", "The answer is at 3:32")]
    # "More from <episode>" is stored for its own buttons as a narrower search of the question, not a new one.
    (first, _), (narrowed, follows) = [tuple(r) for r in store.query("SELECT id, follows FROM questions", ())]
    assert follows == first and narrowed != first
    assert load_insights(store.query, days=7, now=time.time()).questions == 1
    store.close()
    for row in rows:
        assert row["question"] == BACKUP_QUESTION and json.loads(row["hits"])
        assert str(fake.user_id) not in json.dumps(row) and re.fullmatch(r"[0-9a-f]{32}", row["user_hash"])


@pytest.mark.asyncio
async def test_failures_are_answered_and_logged(fake_discord: FakeDiscord, settings, make_bot, caplog):
    bot = make_bot(settings)

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    async with running_client(bot, fake_discord, wait="guilds"):
        bot.live.searcher.search_page = broken
        with caplog.at_level(logging.ERROR, logger="bot"):
            inter = await fake_discord.slash("ask", {"question": "sqlite"})
            reply = (await inter.followup(timeout=10)).json
        assert reply["flags"] == EPHEMERAL and "something went wrong" in reply["content"]
        assert any("disk on fire" in (r.exc_text or "") for r in caplog.records)
        assert settings.discord_token.get_secret_value() not in caplog.text


@pytest.mark.asyncio
async def test_only_allowed_channels_are_answered(fake_discord: FakeDiscord, settings, make_bot):
    fake = fake_discord
    async with running_client(make_bot(settings), fake, wait="guilds"):  # an answer from before
        asked = await fake.slash("ask", {"question": "sqlite"})
        more_id = custom_ids((await asked.followup(timeout=30)).json)[0]
    bots = fake.add_channel("bots")
    elsewhere = settings.model_copy(update={"allowed_channel_ids": [bots]})
    async with running_client(make_bot(elsewhere), fake, wait="guilds"):
        inter = await fake.slash("ask", {"question": "sqlite"})
        reply = (await inter.callback()).json["data"]
        assert reply["flags"] == EPHEMERAL and f"<#{bots}>" in reply["content"]
        more = await fake.click(more_id)  # the list was narrowed since: the answer's buttons keep to it too
        reply = (await more.callback()).json["data"]
        assert reply["flags"] == EPHEMERAL and f"<#{bots}>" in reply["content"]
        options = {"phrase": "SQLite", "channel": fake.channel_id}  # asked where allowed, to post where not
        watch = await fake.slash("watch add", options, permissions=MODERATOR_PERMISSIONS, channel_id=bots)
        assert "not in this bot's ALLOWED_CHANNEL_IDS" in (await watch.callback()).json["data"]["content"]


@pytest.mark.asyncio
async def test_a_newly_published_index_is_picked_up_without_a_restart(
    fake_discord: FakeDiscord, settings, make_bot, real_embedder, tmp_path
):
    feed = (SAMPLES / "feed.xml").read_text(encoding="utf-8")
    first_item = re.search(r"<item>.*?</item>", feed, re.S)
    without_episode_one = tmp_path / "feed.xml"  # the show before episode 1 was published
    without_episode_one.write_text(feed.replace(first_item[0], ""), encoding="utf-8")
    (tmp_path / "transcripts").symlink_to(SAMPLES / "transcripts")
    index_dir = tmp_path / "live-index"
    build_from_feed(without_episode_one, index_dir, real_embedder)
    watching = settings.model_copy(update={"index_dir": index_dir, "index_poll_seconds": 0.2})
    bot = make_bot(watching)
    async with running_client(bot, fake_discord, wait="guilds"):
        first = await fake_discord.slash("ask", {"question": BACKUP_QUESTION})
        titles = {e["title"] for e in (await first.followup(timeout=30)).json["embeds"]}
        assert titles and "SQLite in Production" not in titles
        before = bot.live.build_id

        await asyncio.to_thread(build_from_feed, SAMPLES / "feed.xml", index_dir, real_embedder)
        await fake_discord.wait_until(lambda: bot.live.build_id != before, timeout=30, what="hot reload")

        second = await fake_discord.slash("ask", {"question": BACKUP_QUESTION})
        assert moments((await second.followup(timeout=30)).json)[0] in BACKUP_MOMENT


@pytest.mark.asyncio
async def test_find_lists_every_mention_of_a_phrase_with_links(fake_discord: FakeDiscord, settings, make_bot):
    async with running_client(make_bot(settings), fake_discord, wait="guilds"):
        inter = await fake_discord.slash("find", {"phrase": "SQLite"})
        body = (await inter.followup(timeout=30)).json
        said = re.fullmatch(r"“SQLite” was said \*\*(\d+) times\*\* in 1 episode\.", body["content"])
        assert said, body["content"]
        count = int(said[1])
        assert count >= 5
        (embed,) = body["embeds"]
        assert embed["fields"][0]["value"].startswith(f"{count}× SQLite in Production")
        lines = embed["description"].splitlines()
        link = r"\]\(https://tinystack\.example/episodes/1#t=\d+\)"
        assert 5 <= len(lines) == len(re.findall(link, embed["description"])) <= 10

        nothing = await fake_discord.slash("find", {"phrase": "zebra crossing"})
        assert "Nobody said" in (await nothing.followup(timeout=30)).json["content"]


@pytest.mark.asyncio
@pytest.mark.parametrize(("shard_count", "shards"), [(None, [[0, 1]]), (2, [[0, 2], [1, 2]])])
async def test_one_client_runs_one_shard_or_as_many_as_asked(
    fake_discord: FakeDiscord, settings, make_bot, shard_count, shards
):
    """SHARD_COUNT unset: one connection, identified as shard 0 of 1 (what Discord assumes of an unsharded
    client). SHARD_COUNT=2: two connections, and the guild's interactions arrive on the shard that owns it."""
    fake = fake_discord
    sharded = settings.model_copy(update={"shard_count": shard_count})
    async with running_client(make_bot(sharded), fake, wait="guilds"):
        await fake.wait_until(lambda: len(fake.gateway.identifies) == len(shards), timeout=20, what="every shard")
        about = await fake.slash("about")
        assert "The Tiny Stack: 4 episodes" in json.dumps((await about.callback()).json)
    assert sorted(identify["shard"] for identify in fake.gateway.identifies) == shards
    assert len(fake.gateway.connects) == len(shards)
    shard_of = {f.connection: f.payload["d"]["shard"] for f in fake.gateway.frames if f.op == 2}
    (sent,) = [f for f in fake.gateway.frames if f.event == "INTERACTION_CREATE"]
    assert shard_of[sent.connection] == [(fake.guild_id >> 22) % len(shards), len(shards)]


@pytest.mark.asyncio
async def test_the_sync_script_pushes_the_same_commands_as_the_bot(fake_discord: FakeDiscord, settings, make_bot):
    """A sync replaces the whole set: a command the script left out would be deleted from Discord."""
    dev = settings.model_copy(
        update={"dev_guild_ids": [fake_discord.guild_id], "discord_token": SecretStr(fake_discord.token)}
    )
    async with running_client(make_bot(dev), fake_discord, wait="guilds"):
        pass
    spec = importlib.util.spec_from_file_location("sync_commands_script", ROOT / "scripts" / "sync_commands.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    await script.sync(dev, use_global=False, clear=False)
    by_bot, by_script = fake_discord.requests_for("guild_commands_bulk_overwrite")
    assert by_script.status == 200
    assert sorted(c["name"] for c in by_script.json) == sorted(c["name"] for c in by_bot.json)


@pytest.mark.asyncio
async def test_commands_sync_to_the_dev_guild_only_when_they_changed(fake_discord: FakeDiscord, settings, make_bot):
    dev = settings.model_copy(update={"dev_guild_ids": [fake_discord.guild_id]})
    for _ in range(2):  # a restart with the same commands
        async with running_client(make_bot(dev), fake_discord, wait="guilds"):
            pass
    (sync,) = fake_discord.requests_for("guild_commands_bulk_overwrite")
    assert sync.status == 200 and not fake_discord.requests_for("commands_bulk_overwrite")  # accepted as valid
    assert sorted((c["type"], c["name"]) for c in sync.json) == [
        (1, "about"),
        (1, "ask"),
        (1, "episode"),
        (1, "find"),
        (1, "insights"),
        (1, "reload"),
        (1, "scope"),
        (1, "settings"),
        (1, "setup"),
        (1, "watch"),
        (3, "Find in episodes"),
    ]
