"""The fake Discord's own rules, which the bot tests rely on: what it refuses, it refuses as Discord does.

The limits are pure functions, tested directly; the protocol rules (the 3-second deadline, one callback per
interaction, no follow-up before it, RESUME after a dropped socket) are tested with a bare discord.py client,
whose interactions the test answers by hand, so each rule can be broken on purpose.
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import aiohttp
import discord
import pytest

from tests.fake_discord import FakeDiscord, running_client
from tests.fake_discord.constants import INTENT_GUILD_MESSAGES, INTENT_MESSAGE_CONTENT
from tests.fake_discord.gateway import as_received
from tests.fake_discord.validation import (
    autocomplete_refusal,
    commands_refusal,
    message_refusal,
    modal_refusal,
    pings,
)


@pytest.fixture
def fake_discord_options() -> dict[str, Any]:
    return {"heartbeat_interval_ms": 300}


def field_errors(refusal) -> dict[str, Any]:
    status, body = refusal
    assert status == 400 and body["code"] == 50035 and body["message"] == "Invalid Form Body"
    return body["errors"]


def codes(node: dict[str, Any]) -> list[str]:
    return [e["code"] for e in node["_errors"]]


def test_a_message_within_every_limit_is_accepted_and_one_past_any_is_refused_naming_the_field():
    embed = {"title": "t" * 256, "description": "d" * 4096, "fields": [{"name": "n", "value": "v" * 1024}]}
    row = {"type": 1, "components": [{"type": 2, "style": 1, "custom_id": f"b{i}", "label": "x"} for i in range(5)]}
    assert message_refusal({"content": "c" * 2000, "embeds": [embed], "components": [row] * 1}) is None

    errors = field_errors(message_refusal({"content": "c" * 2001, "embeds": [{**embed, "title": "t" * 257}]}))
    assert codes(errors["content"]) == ["BASE_TYPE_MAX_LENGTH"]
    assert codes(errors["embeds"]["0"]["title"]) == ["BASE_TYPE_MAX_LENGTH"]
    # Each embed within its own limits, together over Discord's 6,000 characters.
    errors = field_errors(message_refusal({"embeds": [{"description": "d" * 3000}] * 3}))
    assert codes(errors["embeds"]) == ["MAX_EMBED_SIZE_EXCEEDED"]
    assert codes(field_errors(message_refusal({"embeds": [{"title": "t"}] * 11}))["embeds"]) == ["BASE_TYPE_MAX_LENGTH"]
    errors = field_errors(message_refusal({"components": [row] * 6}))
    assert codes(errors["components"]) == ["BASE_TYPE_MAX_LENGTH", *["COMPONENT_CUSTOM_ID_DUPLICATED"] * 25]
    long_id = {"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "i" * 101}]}
    assert codes(field_errors(message_refusal({"components": [long_id]}))["components"]["custom_id"]) == [
        "BASE_TYPE_MAX_LENGTH"
    ]
    assert message_refusal({"content": "", "embeds": []}) == (
        400,
        {"message": "Cannot send an empty message", "code": 50006},
    )
    # Errors in an interaction callback are reported under its `data`.
    assert "content" in field_errors(message_refusal({"content": "c" * 2001}, ["data"]))["data"]


def test_command_definitions_autocomplete_and_forms_are_held_to_discords_limits():
    ask = {"type": 1, "name": "ask", "description": "Ask", "options": [{"type": 3, "name": "q", "description": "Q"}]}
    menu = {"type": 3, "name": "Find in episodes", "description": ""}
    assert commands_refusal([ask, menu]) is None
    optional_first = [
        {"type": 3, "name": "a", "description": "A"},
        {"type": 3, "name": "b", "description": "B", "required": True},
    ]
    errors = field_errors(
        commands_refusal(
            [
                {**ask, "name": "Ask Me"},
                {**ask, "name": "find", "description": "d" * 101, "options": optional_first},
                ask,
                ask,
            ]
        )
    )
    assert codes(errors["0"]["name"]) == ["APPLICATION_COMMAND_INVALID_NAME"]
    assert codes(errors["1"]["description"]) == ["BASE_TYPE_MAX_LENGTH"]
    assert codes(errors["1"]["options"]["1"]["required"]) == ["APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"]
    assert "2" not in errors and codes(errors["3"]["name"]) == ["APPLICATION_COMMANDS_DUPLICATE_NAME"]

    choices = [{"name": f"episode {i}", "value": str(i)} for i in range(25)]
    assert autocomplete_refusal({"choices": choices}) is None
    errors = field_errors(autocomplete_refusal({"choices": [*choices, {"name": "n" * 101, "value": "v"}]}))
    assert codes(errors["data"]["choices"]) == ["BASE_TYPE_MAX_LENGTH"]
    assert codes(errors["data"]["choices"]["25"]["name"]) == ["BASE_TYPE_MAX_LENGTH"]

    text = {"type": 4, "custom_id": "comment", "label": "Comment", "style": 2, "max_length": 500}
    form = {"title": "t" * 45, "custom_id": "c", "components": [{"type": 1, "components": [text]}]}
    assert modal_refusal(form) is None
    assert codes(field_errors(modal_refusal({**form, "title": "t" * 46}))["data"]["title"]) == ["BASE_TYPE_MAX_LENGTH"]


async def next_interaction(client: discord.Client, fake: FakeDiscord, *, command: str = "ask") -> discord.Interaction:
    """Run `/command` and return the interaction as the client received it, unanswered."""
    received = asyncio.ensure_future(client.wait_for("interaction", timeout=5))
    await fake.slash(command)
    return await received


@pytest.mark.asyncio
async def test_callbacks_follow_discords_rules(fake_discord: FakeDiscord):
    fake = fake_discord
    client = discord.Client(intents=discord.Intents(guilds=True))
    async with running_client(client, fake, wait="guilds"):
        refused = await next_interaction(client, fake)
        with pytest.raises(discord.HTTPException) as too_long:
            await refused.response.send_message(embed=discord.Embed(description="x" * 4097))
        assert too_long.value.status == 400 and too_long.value.code == 50035
        assert "description" in fake.requests[-1].response["errors"]["data"]["embeds"]["0"]
        await refused.response.send_message("a refused answer acknowledges nothing: this one is accepted")

        await refused.followup.send("a follow-up is fine: the interaction is acknowledged")
        # discord.py refuses a second response itself; a client that did not would hear this from Discord:
        async with aiohttp.ClientSession() as http:
            url = f"{fake.api_base}/interactions/{refused.id}/{refused.token}/callback"
            async with http.post(url, json={"type": 4, "data": {"content": "a second callback"}}) as again:
                assert again.status == 400 and (await again.json())["code"] == 40060

        early = await next_interaction(client, fake)
        with pytest.raises(discord.NotFound) as no_webhook:
            await early.followup.send("before any callback")
        assert no_webhook.value.code == 10015

        fake.callback_deadline = 0.2
        late = await next_interaction(client, fake)
        await asyncio.sleep(0.3)
        with pytest.raises(discord.NotFound) as expired:
            await late.response.defer()
        assert expired.value.code == 10062
    assert not fake.unknown_requests


@pytest.mark.asyncio
async def test_files_are_stored_as_attachments_and_channel_messages_need_a_channel(fake_discord: FakeDiscord):
    fake = fake_discord
    announcements = fake.add_channel("announcements")
    client = discord.Client(intents=discord.Intents(guilds=True))
    async with running_client(client, fake, wait="guilds"):
        asked = await next_interaction(client, fake)
        await asked.response.defer(thinking=True)
        chart = discord.Embed(title="chart").set_image(url="attachment://chart.png")
        sent = await asked.followup.send(embed=chart, file=discord.File(io.BytesIO(b"\x89PNG fake"), "chart.png"))
        (upload,) = fake.requests_for("webhook_execute")[-1].files
        assert (upload.name, upload.filename, upload.data) == ("files[0]", "chart.png", b"\x89PNG fake")
        (attachment,) = sent.attachments
        assert attachment.filename == "chart.png" and attachment.size == len(b"\x89PNG fake")
        assert sent.embeds[0].image.url == attachment.url  # Discord shows the upload in the embed

        posted = await client.get_partial_messageable(announcements).send("by itself", file=discord.File(__file__))
        assert posted.content == "by itself" and posted.attachments[0].filename == "test_fake_discord.py"
        with pytest.raises(discord.NotFound) as unknown:
            await client.get_partial_messageable(fake.channel_id + 999).send("nowhere")
        assert unknown.value.code == 10003
        with pytest.raises(discord.HTTPException) as too_big:
            await client.get_partial_messageable(announcements).send(
                file=discord.File(io.BytesIO(bytes(10 * 1024 * 1024 + 1)), "big.bin")
            )
        assert too_big.value.status == 413 and too_big.value.code == 40005
    assert not fake.unknown_requests


@pytest.mark.asyncio
async def test_what_the_fake_does_not_model_is_refused_and_recorded(fake_discord: FakeDiscord):
    fake = fake_discord
    client = discord.Client(intents=discord.Intents(guilds=True))
    async with running_client(client, fake, wait="guilds"):
        with pytest.raises(discord.NotFound):
            await client.fetch_user(fake.user_id)  # the bot never looks users up
        clicked = await next_interaction(client, fake)
        form = aiohttp.FormData()
        form.add_field("payload_json", json.dumps({"type": 4, "data": {"content": "see the file"}}))
        form.add_field("file", b"hello", filename="hello.txt")  # not Discord's files[n]
        async with aiohttp.ClientSession() as http:
            url = f"{fake.api_base}/interactions/{clicked.id}/{clicked.token}/callback"
            async with http.post(url, data=form) as unmodelled:
                assert unmodelled.status == 400 and "multipart field 'file'" in await unmodelled.text()
    assert [(r.method, r.path) for r in fake.unknown_requests] == [
        ("GET", f"/users/{fake.user_id}"),
        ("POST", f"/interactions/{clicked.id}/{clicked.token}/callback"),
    ]
    fake.strict_routes = False  # the fixture would fail this test for them, which is the point


@pytest.mark.asyncio
async def test_the_gateway_resumes_after_a_drop_and_replays_what_was_missed(fake_discord: FakeDiscord):
    fake = fake_discord
    client = discord.Client(intents=discord.Intents(guilds=True))
    async with running_client(client, fake, wait="guilds"):
        assert fake.gateway.connects == [{"v": "10", "encoding": "json", "compress": "zlib-stream"}]
        assert "shard" not in fake.gateway.identifies[0]  # a plain Client; the bot's single shard says [0, 1]

        resumed = asyncio.ensure_future(client.wait_for("resumed", timeout=5))
        await fake.gateway.request_reconnect()
        await resumed

        resumed = asyncio.ensure_future(client.wait_for("resumed", timeout=5))
        await fake.gateway.drop_connection()
        missed = await next_interaction(client, fake)  # sent while the socket is down
        await resumed
        assert [e["d"]["id"] for e in fake.gateway.replayed] == [str(missed.id)]
        await missed.response.send_message("answered after the RESUME")

        await fake.gateway.invalidate_session()
        await fake.wait_until(lambda: len(fake.gateway.identifies) == 2, timeout=10, what="a new IDENTIFY")
        again = await next_interaction(client, fake)
        await again.response.send_message("answered on the new session")
    assert len(fake.gateway.connects) == 4  # the reconnect, the drop and the invalid session each opened one
    resumes = [f.payload["d"] for f in fake.gateway.frames if f.direction == "recv" and f.op == 6]
    assert len(resumes) == 2 and all(r["token"] == fake.token for r in resumes)
    assert [r.status for r in fake.requests_for("interaction_callback")] == [200, 200]


def test_pings_follow_discords_allowed_mentions_rules():
    text = "<@1> <@!2> <@&3> @everyone and @\u200beveryone escaped"
    assert pings(text, None) == {"everyone": True, "users": [1, 2], "roles": [3]}
    assert pings(text, {"parse": []}) == {"everyone": False, "users": [], "roles": []}
    assert pings(text, {"parse": [], "roles": [3, 4]}) == {"everyone": False, "users": [], "roles": [3]}
    assert pings(text, {"parse": ["users", "everyone"]}) == {"everyone": True, "users": [1, 2], "roles": []}
    # A reply notifies its author unless allowed_mentions is given without replied_user.
    assert pings("thanks", None, replied_user=9)["users"] == [9]
    assert pings("thanks", {"parse": []}, replied_user=9)["users"] == []
    assert pings("thanks", {"parse": [], "replied_user": True}, replied_user=9)["users"] == [9]
    assert pings("@\u200bhere <@\u200b1>", None) == {"everyone": False, "users": [], "roles": []}


def test_a_message_reaches_a_session_without_content_unless_it_may_read_it():
    bot_id, user = 10, {"id": "20"}
    message = {
        "id": "1",
        "author": user,
        "content": "hello",
        "embeds": [{"title": "t"}],
        "attachments": [],
        "components": [],
        "mentions": [],
        "poll": {"question": {"text": "?"}},
        "referenced_message": {"id": "0", "author": user, "content": "earlier", "mentions": []},
    }
    hidden = as_received(message, INTENT_GUILD_MESSAGES, bot_id)
    assert hidden["content"] == "" and hidden["embeds"] == [] and "poll" not in hidden
    assert hidden["referenced_message"]["content"] == "" and message["content"] == "hello"
    assert as_received(message, INTENT_GUILD_MESSAGES | INTENT_MESSAGE_CONTENT, bot_id)["content"] == "hello"
    mentioning = {**message, "mentions": [{"id": str(bot_id)}]}
    assert as_received(mentioning, INTENT_GUILD_MESSAGES, bot_id)["content"] == "hello"
    own = {**message, "author": {"id": str(bot_id)}}
    assert as_received(own, INTENT_GUILD_MESSAGES, bot_id)["content"] == "hello"


@pytest.mark.asyncio
async def test_messages_threads_and_forum_posts_follow_discords_rules(fake_discord: FakeDiscord):
    fake = fake_discord
    forum = fake.add_forum("help", tags=["Resolved"])
    helpers = fake.add_role("Helpers")
    client = discord.Client(intents=discord.Intents(guilds=True, guild_messages=True))
    seen: list[discord.Message] = []
    client.event(_recorder(seen))
    async with running_client(client, fake, wait="guilds"):
        channel = client.get_channel(fake.channel_id)
        assert isinstance(client.get_channel(forum), discord.ForumChannel)
        question = await fake.post(f"<@{fake.bot_user_id}> <@&{helpers}> hello")
        chatter = await fake.post("just chatting")
        await fake.wait_until(lambda: len(seen) == 2, what="two messages")
        assert [m.content for m in seen] == [question["content"], ""]  # no Message Content intent
        assert seen[0].mentions == [channel.guild.me] and seen[0].role_mentions[0].id == helpers

        sent = await channel.send(
            "a reply", reference=seen[1].to_reference(), allowed_mentions=discord.AllowedMentions.none()
        )
        assert sent.reference.message_id == int(chatter["id"]) and sent.type is discord.MessageType.reply
        with pytest.raises(discord.HTTPException) as unknown:
            await channel.send("to nothing", reference=discord.MessageReference(message_id=1, channel_id=channel.id))
        assert unknown.value.code == 50035 and "message_reference" in unknown.value.text
        plain = await channel.send(
            "to nothing",
            reference=discord.MessageReference(message_id=1, channel_id=channel.id, fail_if_not_exists=False),
        )
        assert plain.reference is None
        await fake.wait_until(lambda: len(seen) == 4, what="the bot's own messages echoed back")

        thread = await sent.create_thread(name="more about it")
        assert thread.id == sent.id and thread.parent_id == channel.id
        with pytest.raises(discord.HTTPException) as twice:
            await sent.create_thread(name="again")
        assert twice.value.code == 160004
        await fake.wait_until(lambda: channel.guild.get_thread(thread.id) is not None, what="THREAD_CREATE")
        with pytest.raises(discord.HTTPException) as in_forum:
            await client.get_partial_messageable(forum).send("a forum takes posts, not messages")
        assert in_forum.value.code == 50008

        resolved = fake.forum_tag(forum, "Resolved")
        post = await fake.forum_post(forum, "How do I back up?", "Details here", tags=[resolved])
        await fake.wait_until(lambda: len(seen) == 5, what="the post's first message")
        opened = channel.guild.get_thread(post)
        assert opened.parent_id == forum and [t.name for t in opened.applied_tags] == ["Resolved"]
        assert seen[-1].id == post and seen[-1].channel.id == post
        await fake.tag_post(post, [])
        await fake.wait_until(lambda: not opened.applied_tags, what="THREAD_UPDATE")
        await fake.set_roles(fake.user_id, [helpers])  # no Guild Members intent: no GUILD_MEMBER_UPDATE
    assert not [f for f in fake.gateway.frames if f.event == "GUILD_MEMBER_UPDATE"]
    assert not fake.unknown_requests


def _recorder(seen: list[discord.Message]):
    async def on_message(message: discord.Message) -> None:
        seen.append(message)

    return on_message
