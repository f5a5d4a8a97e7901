"""Hand-off to people, end to end: after a 👎 on a server with a hand-off role, "Not helpful — ask a human" pings
that role once per question, with allowed_mentions naming exactly it: the only ping the bot ever makes."""

from __future__ import annotations

import pytest

from tests.fake_discord import MODERATOR_PERMISSIONS, CallbackType, Perm, running_client
from tests.server_fixtures import sent_bodies

EPHEMERAL = 64
QUESTION = "What backup tool does Marta recommend?"


def buttons(body: dict) -> dict[str, str]:
    """Button custom ids by their kind (more, vote, follow, note, human); the 👎 is "down"."""
    found = {}
    for row in body.get("components") or []:
        for c in row["components"]:
            kind = c["custom_id"].split(":")[1]
            found["down" if c["custom_id"].endswith(":down") else "up" if kind == "vote" else kind] = c["custom_id"]
    return found


@pytest.mark.asyncio
async def test_ask_a_human_pings_the_configured_role_once_per_question(fake_discord, settings, make_bot):
    fake = fake_discord
    quiet = fake.add_role("Quiet")  # not mentionable: the bot cannot notify it without Mention Everyone
    helpers = fake.add_role("Helpers", mentionable=True)
    critic, another = fake.add_user("critic"), fake.add_user("another")
    bot = make_bot(settings)
    async with running_client(bot, fake, wait="guilds"):
        warned = await fake.slash("setup handoff", {"role": quiet}, permissions=MODERATOR_PERMISSIONS)
        assert "Discord won't notify" in (await warned.callback()).json["data"]["content"]
        setup = await fake.slash("setup handoff", {"role": helpers}, permissions=MODERATOR_PERMISSIONS)
        reply = (await setup.callback()).json["data"]["content"]
        assert f"<@&{helpers}>" in reply and "won't notify" not in reply
        ask = await fake.slash("ask", {"question": QUESTION})
        answer = (await ask.followup(timeout=30)).response

        down = await fake.click(buttons(answer)["down"], user_id=critic)
        choice = (await down.callback()).json
        assert choice["type"] == CallbackType.CHANNEL_MESSAGE_WITH_SOURCE and choice["data"]["flags"] == EPHEMERAL
        offered = buttons(choice["data"])
        assert set(offered) == {"note", "human"}

        note = await fake.click(offered["note"], user_id=critic)
        form = (await note.callback()).json
        assert form["type"] == CallbackType.MODAL
        saved = await fake.submit_modal(form["data"]["custom_id"], {"comment": "wrong episode"})
        assert "noted" in (await saved.callback()).json["data"]["content"]

        human = await fake.click(offered["human"], user_id=critic)
        assert (await human.callback()).json["data"]["flags"] == EPHEMERAL
        assert f"I've asked <@&{helpers}>" in (await human.followup(timeout=10)).json["content"]
        (handoff,) = sent_bodies(fake)
        assert handoff["allowed_mentions"]["roles"] == [helpers] and handoff["allowed_mentions"]["parse"] == []
        assert not handoff["allowed_mentions"].get("users") and not handoff["allowed_mentions"].get("replied_user")
        assert str(handoff["message_reference"]["message_id"]) == answer["id"]
        assert handoff["content"].startswith(f"<@&{helpers}> **Critic**") and QUESTION in handoff["content"]

        # Once per question: a second click, by anyone, on this page or the next, pings nobody again.
        again = await fake.click(offered["human"], user_id=another)
        assert "already asked a human" in (await again.callback()).json["data"]["content"]
        more = await fake.click(buttons(answer)["more"], user_id=another)
        page_two = (await more.followup(timeout=30)).response
        down_two = await fake.click(buttons(page_two)["down"], user_id=another)
        human_two = await fake.click(buttons((await down_two.callback()).json["data"])["human"], user_id=another)
        assert "already asked a human" in (await human_two.callback()).json["data"]["content"]

    ((message, pinged),) = fake.bot_pings()
    assert pinged == {"everyone": False, "users": [], "roles": [helpers]}
    assert message["referenced_message"]["id"] == answer["id"]
    feedback = [(r["vote"], r["comment"]) for r in bot.store.feedback_rows()]
    assert ("down", "wrong episode") in feedback


@pytest.mark.asyncio
async def test_without_a_hand_off_role_a_downvote_asks_only_what_was_wrong(fake_discord, settings, make_bot):
    fake = fake_discord
    helpers = fake.add_role("Helpers")
    async with running_client(make_bot(settings), fake, wait="guilds") as bot:
        bot.server.update(fake.guild_id, handoff_role_id=helpers)
        off = await fake.slash("setup handoff", permissions=MODERATOR_PERMISSIONS)
        assert "Hand-off is off" in (await off.callback()).json["data"]["content"]
        ask = await fake.slash("ask", {"question": QUESTION})
        answer = (await ask.followup(timeout=30)).response
        down = await fake.click(buttons(answer)["down"])
        assert (await down.callback()).json["type"] == CallbackType.MODAL
        # A hand-off button left on an old message does nothing once hand-off is off.
        stale = await fake.click(f"pqa:human:{buttons(answer)['down'].split(':')[2]}:{answer['id']}")
        assert "isn't set up" in (await stale.callback()).json["data"]["content"]
    assert fake.bot_pings() == [] and sent_bodies(fake) == []


@pytest.mark.asyncio
async def test_a_hand_off_the_bot_cannot_post_is_said_so_and_can_be_tried_again(fake_discord, settings, make_bot):
    fake = fake_discord
    helpers = fake.add_role("Helpers", mentionable=True)
    bot_role = next(r for r in fake.guild.roles if r.get("managed"))
    everyone = fake.guild.role(fake.guild_id)
    bot = make_bot(settings)
    async with running_client(bot, fake, wait="guilds"):
        bot.server.update(fake.guild_id, handoff_role_id=helpers)
        ask = await fake.slash("ask", {"question": QUESTION})
        answer = (await ask.followup(timeout=30)).response
        down = await fake.click(buttons(answer)["down"])
        human_id = buttons((await down.callback()).json["data"])["human"]

        for role in (bot_role, everyone):  # a channel where the bot may answer interactions but not post
            role["permissions"] = str(int(role["permissions"]) & ~int(Perm.SEND_MESSAGES))
        refused = await fake.click(human_id)
        assert "couldn't post here" in (await refused.followup(timeout=10)).json["content"]
        assert [r.status for r in fake.requests_for("create_message")] == [403]
        for role in (bot_role, everyone):
            role["permissions"] = str(int(role["permissions"]) | int(Perm.SEND_MESSAGES))
        retried = await fake.click(human_id)
        assert "I've asked" in (await retried.followup(timeout=10)).json["content"]
    assert len(fake.bot_pings()) == 1
