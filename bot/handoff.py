"""Hand-off to people: "Not helpful — ask a human" (offered after a 👎 where the server has set a role with
/setup handoff) pings that role once per question, in a reply to the answer.

It is the only ping the bot ever makes: the message's `allowed_mentions` names exactly that role and nothing
else, and a second click, by anyone, is told it was already asked (the claim is a row of the bot's SQLite).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord

from bot.render_server import render_handoff
from bot.replies import EXPIRED, NO_PINGS, Refusal

if TYPE_CHECKING:
    pass

Interaction = discord.Interaction["PodcastBot"]


def handoff_role(interaction: Interaction) -> int | None:
    """The role this server pings for a human answer; None when it has none (or in a DM)."""
    if interaction.guild_id is None:
        return None
    return interaction.client.server.guild(interaction.guild_id).handoff_role_id


async def hand_off(interaction: Interaction, question_id: int, answer_id: int) -> None:
    """Ping the hand-off role about question `question_id`, replying to the answer message `answer_id`."""
    bot = interaction.client
    role_id = handoff_role(interaction)
    asked = bot.store.question(question_id)
    if role_id is None or asked is None or interaction.channel is None:
        text = EXPIRED if asked is None else "Asking a human isn't set up on this server."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
        return
    claim = asked.follows or asked.id  # "More from <episode>" pages hand off the question they narrow
    if not bot.store.write(
        "INSERT OR IGNORE INTO handoffs (question_id, created_at) VALUES (?, ?)", (claim, time.time())
    ):
        await interaction.response.send_message(
            "Someone has already asked a human about this question.", ephemeral=True, allowed_mentions=NO_PINGS
        )
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    channel = interaction.channel
    assert isinstance(channel, discord.abc.Messageable)
    answer = channel.get_partial_message(answer_id)  # type: ignore[attr-defined]
    try:
        await channel.send(
            render_handoff(role_id, interaction.user.display_name, asked.question),
            reference=answer.to_reference(fail_if_not_exists=False),
            allowed_mentions=discord.AllowedMentions(
                everyone=False, users=False, roles=[discord.Object(role_id)], replied_user=False
            ),
        )
    except discord.HTTPException as exc:
        bot.store.write("DELETE FROM handoffs WHERE question_id = ?", (claim,))  # let someone try again
        raise Refusal("I couldn't post here to ask a human; please ask a moderator directly.") from exc
    await interaction.followup.send(
        f"I've asked <@&{role_id}> to take a look.", ephemeral=True, allowed_mentions=NO_PINGS
    )
