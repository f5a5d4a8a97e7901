"""Follow-up threads, end to end: the button opens a thread from the answer (or uses the one it is in), the
asker's next messages there are answered in the first question's scope until the thread goes quiet, and open
follow-ups and server settings survive a restart. Without the Message Content intent the button says to /ask."""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.fake_discord import MODERATOR_PERMISSIONS, CallbackType, running_client
from tests.fake_discord.constants import INTENT_MESSAGE_CONTENT
from tests.server_fixtures import CHANGELOG, TINY_STACK, replied_to, reply_to

EPHEMERAL = 64
FIRST = "What backup tool does Marta recommend?"
BERLIN = "what did Mat say about Berlin?"  # only Go Time can answer this


def button(body: dict, kind: str) -> str:
    return next(
        c["custom_id"] for row in body["components"] for c in row["components"] if f":{kind}:" in c["custom_id"]
    )


def podcasts_of(message: dict) -> set[str]:
    return {e["footer"]["text"].split(" · ")[0] for e in message["embeds"] if e["title"] != "No confident match"}


@pytest.fixture
def reading(fake_discord, network_settings):
    fake_discord.gateway.privileged_intents = INTENT_MESSAGE_CONTENT
    return network_settings.model_copy(update={"message_content_intent": True})


@pytest.mark.asyncio
async def test_follow_up_opens_a_thread_where_the_askers_next_questions_keep_the_scope(fake_discord, reading, make_bot):
    fake = fake_discord
    asker, other = fake.add_user("asker"), fake.add_user("other")
    bot = make_bot(reading)
    async with running_client(bot, fake, wait="guilds"):
        ask = await fake.slash("ask", {"question": FIRST, "podcast": TINY_STACK}, user_id=asker)
        answer = (await ask.followup(timeout=30)).response  # the message as Discord stored it
        opened = await fake.click(button(answer, "follow"), user_id=asker)
        assert (await opened.callback()).json["data"]["flags"] == EPHEMERAL  # "thinking", for the asker only
        told = (await opened.followup(timeout=10)).json
        (start,) = fake.requests_for("start_thread")
        thread = int(start.response["id"])
        assert start.status == 201 and start.json["name"] == FIRST
        assert thread == int(answer["id"]) == int(fake.messages[thread]["thread"]["id"])  # started from the answer
        assert f"<#{thread}>" in told["content"] and "30 minutes" in told["content"] and told["flags"] == EPHEMERAL

        follow = await fake.post("why did they move off Postgres?", channel_id=thread, user_id=asker)
        reply = await reply_to(fake, follow)
        assert reply["channel_id"] == str(thread) and podcasts_of(reply) == {TINY_STACK}
        scoped = await fake.post(BERLIN, channel_id=thread, user_id=asker)  # Go Time is outside the first scope
        assert podcasts_of(await reply_to(fake, scoped)) <= {TINY_STACK}
        ignored = await fake.post("why did they move off Postgres?", channel_id=thread, user_id=other)

        # Another member follows up too: the same thread, now answering them as well; no second thread.
        joined = await fake.click(button(answer, "follow"), user_id=other)
        assert f"<#{thread}>" in (await joined.followup(timeout=10)).json["content"]
        theirs = await fake.post(FIRST, channel_id=thread, user_id=other)
        await reply_to(fake, theirs)
        assert len(fake.requests_for("start_thread")) == 1
        answered = replied_to(fake, thread)
        assert ignored["id"] not in answered and {follow["id"], scoped["id"], theirs["id"]} <= answered

        # Follow up on an answer in the thread: the thread it is in.
        inner = await fake.click(button(reply, "follow"), user_id=asker)
        assert f"<#{thread}>" in (await inner.followup(timeout=10)).json["content"]
        assert len(fake.requests_for("start_thread")) == 1

        # Quiet for longer than the server's follow-up time: the thread stops answering.
        shorter = await fake.slash("setup followups", {"idle_minutes": 1}, permissions=MODERATOR_PERMISSIONS)
        assert "1 quiet minutes" in (await shorter.callback()).json["data"]["content"]
        with sqlite3.connect(reading.bot_db) as db:
            db.execute("UPDATE followups SET last_active = ?", (time.time() - 61,))
        late = await fake.post("and the restore drills?", channel_id=thread, user_id=asker)
        sentinel = await fake.post(f"<@{fake.bot_user_id}> {FIRST}")
        await reply_to(fake, sentinel)
        assert late["id"] not in replied_to(fake, thread)
        assert bot.store.query("SELECT COUNT(*) FROM followups WHERE last_active > ?", (time.time() - 60,))[0][0] == 0
    assert fake.bot_pings() == []


@pytest.mark.asyncio
async def test_without_the_intent_the_button_points_to_ask_in_the_thread(fake_discord, network_settings, make_bot):
    fake = fake_discord
    go_time = fake.add_channel("go-time")
    bot = make_bot(network_settings)
    async with running_client(bot, fake, wait="guilds"):
        bot.server.set_scope(fake.guild_id, go_time, [CHANGELOG])
        ask = await fake.slash("ask", {"question": BERLIN}, channel_id=go_time)
        answer = (await ask.followup(timeout=30)).response
        opened = await fake.click(button(answer, "follow"))
        told = (await opened.followup(timeout=10)).json
        thread = int(answer["id"])
        assert f"Ask in <#{thread}> with `/ask`" in told["content"] and "Message Content intent" in told["content"]
        assert bot.store.query("SELECT COUNT(*) FROM followups")[0][0] == 0

        in_thread = await fake.slash("ask", {"question": FIRST}, channel_id=thread)  # /ask works there, in scope
        assert (await in_thread.callback()).json["type"] == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        assert podcasts_of((await in_thread.followup(timeout=30)).json) <= {CHANGELOG}


@pytest.mark.asyncio
async def test_a_restart_keeps_the_settings_and_the_open_follow_up_threads(fake_discord, reading, make_bot):
    fake = fake_discord
    go_time = fake.add_channel("go-time")
    helpers = fake.add_role("Helpers")
    asker = fake.add_user("asker")
    async with running_client(make_bot(reading), fake, wait="guilds"):
        for command, options in (
            ("scope", {"channel": go_time, "podcast": CHANGELOG}),
            ("setup mentions", {"enabled": False}),
            ("setup handoff", {"role": helpers}),
            ("setup followups", {"idle_minutes": 45}),
        ):
            inter = await fake.slash(command, options, permissions=MODERATOR_PERMISSIONS)
            assert (await inter.callback()).status == 200
        ask = await fake.slash("ask", {"question": BERLIN}, channel_id=go_time, user_id=asker)
        answer = (await ask.followup(timeout=30)).response
        opened = await fake.click(button(answer, "follow"), user_id=asker)
        assert "45 minutes" in (await opened.followup(timeout=10)).json["content"]
    thread = int(answer["id"])

    async with running_client(make_bot(reading), fake, wait="guilds") as bot:  # a new process, the same database
        later = await fake.post("and what about the Go team panel?", channel_id=thread, user_id=asker)
        reply = await reply_to(fake, later)
        assert reply["embeds"] and podcasts_of(reply) == {CHANGELOG}
        ignored = await fake.post(f"<@{fake.bot_user_id}> {FIRST}", channel_id=go_time)  # mentions are still off
        shown = await fake.slash("settings")
        embed = (await shown.callback()).json["data"]["embeds"][0]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["Channel scopes"] == f"<#{go_time}>: {CHANGELOG}" and fields["Mentions"] == "off"
        assert fields["Hand-off"].startswith(f"<@&{helpers}>") and "45 minutes" in fields["Follow-up threads"]
        assert bot.server.guild(fake.guild_id).followup_idle_minutes == 45
        await reply_to(fake, await fake.post("who organised the panel?", channel_id=thread, user_id=asker))
        assert ignored["id"] not in replied_to(fake, go_time)  # handled before the follow-up just answered


@pytest.mark.asyncio
async def test_with_logging_turned_off_follow_ups_write_nothing_and_point_to_ask(fake_discord, reading, make_bot):
    fake = fake_discord
    asker = fake.add_user("asker")
    bot = make_bot(reading)
    async with running_client(bot, fake, wait="guilds"):
        answer = (await (await fake.slash("ask", {"question": FIRST}, user_id=asker)).followup(timeout=30)).response
        opened = await fake.click(button(answer, "follow"), user_id=asker)
        await opened.followup(timeout=10)  # a thread opened while logging was on
        thread = int(answer["id"])
        bot.settings = bot.settings.model_copy(update={"store_questions": False})  # the server turns logging off
        before = bot.store.query("SELECT last_active FROM followups")[0][0]
        again = await fake.click(button(answer, "follow"), user_id=asker)
        told = (await again.followup(timeout=10)).json
        assert f"Ask in <#{thread}> with `/ask`" in told["content"] and "no record" in told["content"]
        ignored = await fake.post("why did they move off Postgres?", channel_id=thread, user_id=asker)
        sentinel = await fake.post(f"<@{fake.bot_user_id}> {FIRST}")
        await reply_to(fake, sentinel)
        assert ignored["id"] not in replied_to(fake, thread)
        assert bot.store.query("SELECT last_active FROM followups")[0][0] == before  # nothing written since
    assert fake.bot_pings() == []
