"""Buttons under an answer (More, 👍, 👎, Follow up), the choice after a 👎 where the server has a hand-off role
(say what was wrong, or ask a human), and the comment form, as persistent dynamic items.

All state lives in the custom id (`pqa:more:<question id>:<offset>`) and the bot's SQLite, so buttons on
messages sent before a restart keep working; a question the database no longer has gets a clear "expired".
The comment form is answered from `on_interaction` by its custom id for the same reason: a form opened
before a restart (or left open for an hour) is still saved when it is submitted.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.followups import FollowUpButton
from bot.handoff import hand_off, handoff_role
from bot.render import truncate
from bot.replies import EXPIRED, FEEDBACK_OFF, NO_PINGS, reports_errors
from index.search import Filters

if TYPE_CHECKING:
    from bot.client import PodcastBot

COMMENT_ID = re.compile(r"pqa:comment:(?P<qid>\d{1,18}):(?P<offset>\d{1,4})")


def answer_view(
    question_id: int, offset: int, *, has_more: bool, follow_up: bool = False, episode: str | None = None
) -> discord.ui.View:
    """The buttons under one page of answers (starting at `offset`) to question `question_id`; `follow_up` adds
    the button that opens a follow-up thread (answers posted where threads can start from them); `episode`, the
    title of the page's first answer, one that searches the same question in that episode only."""
    view = discord.ui.View(timeout=None)
    if has_more:
        view.add_item(MoreButton(question_id, offset))
    if episode is not None:
        view.add_item(EpisodeMoreButton(question_id, offset, episode))
    view.add_item(VoteButton(question_id, offset, "up"))
    view.add_item(VoteButton(question_id, offset, "down"))
    if follow_up:
        view.add_item(FollowUpButton(question_id))
    return view


class MoreButton(discord.ui.DynamicItem[discord.ui.Button], template=r"pqa:more:(?P<qid>\d{1,18}):(?P<offset>\d{1,4})"):
    """Shows the next page of answers to the same question, as a new message."""

    def __init__(self, question_id: int, offset: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="More", style=discord.ButtonStyle.primary, custom_id=f"pqa:more:{question_id}:{offset}"
            )
        )
        self.question_id = question_id
        self.offset = offset

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> MoreButton:
        return cls(int(match["qid"]), int(match["offset"]))

    @reports_errors
    async def callback(self, interaction: discord.Interaction[PodcastBot]) -> None:
        bot = interaction.client
        asked = bot.store.question(self.question_id)
        if asked is None:
            await interaction.response.send_message(EXPIRED, ephemeral=True, allowed_mentions=NO_PINGS)
            return
        if await bot.refuse_if_limited(interaction):
            return
        await interaction.response.defer(ephemeral=bot.settings.ephemeral_answers, thinking=True)
        next_offset = self.offset + asked.per_page
        await bot.send_answer(
            interaction, asked.question, asked.filters, asked.per_page, next_offset, asked.id, follows=asked.follows
        )


class EpisodeMoreButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"pqa:same:(?P<qid>\d{1,18}):(?P<offset>\d{1,4})"
):
    """Asks the same question again inside the episode of the page's first answer: "what else did they say?"."""

    def __init__(self, question_id: int, offset: int, title: str = "this episode") -> None:
        label = truncate(f"More from {title}", 80)  # Discord's limit for a button label
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, custom_id=f"pqa:same:{question_id}:{offset}"
            )
        )
        self.question_id = question_id
        self.offset = offset

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> EpisodeMoreButton:
        return cls(int(match["qid"]), int(match["offset"]))

    @reports_errors
    async def callback(self, interaction: discord.Interaction[PodcastBot]) -> None:
        bot = interaction.client
        asked = bot.store.question(self.question_id)
        shown = bot.store.shown_episodes(self.question_id, self.offset)
        if asked is None or not shown:
            await interaction.response.send_message(EXPIRED, ephemeral=True, allowed_mentions=NO_PINGS)
            return
        if bot.live.searcher.store.episode_by_key(shown[0]) is None:
            await interaction.response.send_message(
                "That episode is no longer indexed.", ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        if await bot.refuse_if_limited(interaction):
            return
        await interaction.response.defer(ephemeral=bot.settings.ephemeral_answers, thinking=True)
        filters = Filters(episode=shown[0], speaker=asked.speaker)
        follows = asked.follows or asked.id  # a narrower search of the same question, not a new question
        await bot.send_answer(interaction, asked.question, filters, asked.per_page, 0, follows=follows)


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"pqa:vote:(?P<qid>\d{1,18}):(?P<offset>\d{1,4}):(?P<vote>up|down)",
):
    """👍 saves a vote; 👎 saves it and offers a form to say what was wrong."""

    def __init__(self, question_id: int, offset: int, vote: str) -> None:
        super().__init__(
            discord.ui.Button(
                emoji="👍" if vote == "up" else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"pqa:vote:{question_id}:{offset}:{vote}",
            )
        )
        self.question_id = question_id
        self.offset = offset
        self.vote = vote

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> VoteButton:
        return cls(int(match["qid"]), int(match["offset"]), match["vote"])

    @reports_errors
    async def callback(self, interaction: discord.Interaction[PodcastBot]) -> None:
        store = interaction.client.store
        if not interaction.client.settings.store_questions:  # an answer from before logging was turned off
            await interaction.response.send_message(FEEDBACK_OFF, ephemeral=True, allowed_mentions=NO_PINGS)
        elif not store.record_feedback(self.question_id, self.offset, self.vote, interaction.user.id):
            await interaction.response.send_message(EXPIRED, ephemeral=True, allowed_mentions=NO_PINGS)
        elif self.vote == "down" and handoff_role(interaction) is not None and interaction.message is not None:
            # A server with a hand-off role: say what was wrong, or ask a person.
            view = discord.ui.View(timeout=None)
            view.add_item(CommentButton(self.question_id, self.offset))
            view.add_item(HandoffButton(self.question_id, interaction.message.id))
            await interaction.response.send_message(
                "Sorry these didn't help.", view=view, ephemeral=True, allowed_mentions=NO_PINGS
            )
        elif self.vote == "down":
            await open_comment_form(interaction, self.question_id, self.offset)
        else:
            await interaction.response.send_message(
                "Thanks for the feedback!", ephemeral=True, allowed_mentions=NO_PINGS
            )


async def open_comment_form(interaction: discord.Interaction[PodcastBot], question_id: int, offset: int) -> None:
    form = CommentModal(question_id, offset)
    await interaction.response.send_modal(form)
    form.stop()  # submissions are handled by handle_comment, which survives restarts


class CommentButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"pqa:note:(?P<qid>\d{1,18}):(?P<offset>\d{1,4})"
):
    """After a 👎 on a server with hand-off: opens the comment form."""

    def __init__(self, question_id: int, offset: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Say what was wrong",
                style=discord.ButtonStyle.secondary,
                custom_id=f"pqa:note:{question_id}:{offset}",
            )
        )
        self.question_id = question_id
        self.offset = offset

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CommentButton:
        return cls(int(match["qid"]), int(match["offset"]))

    @reports_errors
    async def callback(self, interaction: discord.Interaction[PodcastBot]) -> None:
        await open_comment_form(interaction, self.question_id, self.offset)


class HandoffButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"pqa:human:(?P<qid>\d{1,18}):(?P<message>\d{1,20})"
):
    """After a 👎 on a server with hand-off: pings the server's hand-off role, once per question."""

    def __init__(self, question_id: int, message_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Not helpful — ask a human",
                style=discord.ButtonStyle.danger,
                custom_id=f"pqa:human:{question_id}:{message_id}",
            )
        )
        self.question_id = question_id
        self.message_id = message_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> HandoffButton:
        return cls(int(match["qid"]), int(match["message"]))

    @reports_errors
    async def callback(self, interaction: discord.Interaction[PodcastBot]) -> None:
        await hand_off(interaction, self.question_id, self.message_id)


class CommentModal(discord.ui.Modal, title="What was wrong with these answers?"):
    """The optional comment after a 👎; only builds the form (see handle_comment)."""

    comment: discord.ui.TextInput[CommentModal] = discord.ui.TextInput(
        label="Comment (optional)",
        style=discord.TextStyle.paragraph,
        custom_id="comment",
        required=False,
        max_length=500,
        placeholder="e.g. the answer is in episode 12 around 30:00",
    )

    def __init__(self, question_id: int, offset: int) -> None:
        super().__init__(custom_id=f"pqa:comment:{question_id}:{offset}")


async def handle_comment(interaction: discord.Interaction[PodcastBot]) -> bool:
    """Save a submitted comment form; False when the interaction is not one of ours."""
    data: dict[str, Any] = interaction.data or {}  # type: ignore[assignment]
    match = COMMENT_ID.fullmatch(str(data.get("custom_id", "")))
    if interaction.type is not discord.InteractionType.modal_submit or match is None:
        return False
    values = [
        str(component.get("value") or "")
        for row in data.get("components", [])
        for component in row.get("components", [row.get("component", {})])
        if isinstance(component, dict) and component.get("custom_id") == "comment"
    ]
    comment = " ".join(values).strip()[:500] or None
    if not interaction.client.settings.store_questions:
        await interaction.response.send_message(FEEDBACK_OFF, ephemeral=True, allowed_mentions=NO_PINGS)
        return True
    try:  # raw interactions have no error handler of discord.py's: answer a failure here, as report_error does
        saved = interaction.client.store.record_feedback(
            int(match["qid"]), int(match["offset"]), "down", interaction.user.id, comment
        )
        reply = "Thanks, noted. It helps us improve the answers." if saved else EXPIRED
        await interaction.response.send_message(reply, ephemeral=True, allowed_mentions=NO_PINGS)
    except Exception as exc:
        await interaction.client.report_error(interaction, exc)
    return True
