"""Forum auto-answer, end to end: one answer per new post in a configured forum, or none; never to replies,
never after staff or the skip tag; nothing (and one warning) without the Message Content intent."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.fake_discord import MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS, Perm, running_client
from tests.fake_discord.constants import INTENT_MESSAGE_CONTENT
from tests.server_fixtures import SearchGate, eventually, reply_to

EPHEMERAL = 64
QUESTION = "Which backup tool for SQLite?"
BODY = "We run SQLite in production and want continuous backups. What did Marta use?"


@pytest.fixture
def reading(fake_discord, network_settings):
    """Settings of a bot that asks for the Message Content intent, which the fake application has, with the
    production score floor (what decides whether a post gets an answer at all)."""
    fake_discord.gateway.privileged_intents = INTENT_MESSAGE_CONTENT
    return network_settings.model_copy(update={"message_content_intent": True, "score_floor": 0.4})


def post_state(bot, thread_id: int) -> str | None:
    rows = bot.store.query("SELECT state FROM forum_posts WHERE thread_id = ?", (thread_id,))
    return rows[0][0] if rows else None


async def settle(fake) -> None:
    """Wait until the bot has handled every message sent so far: it answers a mention after them."""
    sentinel = await fake.post(f"<@{fake.bot_user_id}> why did they move off Postgres?")
    await reply_to(fake, sentinel)


@pytest.mark.asyncio
async def test_without_the_intent_setup_refuses_and_posts_get_nothing_but_one_warning(
    fake_discord, network_settings, make_bot, caplog
):
    fake = fake_discord
    forum = fake.add_forum("help", tags=["Resolved"])
    bot = make_bot(network_settings)
    async with running_client(bot, fake, wait="guilds"):
        refused = await fake.slash(
            "setup forum", {"channel": forum, "enabled": True}, permissions=MODERATOR_PERMISSIONS
        )
        reply = (await refused.callback()).json["data"]
        assert reply["flags"] == EPHEMERAL and "Message Content intent" in reply["content"]
        assert "MESSAGE_CONTENT_INTENT=true" in reply["content"] and bot.server.forum(forum) is None

        # Set up by an earlier run that had the intent, then restarted without it:
        resolved = fake.forum_tag(forum, "Resolved")
        bot.server.set_forum(fake.guild_id, forum, enabled=True, skip_tag_id=resolved)
        with caplog.at_level(logging.WARNING, logger="bot"):
            threads = [await fake.forum_post(forum, QUESTION, BODY, user_id=fake.add_user(f"u{i}")) for i in range(3)]
            await settle(fake)
        assert all(fake.messages_in(t) == [] for t in threads)
        warnings = [r for r in caplog.records if r.name == "bot" and "MESSAGE_CONTENT_INTENT is off" in r.getMessage()]
        assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
        # A post that mentions the bot is readable without the intent, and answered as a mention.
        mention = f"<@{fake.bot_user_id}> {QUESTION}"
        mentioned = await fake.forum_post(forum, QUESTION, mention, user_id=fake.add_user("m"))
        assert (await reply_to(fake, {"id": str(mentioned), "channel_id": str(mentioned)}))["embeds"]
        # unless the post carries the skip tag: it is left to people, mentions included
        tagged = await fake.forum_post(forum, QUESTION, mention, user_id=fake.add_user("t"), tags=[resolved])
        await settle(fake)
        assert fake.messages_in(tagged) == []

        settings = await fake.slash("settings")
        shown = str((await settings.callback()).json["data"]["embeds"])
        assert "paused, the Message Content intent is off" in shown


@pytest.mark.asyncio
async def test_a_new_post_is_answered_once_in_its_thread_and_replies_never(fake_discord, reading, make_bot):
    fake = fake_discord
    forum = fake.add_forum("help", tags=["Resolved", "Bug"])
    resolved = fake.forum_tag(forum, "Resolved")
    bot = make_bot(reading)
    async with running_client(bot, fake, wait="guilds"):
        unknown = await fake.slash(
            "setup forum", {"channel": forum, "enabled": True, "skip_tag": "Done"}, permissions=MODERATOR_PERMISSIONS
        )
        assert "**Resolved**, **Bug**" in (await unknown.callback()).json["data"]["content"]
        setup = await fake.slash(
            "setup forum",
            {"channel": forum, "enabled": True, "skip_tag": "resolved"},
            permissions=MODERATOR_PERMISSIONS,
        )
        assert "tagged **Resolved**" in (await setup.callback()).json["data"]["content"]

        asker = fake.add_user("asker")
        thread = await fake.forum_post(forum, QUESTION, BODY, user_id=asker)
        (answer,) = [await reply_to(fake, fake.messages[thread])]
        assert answer["channel_id"] == str(thread) and answer["embeds"]
        assert answer["embeds"][0]["title"] == "SQLite in Production"
        assert QUESTION in answer["content"]

        await fake.post("Thanks! And what about restores?", channel_id=thread, user_id=asker)  # a reply
        offtopic = await fake.forum_post(forum, "Cake recipe", "A chocolate cake with strawberries, please")
        tagged = await fake.forum_post(forum, QUESTION, BODY, tags=[resolved])
        await settle(fake)
        # Posts are searched concurrently: the sentinel's answer can come before the cake post's verdict.
        await eventually(lambda: post_state(bot, offtopic) != "pending", what="a verdict on the cake post")
        assert len(fake.messages_in(thread)) == 1  # the reply got nothing
        assert fake.messages_in(offtopic) == []  # nothing clears the floor: no "no match" noise
        assert fake.messages_in(tagged) == []
        assert [post_state(bot, t) for t in (thread, offtopic, tagged)] == ["answered", "skipped", None]

        settings = await fake.slash("settings")
        shown = str((await settings.callback()).json["data"]["embeds"])
        assert f"<#{forum}>, except posts tagged **Resolved**" in shown

        off = await fake.slash("setup forum", {"channel": forum, "enabled": False}, permissions=MODERATOR_PERMISSIONS)
        await off.callback()
        after = await fake.forum_post(forum, QUESTION, BODY)
        await settle(fake)
        assert fake.messages_in(after) == []
    assert fake.bot_pings() == []


@pytest.mark.asyncio
async def test_thirty_posts_at_once_are_each_answered_once(fake_discord, reading, make_bot):
    fake = fake_discord
    forum = fake.add_forum("help")
    bot = make_bot(reading)
    async with running_client(bot, fake, wait="guilds"):
        bot.server.set_forum(fake.guild_id, forum, enabled=True)
        users = [fake.add_user(f"poster{i}") for i in range(30)]
        questions = [QUESTION, "Why did they move off Postgres?", "What went wrong with linkmoth 2.4.0?"]
        threads = await asyncio.gather(
            *(fake.forum_post(forum, questions[i % 3], "Any pointers?", user_id=u) for i, u in enumerate(users))
        )
        await fake.wait_until(
            lambda: all(fake.messages_in(t) for t in threads), timeout=240, what="an answer in each of 30 posts"
        )
        # Discord replays what a client missed after a reconnect: the same post again gets no second answer.
        first = fake.messages[threads[0]]
        await fake.gateway.send_event("MESSAGE_CREATE", first, guild_id=fake.guild_id)
        await settle(fake)
        assert [len(fake.messages_in(t)) for t in threads] == [1] * 30
        for thread in threads:
            (answer,) = fake.messages_in(thread)
            assert answer["embeds"] and answer["message_reference"]["message_id"] == str(thread)
    assert fake.bot_pings() == []


@pytest.mark.asyncio
async def test_no_answer_after_staff_replied_or_the_post_was_tagged_while_searching(fake_discord, reading, make_bot):
    fake = fake_discord
    forum = fake.add_forum("help", tags=["Resolved"])
    resolved = fake.forum_tag(forum, "Resolved")
    helpers = fake.add_role("Helpers")
    moderator_role = fake.add_role("Mods", MEMBER_PERMISSIONS | int(Perm.MANAGE_MESSAGES))
    moderator = fake.add_user("moderator", roles=[moderator_role])
    volunteer = fake.add_user("volunteer")
    bot = make_bot(reading)
    async with running_client(bot, fake, wait="guilds"):
        bot.server.set_forum(fake.guild_id, forum, enabled=True, skip_tag_id=resolved)
        bot.server.update(fake.guild_id, handoff_role_id=helpers)
        await fake.set_roles(volunteer, [helpers])  # the bot has no Guild Members intent: it sees this later
        assert not [f for f in fake.gateway.frames if f.event == "GUILD_MEMBER_UPDATE"]

        async def while_searching(act) -> int:
            gate = SearchGate(bot.live.searcher)
            thread = await fake.forum_post(forum, QUESTION, BODY)
            await asyncio.to_thread(gate.entered.wait, 30)
            await act(thread)
            gate.released.set()
            await eventually(lambda: post_state(bot, thread) != "pending", what="the post settled")
            return thread

        async def moderator_replies(thread: int) -> None:
            await fake.post("Looking into it.", channel_id=thread, user_id=moderator)
            await eventually(lambda: post_state(bot, thread) == "staff", what="the moderator's reply seen")

        async def volunteer_replies(thread: int) -> None:
            await fake.post("Try Shelfcopy.", channel_id=thread, user_id=volunteer)
            await eventually(lambda: post_state(bot, thread) == "staff", what="the volunteer's reply seen")

        async def tagged(thread: int) -> None:
            await fake.tag_post(thread, [resolved])
            await eventually(lambda: bot.get_channel(thread).applied_tags, what="the tag seen")

        async def author_replies(thread: int) -> None:
            owner = int(fake.guild.channel(thread)["owner_id"])
            await fake.post("Also: restores?", channel_id=thread, user_id=owner)

        staffed = await while_searching(moderator_replies)
        volunteered = await while_searching(volunteer_replies)
        marked = await while_searching(tagged)
        by_author = await while_searching(author_replies)  # the asker is no staff: the post is still answered
        await reply_to(fake, fake.messages[by_author])
        await settle(fake)
        assert [len(fake.messages_in(t)) for t in (staffed, volunteered, marked, by_author)] == [0, 0, 0, 1]

        # A post left to people stays theirs: mentions in it are not answered either.
        await fake.post(f"<@{fake.bot_user_id}> {QUESTION}", channel_id=marked)
        await settle(fake)
        assert fake.messages_in(marked) == []
