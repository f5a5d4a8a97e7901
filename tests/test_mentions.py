"""Mentions: "@bot question" is answered with a reply carrying the same embeds as /ask, without the privileged
Message Content intent, in the channel's scope, under the same limits, and pinging nobody."""

from __future__ import annotations

import pytest

from tests.fake_discord import MODERATOR_PERMISSIONS, running_client
from tests.fake_discord.constants import INTENT_MESSAGE_CONTENT
from tests.server_fixtures import CHANGELOG, TINY_STACK, reply_to, sent_bodies

QUESTION = "What backup tool does Marta recommend?"
NO_PINGS = {"parse": [], "replied_user": False}  # discord.py spells out "not the author" in a reply


def visible(embeds: list[dict]) -> list[tuple[str, str, str]]:
    return [(e["title"], e["description"], e["footer"]["text"]) for e in embeds]


@pytest.mark.asyncio
async def test_a_mention_is_answered_like_ask_without_the_message_content_intent(
    fake_discord, network_settings, make_bot
):
    fake = fake_discord
    bot = make_bot(network_settings)
    assert not network_settings.message_content_intent
    async with running_client(bot, fake, wait="guilds"):
        ask = await fake.slash("ask", {"question": QUESTION})
        asked = (await ask.followup(timeout=30)).json

        plain = await fake.post(f"hey, {QUESTION}")  # no mention: the bot is not even shown its text
        mention = await fake.post(f"<@{fake.bot_user_id}> {QUESTION}")
        answer = await reply_to(fake, mention)
        assert not bot.intents.message_content and fake.gateway.sessions
        received = [f.payload["d"] for f in fake.gateway.frames if f.event == "MESSAGE_CREATE"]
        assert [m["content"] for m in received if m["id"] == plain["id"]] == [""]
        assert [m["content"] for m in received if m["id"] == mention["id"]] == [mention["content"]]

        assert visible(answer["embeds"]) == visible(asked["embeds"])
        assert answer["content"] == asked["content"]
        ids = [c["custom_id"] for row in answer["components"] for c in row["components"]]
        assert [i.split(":")[1] for i in ids] == ["more", "same", "vote", "vote", "follow"]
        (body,) = sent_bodies(fake)
        assert body["allowed_mentions"] == NO_PINGS
        assert str(body["message_reference"]["message_id"]) == mention["id"]
    assert fake.bot_pings() == []


@pytest.mark.asyncio
async def test_a_message_that_mentions_the_bot_and_everyone_pings_nobody(fake_discord, network_settings, make_bot):
    fake = fake_discord
    helpers = fake.add_role("Helpers")
    other = fake.add_user("bystander")
    async with running_client(make_bot(network_settings), fake, wait="guilds"):
        hostile = [
            f"@everyone <@{fake.bot_user_id}> is sqlite fine in production? @here",
            f"<@!{fake.bot_user_id}> <@{other}> <@&{helpers}> @everyone what backup tool?",
            f"<@{fake.bot_user_id}> @everyone",  # nothing left to ask once the mentions are out
        ]
        for text in hostile:
            message = await fake.post(text)
            reply = await reply_to(fake, message)
            assert "@everyone" not in reply["content"] and "@here" not in reply["content"]
            assert f"<@{other}>" not in reply["content"] and f"<@&{helpers}>" not in reply["content"]
        assert len(sent_bodies(fake)) == 3
        assert all(body["allowed_mentions"] == NO_PINGS for body in sent_bodies(fake))
        assert "Ask me a question after the mention" in reply["content"]
    assert fake.bot_pings() == []


@pytest.mark.asyncio
async def test_mentions_outside_the_allowed_channels_or_turned_off_are_ignored(
    fake_discord, network_settings, make_bot
):
    fake = fake_discord
    allowed = fake.add_channel("ask-the-bot")
    only_there = network_settings.model_copy(update={"allowed_channel_ids": [allowed]})
    bot = make_bot(only_there)
    async with running_client(bot, fake, wait="guilds"):
        await fake.post(f"<@{fake.bot_user_id}> {QUESTION}")  # in the first channel, which is not allowed
        inside = await fake.post(f"<@{fake.bot_user_id}> {QUESTION}", channel_id=allowed)
        await reply_to(fake, inside)  # handled after the one before it, which left no trace
        assert fake.messages_in(fake.channel_id) == [] and len(sent_bodies(fake)) == 1

        off = await fake.slash(
            "setup mentions", {"enabled": False}, permissions=MODERATOR_PERMISSIONS, channel_id=allowed
        )
        assert "ignore mentions" in (await off.callback()).json["data"]["content"]
        ignored = await fake.post(f"<@{fake.bot_user_id}> {QUESTION}", channel_id=allowed)
        on = await fake.slash(
            "setup mentions", {"enabled": True}, permissions=MODERATOR_PERMISSIONS, channel_id=allowed
        )
        await on.callback()
        again = await fake.post(f"<@{fake.bot_user_id}> {QUESTION}", channel_id=allowed)
        await reply_to(fake, again)
        replied_to = [str(b["message_reference"]["message_id"]) for b in sent_bodies(fake)]
        assert replied_to == [inside["id"], again["id"]] and ignored["id"] not in replied_to


@pytest.mark.asyncio
async def test_mentions_keep_the_limits_of_ask_and_the_scope_of_the_channel(fake_discord, network_settings, make_bot):
    fake = fake_discord
    go_time = fake.add_channel("go-time")
    limited = network_settings.model_copy(update={"cooldown_questions": 3, "cooldown_seconds": 600})
    bot = make_bot(limited)
    async with running_client(bot, fake, wait="guilds"):
        bot.server.set_scope(fake.guild_id, go_time, [CHANGELOG])
        scoped = await fake.post(f"<@{fake.bot_user_id}> {QUESTION}", channel_id=go_time)
        footers = [e["footer"]["text"] for e in (await reply_to(fake, scoped))["embeds"]]
        assert footers and not any(TINY_STACK in f for f in footers)

        too_long = await fake.post(f"<@{fake.bot_user_id}> " + "why " * 200)  # refused, and counted
        assert "under 300 characters" in (await reply_to(fake, too_long))["content"]
        second = await fake.post(f"<@{fake.bot_user_id}> {QUESTION}")
        assert (await reply_to(fake, second))["embeds"]
        third = await fake.post(f"<@{fake.bot_user_id}> {QUESTION}")
        assert "You're asking quickly! Try again in" in (await reply_to(fake, third))["content"]
        # Told once per wait: the replies are public, so more messages get no more of them.
        more = [await fake.post(f"<@{fake.bot_user_id}> {text}") for text in (QUESTION, "", "why " * 200)]
        sentinel = await fake.post(f"<@{fake.bot_user_id}> {QUESTION}", user_id=fake.add_user("someone else"))
        assert (await reply_to(fake, sentinel))["embeds"]
        replied_to = {str(b["message_reference"]["message_id"]) for b in sent_bodies(fake)}
        assert not replied_to & {m["id"] for m in more}
        # The cooldown is the same one /ask counts against.
        ask = await fake.slash("ask", {"question": QUESTION})
        assert "Try again in" in (await ask.callback()).json["data"]["content"]


@pytest.mark.asyncio
async def test_a_reply_that_only_pings_the_bot_is_not_a_question(fake_discord, network_settings, make_bot):
    fake = fake_discord
    fake.gateway.privileged_intents = INTENT_MESSAGE_CONTENT
    reading = network_settings.model_copy(update={"message_content_intent": True})
    async with running_client(make_bot(reading), fake, wait="guilds"):
        asked = await fake.post(f"<@{fake.bot_user_id}> {QUESTION}")
        answer = await reply_to(fake, asked)
        thanks = await fake.post("thanks, that's it!", reply_to=int(answer["id"]))  # a reply ping, no mention
        assert any(m["id"] == str(fake.bot_user_id) for m in thanks["mentions"])
        chatter = await fake.post("anyone around?")  # the bot can read it now, and still says nothing
        sentinel = await fake.post(f"<@{fake.bot_user_id}> why did they move off Postgres?")
        await reply_to(fake, sentinel)
        replied_to = [str(b["message_reference"]["message_id"]) for b in sent_bodies(fake)]
        assert replied_to == [asked["id"], sentinel["id"]] and thanks["id"] not in replied_to
        assert chatter["id"] not in replied_to
