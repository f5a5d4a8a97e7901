"""The bot under load and abuse, end to end: the real discord.py client against the fake Discord server.

Every interaction is answered within Discord's three seconds (or refused politely by the cooldown), nothing the
bot sends can ping anyone, and nothing breaks Discord's message limits (the fake validates every body as
Discord does and answers 400 otherwise), whatever users type and whatever the indexed feed contains.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.render import TOTAL_LIMIT, render_answer, render_episode, safe
from index.build import VECTORS_FILE
from index.cards import EpisodeCard
from index.layout import IndexLayout
from index.manifest import Manifest
from index.models import Hit, Sentence
from index.store import EpisodeRow
from tests.conftest import build_from_feed
from tests.fake_discord import MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS, CallbackType, FakeDiscord, running_client

EPHEMERAL = 64
DEADLINE = 3.0
# A raw mention that Discord would turn into a ping (escaped ones carry a zero-width space after the @).
PING = re.compile(r"@(?:everyone|here)\b|<@[!&]?\d+>")
LINK_TARGET = re.compile(r"\]\(https?://[^()\s]*\)")
HOSTILE_QUESTIONS = [
    "@everyone is sqlite fine in production?",
    "@here <@123456789012345678> <@!223456789012345678> <@&323456789012345678> sqlite",
    "**bold** __underline__ ~~strike~~ ||spoiler|| [click me](https://evil.example) sqlite",
    "```py\nimport os; os.system('rm -rf /')\n``` `sqlite` in production",
    "s\u200bq\u200bl\u200bi\u200bt\u200be \u200b@\u200beveryone \u2060",
    "\u202eesabatad etilqs\u202c \u200f\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 sqlite?",
    "> quote\n# heading\n- list @everyone\n1. item",
    "\u0000\u0007 control characters sqlite \ufeff\ufffd",
    "🔥" * 100,
    "é" * 299,
]


def message_bodies(fake: FakeDiscord) -> list[tuple[Any, dict[str, Any]]]:
    """Every message the bot created or edited, with the request that carried it."""
    out = []
    for request in fake.requests:
        body = request.json if isinstance(request.json, dict) else {}
        if request.route == "interaction_callback" and body.get("type") == CallbackType.CHANNEL_MESSAGE_WITH_SOURCE:
            out.append((request, body.get("data") or {}))
        elif request.route == "webhook_execute":
            out.append((request, body))
    return out


def assert_nothing_pings_and_all_was_accepted(fake: FakeDiscord) -> int:
    """Every message was accepted by (the fake) Discord, disables every ping, and holds no raw mention where
    Discord would render one."""
    bodies = message_bodies(fake)
    assert bodies
    for request, body in bodies:
        assert request.status < 300, (request, request.response)
        assert body.get("allowed_mentions") == {"parse": []}, body
        # Where Discord renders mentions: the content (the only place that can ping) and embed descriptions and
        # field values (shown as mention pills). Titles and footers show them as plain text.
        rendered = [body.get("content") or ""]
        for embed in body.get("embeds") or []:
            rendered += [embed.get("description") or "", *(f.get("value") or "" for f in embed.get("fields") or [])]
        for text in rendered:
            outside_links = LINK_TARGET.sub("()", text)  # `@everyone` inside a URL is part of the URL
            assert not PING.search(outside_links), text
    return len(bodies)


def assert_answered_in_time(inters) -> None:
    for inter in inters:
        (callback,) = inter.callbacks
        assert callback.status < 300, callback
        assert callback.t - inter.sent_at < DEADLINE, callback.t - inter.sent_at


@pytest.fixture
def fake_discord_options() -> dict[str, Any]:
    return {"heartbeat_interval_ms": 500}


@pytest.mark.asyncio
async def test_a_burst_of_200_is_answered_or_refused_politely_within_the_deadline(fake_discord, settings, make_bot):
    fake = fake_discord
    limited = settings.model_copy(update={"cooldown_questions": 1, "cooldown_seconds": 600})
    async with running_client(make_bot(limited), fake, wait="guilds"):
        users = [fake.add_user(f"spammer{i}") for i in range(8)]
        burst = [
            fake.slash("ask", {"question": HOSTILE_QUESTIONS[n % len(HOSTILE_QUESTIONS)]}, user_id=users[n % 8])
            for n in range(200)
        ]
        inters = await asyncio.gather(*burst)
        await fake.wait_until(lambda: all(i.callbacks for i in inters), timeout=30, what="200 callbacks")
        answered = [
            i for i in inters if i.callbacks[0].json["type"] == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        ]
        await fake.wait_until(lambda: all(i.followups for i in answered), timeout=120, what="the answers")

        assert_answered_in_time(inters)
        assert len(answered) == len(users)  # one question each in the window
        for inter in inters:
            if inter in answered:
                (followup,) = inter.followups
                assert followup.status == 200 and followup.json["embeds"]
            else:
                data = inter.callbacks[0].json["data"]
                assert data["flags"] == EPHEMERAL and re.fullmatch(
                    r"You're asking quickly! Try again in \d+ s\.", data["content"]
                )
        assert assert_nothing_pings_and_all_was_accepted(fake) == 200
        slowest = max(i.callbacks[0].t - i.sent_at for i in inters)
        print(
            f"\n200 /ask at once: {len(answered)} answered, {200 - len(answered)} refused; slowest ack {slowest:.2f} s"
        )


@pytest.mark.asyncio
async def test_questions_of_any_length_and_shape_never_ping_or_break_limits(fake_discord, settings, make_bot):
    fake = fake_discord
    async with running_client(make_bot(settings), fake, wait="guilds"):
        odd = ["", " ", "?", "x" * 10_000, "@everyone " * 1000, *HOSTILE_QUESTIONS]
        asks = [await fake.slash("ask", {"question": q}) for q in odd]
        menus = [await fake.message_command("Find in episodes", content=q) for q in ("@here " * 2000, "\u200b" * 50)]
        finds = [await fake.slash("find", {"phrase": q}) for q in ("@everyone", "**sqlite**", "`")]
        cards = [await fake.slash("episode", {"title": q}) for q in ("@everyone <@123456789012345678>", "x" * 5000)]
        completions = [
            await fake.autocomplete("ask", {"question": "x", "episode": q}, focused="episode")
            for q in ("@", "x" * 9000)
        ]
        inters = asks + menus + finds + cards + completions
        await fake.wait_until(lambda: all(i.callbacks for i in inters), timeout=30, what="every callback")
        deferred = [
            i for i in inters if i.callbacks[0].json["type"] == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        ]
        await fake.wait_until(lambda: all(i.followups for i in deferred), timeout=120, what="every answer")

        assert_answered_in_time(inters)
        replies = {q: i.callbacks[0].json.get("data", {}).get("content", "") for q, i in zip(odd, asks, strict=False)}
        assert "Ask a question in words" in replies[""] and "Ask a question in words" in replies[" "]
        assert "under 300 characters (yours has 10000)" in replies["x" * 10_000]
        assert "under 300 characters" in replies["@everyone " * 1000]
        assert all(i.followups[0].status == 200 for i in deferred) and len(deferred) >= len(HOSTILE_QUESTIONS)
        assert assert_nothing_pings_and_all_was_accepted(fake) >= len(inters) - len(completions)
        for completion in completions:
            assert completion.callbacks[0].status == 204 or completion.callbacks[0].status == 200


def hostile_feed(folder: Path) -> Path:
    """A feed whose every field is hostile: mentions, markdown, masked links, huge titles and links."""
    folder.mkdir(parents=True)
    long_link = "https://cdn.example/episode?" + "&".join(f"utm_{i}=@everyone" for i in range(60))
    items = []
    for n in range(10):
        cues = "".join(
            f"00:{m:02d}:00.000 --> 00:{m:02d}:30.000\n<v @everyone <@12345678901234567{n}>>"
            f"SQLite in production @here is fine, [click](https://evil.example) ```code``` ||spoiler|| "
            f"\u202ereversed\u202c sentence {m} about databases and backups and the write ahead log.\n\n"
            for m in range(3)
        )
        (folder / f"{n}.vtt").write_text("WEBVTT\n\n" + cues)
        title = f"@everyone **Episode {n}** <@&323456789012345678> [x](https://evil.example) " + "long title " * 40
        items.append(
            f"<item><title><![CDATA[{title}]]></title><guid>ep{n}</guid><link>{long_link.replace('&', '&amp;')}</link>"
            f'<podcast:transcript url="{n}.vtt" type="text/vtt"/></item>'
        )
    show = "@here " + "The Show With A Name That Goes On " * 60
    (folder / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0">'
        f"<channel><title>{show}</title><link>https://evil.example/</link>{''.join(items)}</channel></rss>"
    )
    return folder / "feed.xml"


def test_answers_whose_titles_names_and_links_are_huge_stay_within_discords_total():
    """Regression: ten hits with 250-character titles and 300-character links rendered 7,100 characters of
    embeds, over Discord's 6,000 total: Discord refuses the whole message and the user got an error."""
    sentences = [Sentence(60.0, 70.0, "A quote that answers the question.", "Ada <@123456789012345678>")]
    long_link = "https://x.example/" + "a" * 300
    for title, podcast, link in [("T" * 250, "Podcast", long_link), ("@everyone " * 40, "P" * 3000, long_link * 5)]:
        hits = [
            Hit(n, f"e{n}", title, podcast, "e.vtt", 60.0, 70.0, link, 0.5, sentences, 0, 0, link, n, "2026-01-01")
            for n in range(10)
        ]
        rendered = render_answer("q", hits)
        assert len(rendered.embeds) == 10 and sum(len(e) for e in rendered.embeds) <= TOTAL_LIMIT
        embed = rendered.embeds[0].to_dict()
        assert embed["url"].startswith("https://x.example/") and "▶ 1:00" in embed["description"]
        assert "A quote that answers the question." in embed["description"]


@pytest.mark.asyncio
async def test_a_hostile_feed_in_the_index_never_pings_or_breaks_limits(
    fake_discord, settings, make_bot, real_embedder, tmp_path
):
    index_dir = tmp_path / "hostile-index"
    build_from_feed(hostile_feed(tmp_path / "feed"), index_dir, real_embedder)
    hostile = settings.model_copy(update={"index_dir": index_dir, "score_floor": -1.0})
    async with running_client(make_bot(hostile), fake_discord, wait="guilds"):
        ten = await fake_discord.slash("ask", {"question": "is sqlite fine in production?", "results": 10})
        body = (await ten.followup(timeout=60)).json
        assert len(body["embeds"]) == 10 and all(len(e["title"]) < 256 for e in body["embeds"])  # shared budget
        buttons = [c["custom_id"] for row in body.get("components", []) for c in row["components"]]
        vote = await fake_discord.click(next(b for b in buttons if b.endswith(":up")))
        about = await fake_discord.slash("about")
        found = await fake_discord.slash("find", {"phrase": "production"})
        await found.followup(timeout=60)
        choices = await fake_discord.autocomplete("episode", {"title": "episode"}, focused="title")
        names = (await choices.callback()).json["data"]["choices"]
        card = await fake_discord.slash("episode", {"title": names[0]["value"]})
        inters = [ten, vote, about, found, choices, card]
        await fake_discord.wait_until(lambda: all(i.callbacks for i in inters), timeout=30, what="every callback")
        assert_answered_in_time(inters)
        assert_nothing_pings_and_all_was_accepted(fake_discord)


def publish_broken_copy(index_dir: Path, *, consistent: bool) -> str:
    """A new build that fails to load: a copy of the live one with its vectors garbled. With `consistent` the
    manifest's checksums agree, so loading gets past the checks, opens the SQLite store, then fails."""
    layout = IndexLayout(index_dir)
    broken = layout.builds / "29990101T000000.000000Z-badbad"
    shutil.copytree(layout.current(), broken)
    data = bytearray((broken / VECTORS_FILE).read_bytes())
    data[len(data) // 2 :] = b"\xa5" * (len(data) - len(data) // 2)
    (broken / VECTORS_FILE).write_bytes(bytes(data[: len(data) - 7]))
    if consistent:
        manifest = Manifest.read(broken)
        manifest.build_id = broken.name
        manifest.write(broken)
    (index_dir / "CURRENT").write_text(broken.name + "\n")
    return broken.name


def moments(body: dict[str, Any]) -> list[str]:
    return [e["description"].split("\n", 1)[0] for e in body["embeds"]]


@pytest.mark.asyncio
async def test_reload_spam_and_a_reload_failing_midway_leave_the_old_index_answering(
    fake_discord, settings, make_bot, sample_index, tmp_path, caplog
):
    fake = fake_discord
    index_dir = tmp_path / "index"
    shutil.copytree(sample_index, index_dir)
    bot = make_bot(settings.model_copy(update={"index_dir": index_dir}))
    async with running_client(bot, fake, wait="guilds"):
        serving = bot.live.build_id
        before = moments(
            (await (await fake.slash("ask", {"question": "sqlite in production"})).followup(timeout=60)).json
        )

        spam = await asyncio.gather(*(fake.slash("reload", permissions=MODERATOR_PERMISSIONS) for _ in range(30)))
        await fake.wait_until(lambda: all(i.followups for i in spam), timeout=60, what="30 reload answers")
        assert_answered_in_time(spam)
        assert {i.followups[0].json["content"] for i in spam} == {f"Already serving the newest build, `{serving}`."}

        broken = publish_broken_copy(index_dir, consistent=True)
        failed = await asyncio.gather(*(fake.slash("reload", permissions=MODERATOR_PERMISSIONS) for _ in range(5)))
        await fake.wait_until(lambda: all(i.followups for i in failed), timeout=60, what="failed reloads")
        assert_answered_in_time(failed)
        for inter in failed:
            reply = inter.followups[0].json
            assert reply["flags"] == EPHEMERAL and reply["content"].startswith(
                f"Reload failed, still serving build `{serving}`"
            )
            assert broken in reply["content"] and "not a readable FAISS index" in reply["content"]
        assert bot.live.build_id == serving
        after = moments(
            (await (await fake.slash("ask", {"question": "sqlite in production"})).followup(timeout=60)).json
        )
        assert after == before

        members = await asyncio.gather(
            *(fake.slash("reload", permissions=MEMBER_PERMISSIONS, enforce_permissions=False) for _ in range(10))
        )
        await fake.wait_until(lambda: all(i.callbacks for i in members), timeout=30, what="refusals")
        assert all("Manage Server" in i.callbacks[0].json["data"]["content"] for i in members)
        assert_nothing_pings_and_all_was_accepted(fake)
    assert "keeping build" in caplog.text and "not a readable FAISS index" in caplog.text


def test_masked_links_are_escaped_once_not_twice():
    """Regression: safe() escaped again the `[` that escape_markdown had escaped, so Discord showed a stray
    backslash and an unescaped bracket."""
    assert safe("[x](https://evil.example)") == "\\[x\\](https://evil.example)"
    assert safe("a [b] c") == "a \\[b\\] c"
    assert safe("a \\[b] c") == "a \\\\\\[b\\] c"  # a literal backslash stays visible, the bracket escaped


def test_an_episode_card_never_carries_a_cut_or_broken_link():
    """Regression: /episode cut a long link mid-URL (a broken markdown link) and let `)` end a link early."""
    row = EpisodeRow(1, "k", "Show", "T", "https://w.example/ep_(1)", 1, None, "f.vtt", None, 60.0, "vtt")
    (listen,) = [f for f in render_episode(EpisodeCard(row, [], [])).fields if f.name == "Listen"]
    assert listen.value == "[Episode page](https://w.example/ep_%281%29)"
    long = EpisodeRow(1, "k", "Show", "T", "https://w.example/?" + "a=1&" * 400, 1, None, "f.vtt", None, 60.0, "vtt")
    card = render_episode(EpisodeCard(long, [], []))
    assert card.url == long.link and not [f for f in card.fields if f.name == "Listen"]
