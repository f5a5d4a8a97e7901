"""/insights through the real client and the fake Discord: a database seeded with a few hundred questions (real
model), questions recorded by /ask as the bot answers them, the chart attached as a PNG, the review queue, and
what happens with question logging off."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import discord
import numpy as np
import pytest
from PIL import Image

from bot.render import Rendered, to_text
from bot.store import KEEP_QUESTIONS_DAYS, BotStore
from tests.fake_discord import MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS, CallbackType, FakeDiscord, running_client
from tests.insights_seed import seed

EPHEMERAL = 64
DAY = 86400
BACKUP_QUESTION = "What backup tool does Marta recommend?"
OFF_TOPIC = "recipe for a chocolate cake with strawberries"


def text_of(body: dict[str, Any]) -> str:
    """A message as plain text (what the closing note of issue 15 shows)."""
    embeds = [discord.Embed.from_dict(e) for e in body.get("embeds", [])]
    return to_text(Rendered(body.get("content") or "", embeds))


@pytest.mark.asyncio
async def test_insights_show_groups_gaps_episodes_and_a_chart(
    fake_discord: FakeDiscord, settings, make_bot, real_embedder
):
    fake = fake_discord
    seeded = BotStore(settings.bot_db)
    seed(seeded, real_embedder, guild_id=fake.guild_id)
    seeded.close()
    bot = make_bot(settings)
    async with running_client(bot, fake, wait="guilds"):
        for question in (BACKUP_QUESTION, OFF_TOPIC):
            asked = await fake.slash("ask", {"question": question})
            await asked.followup(timeout=30)

        refused = await fake.slash("insights overview", permissions=MEMBER_PERMISSIONS, enforce_permissions=False)
        reply = (await refused.callback()).json["data"]
        assert reply["flags"] == EPHEMERAL and "Manage Server" in reply["content"]

        inter = await fake.slash("insights overview", {"days": 30}, permissions=MODERATOR_PERMISSIONS)
        assert (await inter.callback()).json["type"] == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        followup = await inter.followup(timeout=60)
        body = followup.json
        assert followup.status == 200 and body["flags"] == EPHEMERAL and body["allowed_mentions"] == {"parse": []}
        print("\n" + text_of(body))

    (chart,) = followup.files
    assert chart.name == "files[0]" and chart.filename == "insights.png"
    image = Image.open(io.BytesIO(chart.data))
    image.verify()
    assert image.format == "PNG"
    stored = fake.messages[int(followup.response["id"])]
    (attachment,) = stored["attachments"]
    assert attachment["filename"] == "insights.png" and attachment["size"] == len(chart.data)
    assert stored["embeds"][0]["image"]["url"] == attachment["url"]  # the embed shows the attached chart

    (embed,) = body["embeds"]
    assert embed["title"] == "Insights · last 30 days"
    assert embed["description"].startswith("**266 questions** from **91 people**")  # 264 seeded, 2 asked now
    assert "**77%** answered above the score floor · 👍 0 · 👎 6" in embed["description"]
    top, gaps, episodes = (f["value"].splitlines() for f in embed["fields"])
    # The backup question asked just now joins the 48 seeded ones about SQLite backups.
    assert [int(re.match(r"\*\*(\d+)×\*\*", line)[1]) for line in top] == [49, 40, 36, 32, 27]
    assert re.search(r"sqlite", top[0], re.I) and re.search(r"postgres", top[1], re.I)
    assert re.search(r"linkmoth", top[2], re.I) and re.search(r"type (hints|annotations)", top[3], re.I)
    assert [re.match(r"\*\*(\d+)×\*\*", line)[1] for line in gaps[:4]] == ["24", "20", "16", "6"]
    assert "Windows" in gaps[0] and "Kubernetes" in gaps[1] and "Rust" in gaps[2] and "(6 👎)" in gaps[3]
    assert any(OFF_TOPIC in line and "(1 without a match)" in line for line in gaps)
    assert episodes[0] == "**89 questions** · SQLite in Production"  # 88 seeded, and the backup question
    assert not re.search(r"[0-9a-f]{8,}", str(embed))  # no hash of anybody, not even a part of one


@pytest.mark.asyncio
async def test_asked_questions_are_recorded_with_their_vector_and_more_reuses_it(
    fake_discord: FakeDiscord, settings, make_bot, real_embedder
):
    fake = fake_discord
    bot = make_bot(settings)
    async with running_client(bot, fake, wait="guilds"):
        answered = await fake.slash("ask", {"question": BACKUP_QUESTION})
        first_page = (await answered.followup(timeout=30)).json
        missed = await fake.slash("ask", {"question": OFF_TOPIC})
        assert (await missed.followup(timeout=30)).json["embeds"][0]["title"] == "No confident match"

        embedded: list[str] = []
        searcher = bot.live.searcher
        original = searcher.embed_question
        searcher.embed_question = lambda q: embedded.append(q) or original(q)  # type: ignore[method-assign]
        more_id = next(c["custom_id"] for row in first_page["components"] for c in row["components"])
        more = await fake.click(more_id)
        assert (await more.followup(timeout=30)).json["embeds"]
        assert embedded == []  # the stored vector was used

    rows = bot.store.query("SELECT * FROM questions ORDER BY id", ())
    assert [(r["question"], r["answered"], r["guild_id"]) for r in rows] == [
        (BACKUP_QUESTION, 1, fake.guild_id),
        (OFF_TOPIC, 0, fake.guild_id),
    ]
    for row in rows:
        vector = np.frombuffer(row["vector"], dtype=np.float16)
        assert row["vector_model"] == real_embedder.model_id and vector.shape == (real_embedder.dimension,)
        expected = real_embedder.embed([row["question"]])[0]
        assert float(vector.astype(np.float32) @ expected) > 0.999
    assert rows[0]["top_score"] >= settings.score_floor > rows[1]["top_score"]


@pytest.mark.asyncio
async def test_the_review_queue_lists_thumbs_down_with_the_moments_shown(fake_discord: FakeDiscord, settings, make_bot):
    fake = fake_discord
    async with running_client(make_bot(settings), fake, wait="guilds"):
        asked = await fake.slash("ask", {"question": BACKUP_QUESTION})
        page = (await asked.followup(timeout=30)).json
        down_id = next(
            c["custom_id"] for row in page["components"] for c in row["components"] if "down" in c["custom_id"]
        )
        modal = (await (await fake.click(down_id)).callback()).json
        submitted = await fake.submit_modal(modal["data"]["custom_id"], {"comment": "@everyone it is at 3:40"})
        await submitted.callback()

        inter = await fake.slash("insights feedback", permissions=MODERATOR_PERMISSIONS)
        body = (await inter.followup(timeout=30)).json
        print("\n" + text_of(body))
    assert body["flags"] == EPHEMERAL and body["content"].startswith("The newest 1 👎 of the last 30 days")
    (embed,) = body["embeds"]
    assert embed["title"] == BACKUP_QUESTION
    assert "💬 @\u200beveryone it is at 3:40" in embed["description"]
    links = re.findall(r"\[▶ \d+:\d\d\]\((https://tinystack\.example/episodes/\d#t=\d+)\)", embed["description"])
    shown_links = re.findall(r"\[▶ [\d:]+\]\((https://tinystack\.example/episodes/\d#t=\d+)\)", str(page["embeds"]))
    assert links and links == shown_links[: len(links)]  # the very moments that were shown
    assert "SQLite in Production" in embed["description"] and embed["footer"]["text"].endswith("answers 1–3")


@pytest.mark.asyncio
async def test_with_question_logging_off_nothing_is_recorded_and_insights_say_so(
    fake_discord: FakeDiscord, settings, make_bot, caplog
):
    caplog.set_level(logging.INFO, logger="bot")
    quiet = settings.model_copy(update={"store_questions": False})
    bot = make_bot(quiet)
    async with running_client(bot, fake_discord, wait="guilds"):
        asked = await fake_discord.slash("ask", {"question": BACKUP_QUESTION})
        answer = (await asked.followup(timeout=30)).json
        assert answer["embeds"] and not answer.get("components")  # buttons need the stored question
        for command in ("insights overview", "insights feedback"):
            inter = await fake_discord.slash(command, permissions=MODERATOR_PERMISSIONS)
            reply = (await inter.followup(timeout=30)).json
            assert (
                reply["flags"] == EPHEMERAL and "Question logging is off (`STORE_QUESTIONS=false`)" in reply["content"]
            )
    assert bot.store.query("SELECT COUNT(*) FROM questions", ())[0][0] == 0
    assert bot.store.query("SELECT COUNT(*) FROM shown", ())[0][0] == 0
    assert '"results": ' in caplog.text and BACKUP_QUESTION not in caplog.text  # nor is it logged


@pytest.mark.asyncio
async def test_turning_logging_off_keeps_the_retention_period_and_old_buttons_record_nothing(
    fake_discord: FakeDiscord, settings, make_bot
):
    async with running_client(make_bot(settings), fake_discord, wait="guilds"):
        asked = await fake_discord.slash("ask", {"question": BACKUP_QUESTION})
        page = (await asked.followup(timeout=30)).json
        ids = [c["custom_id"] for row in page["components"] for c in row["components"]]
        up_id = next(i for i in ids if i.endswith(":up"))
    store = BotStore(settings.bot_db)
    old = store.record_question("asked long ago", None, 3, user_id=1, guild_id=1)
    with store.transaction() as conn:
        too_old = (KEEP_QUESTIONS_DAYS + 1) * DAY
        conn.execute("UPDATE questions SET asked_at = asked_at - ? WHERE id = ?", (too_old, old))
        conn.execute("INSERT INTO followups VALUES (1, 'h', ?, 0)", (old,))  # a quiet thread of the old question
        conn.execute("INSERT INTO handoffs VALUES (?, 0)", (old,))
    store.close()

    quiet = make_bot(settings.model_copy(update={"store_questions": False}))
    async with running_client(quiet, fake_discord, wait="guilds"):
        await fake_discord.wait_until(
            lambda: not quiet.store.query("SELECT 1 FROM questions WHERE id = ?", (old,)), timeout=10, what="retention"
        )
        vote = await fake_discord.click(up_id)
        reply = (await vote.callback()).json["data"]
        assert reply["flags"] == EPHEMERAL and "no longer records" in reply["content"]
    assert quiet.store.query("SELECT COUNT(*) FROM questions", ())[0][0] == 1  # the recent one, kept its 90 days
    for table in ("feedback", "followups", "handoffs"):
        assert quiet.store.query(f"SELECT COUNT(*) FROM {table}", ())[0][0] == 0, table
