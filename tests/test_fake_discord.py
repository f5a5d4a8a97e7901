"""Smoke tests for the fake Discord server, driven by a real, unmodified discord.py client.

The bot here is a tiny one defined in this file (not the project's bot): it exists to prove the fake speaks
the gateway and REST protocol well enough for discord.py's ``Client`` + ``app_commands.CommandTree``.
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import discord
import pytest
from discord import app_commands

from tests.fake_discord import (
    MEMBER_PERMISSIONS,
    MODERATOR_PERMISSIONS,
    CallbackType,
    FakeDiscord,
    FakeDiscordUsageError,
    running_client,
)

# Registers the fake_discord / fake_discord_options fixtures (harmless once tests/conftest.py imports them too).

HEARTBEAT_MS = 300
EPISODES = ["Django Chat: async views", "Django Chat: testing", "Talk Python: packaging", "Python Bytes #400"]


@pytest.fixture
def fake_discord_options() -> dict[str, Any]:
    return {"heartbeat_interval_ms": HEARTBEAT_MS}


# --------------------------------------------------------------------------------------------------------
# The tiny bot
# --------------------------------------------------------------------------------------------------------


class AgainView(discord.ui.View):
    """Persistent view: its button is handled even on messages sent before a restart."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Again", style=discord.ButtonStyle.primary, custom_id="ping:again")
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        interaction.client.clicks.append(interaction.user.id)  # type: ignore[attr-defined]
        await interaction.response.send_message("pong again", ephemeral=True)


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput = discord.ui.TextInput(label="Your feedback", custom_id="feedback:text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        interaction.client.feedback.append(self.text.value)  # type: ignore[attr-defined]
        await interaction.response.send_message("Thanks!", ephemeral=True)


@app_commands.command(description="Check the bot is alive")
async def ping(interaction: discord.Interaction) -> None:
    await interaction.response.defer(thinking=True)
    await asyncio.sleep(interaction.client.ping_delay)  # type: ignore[attr-defined]
    embed = discord.Embed(title="Pong", description=f"Hello <@{interaction.user.id}> @everyone")
    await interaction.followup.send(embed=embed, view=AgainView(), allowed_mentions=discord.AllowedMentions.none())


async def episode_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=e, value=e[:90]) for e in EPISODES if current.lower() in e.lower()][:25]


@app_commands.command(description="Show an episode")
@app_commands.describe(title="Episode title", limit="How many quotes")
@app_commands.autocomplete(title=episode_autocomplete)
async def episode(interaction: discord.Interaction, title: str, limit: int = 3) -> None:
    await interaction.response.send_message(f"{title} x{limit}")


@app_commands.command(description="Send feedback")
async def feedback(interaction: discord.Interaction) -> None:
    await interaction.response.send_modal(FeedbackModal(custom_id="feedback"))


@app_commands.command(description="Get the transcript file")
async def transcript(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("here", file=discord.File(io.BytesIO(b"WEBVTT\n\nhello"), "t.vtt"))


@app_commands.command(description="Answers too slowly or too long")
async def broken(interaction: discord.Interaction, mode: str) -> None:
    try:
        if mode == "slow":
            await asyncio.sleep(0.5)
            await interaction.response.send_message("late")
        else:
            await interaction.response.send_message(embed=discord.Embed(description="x" * 5000))
    except discord.HTTPException as exc:
        interaction.client.http_errors.append((exc.status, exc.code))  # type: ignore[attr-defined]


@app_commands.command(description="Post, edit and clean up")
async def announce(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("working")
    original = await interaction.original_response()
    await interaction.edit_original_response(content=f"done ({original.content})")
    await interaction.channel.send("posted", allowed_mentions=discord.AllowedMentions.none())  # type: ignore[union-attr]
    temp = await interaction.followup.send("temporary", wait=True)
    await temp.delete()


@app_commands.context_menu(name="Profile")
async def profile(interaction: discord.Interaction, member: discord.Member) -> None:
    await interaction.response.send_message(f"{member.name} has {len(member.roles)} role(s)", ephemeral=True)


@app_commands.context_menu(name="Quote this")
async def quote_this(interaction: discord.Interaction, message: discord.Message) -> None:
    await interaction.response.send_message(f"Quoted: {message.content}", ephemeral=True)


admin = app_commands.Group(
    name="admin", description="Admin tools", default_permissions=discord.Permissions(manage_guild=True)
)


@admin.command(description="Rebuild the index")
@app_commands.checks.has_permissions(manage_guild=True)
async def reindex(interaction: discord.Interaction, limit: int) -> None:
    await interaction.response.send_message(f"reindexing {limit}", ephemeral=True)


class TinyBot(discord.Client):
    def __init__(self, dev_guild_id: int | None = None) -> None:
        super().__init__(intents=discord.Intents.default())
        self.dev_guild = discord.Object(dev_guild_id) if dev_guild_id else None
        self.tree = app_commands.CommandTree(self)
        for cmd in (ping, episode, feedback, transcript, broken, announce, profile, quote_this):
            self.tree.add_command(cmd)
        self.tree.add_command(admin, guild=self.dev_guild)
        self.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]
        self.ping_delay = 0.0
        self.ready_fired = False
        self.clicks: list[int] = []
        self.feedback: list[str] = []
        self.http_errors: list[tuple[int, int]] = []

    async def setup_hook(self) -> None:
        self.add_view(AgainView())
        await self.tree.sync()
        if self.dev_guild is not None:
            await self.tree.sync(guild=self.dev_guild)

    async def on_ready(self) -> None:
        self.ready_fired = True

    async def on_app_command_error(self, interaction: discord.Interaction, error: Exception) -> None:
        if isinstance(error, app_commands.MissingPermissions):
            await interaction.response.send_message("You need Manage Server.", ephemeral=True)
            return
        raise error


def custom_ids(components: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for c in components:
        if "custom_id" in c:
            found.append(c["custom_id"])
        found.extend(custom_ids(c.get("components") or []))
    return found


# --------------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_login_ready_and_command_sync(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = TinyBot(dev_guild_id=fake.guild_id)
    async with running_client(bot, fake):  # waits for on_ready (discord.py's 2 s guild_ready_timeout)
        assert bot.ready_fired
        assert bot.user is not None and bot.user.id == fake.bot_user_id
        assert bot.application_id == fake.application_id
        guild = bot.get_guild(fake.guild_id)
        assert guild is not None and guild.me is not None
        assert guild.get_channel(fake.channel_id).name == "general"  # type: ignore[union-attr]

        login = fake.requests_for("get_current_user")[0]
        assert login.headers["Authorization"] == f"Bot {fake.token}"
        assert fake.requests_for("get_application")

        (global_sync,) = fake.requests_for("commands_bulk_overwrite")
        assert {c["name"] for c in global_sync.json} == {
            "ping",
            "episode",
            "feedback",
            "transcript",
            "broken",
            "announce",
            "Profile",
            "Quote this",
        }
        (guild_sync,) = fake.requests_for("guild_commands_bulk_overwrite")
        assert guild_sync.params["guild_id"] == str(fake.guild_id)
        assert [c["name"] for c in guild_sync.json] == ["admin"]
        assert guild_sync.json[0]["default_member_permissions"] == 1 << 5  # discord.py sends an int
        assert fake.find_command("admin", guild_id=fake.guild_id)["default_member_permissions"] == "32"  # type: ignore[index]

        # discord.py asked for zlib-stream transport compression and the fake honoured it.
        (connect,) = fake.requests_for("gateway_connect")
        assert connect.query == {"v": "10", "encoding": "json", "compress": "zlib-stream"}
        identify = next(f for f in fake.frames if f.direction == "recv" and f.op == 2)
        assert identify.payload["d"]["intents"] == discord.Intents.default().value
        assert [f.event for f in fake.frames if f.direction == "send" and f.op == 0][:2] == ["READY", "GUILD_CREATE"]
        assert fake.heartbeats and bot.latency < 1


@pytest.mark.asyncio
async def test_ping_defers_then_sends_follow_up(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = TinyBot()
    async with running_client(bot, fake, wait="guilds"):
        bot.ping_delay = 0.2
        inter = await fake.slash("ping")
        assert inter.payload["data"]["id"] == fake.find_command("ping")["id"]  # type: ignore[index]

        cb = await inter.callback(timeout=3)
        assert cb.json == {"type": CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE}
        assert cb.status == 200 and cb.t - inter.sent_at < 3

        fu = await inter.followup(timeout=3)
        assert fu.status == 200 and fu.query["wait"] == "1"
        assert fu.json["embeds"][0]["title"] == "Pong"
        assert fu.json["allowed_mentions"]["parse"] == []
        assert custom_ids(fu.json["components"]) == ["ping:again"]
        assert fu.t - inter.sent_at < 3

        # Discord turns the "thinking" message into the follow-up; the button on it is clickable.
        original = inter.original_message
        assert original is not None and original["embeds"][0]["title"] == "Pong" and not original["flags"] & 128
        click = await fake.click("ping:again", user_id=fake.add_user("clicker"))
        assert click.payload["message"]["id"] == original["id"]
        cb = await click.callback()
        assert cb.json["type"] == CallbackType.CHANNEL_MESSAGE_WITH_SOURCE
        assert cb.json["data"]["flags"] == 64
        assert bot.clicks == [int(click.payload["member"]["user"]["id"])]


@pytest.mark.asyncio
async def test_fifty_concurrent_interactions_and_heartbeats(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = TinyBot()
    async with running_client(bot, fake, wait="guilds"):
        bot.ping_delay = 1.0  # every handler awaits asyncio.sleep: the loop must keep heartbeating
        users = [fake.add_user(f"user{i}") for i in range(50)]
        t0 = time.monotonic()
        inters = await asyncio.gather(*(fake.slash("ping", user_id=u) for u in users))
        await fake.wait_until(
            lambda: all(i.callbacks and i.followups for i in inters), timeout=10, what="50 callbacks + follow-ups"
        )
        t1 = time.monotonic()

        for inter in inters:
            (cb,) = inter.callbacks
            assert cb.status == 200 and cb.json["type"] == 5
            assert cb.t - inter.sent_at < 3
            (fu,) = inter.followups
            assert fu.status == 200 and fu.json["embeds"][0]["title"] == "Pong"
        assert len({m["id"] for i in inters for m in i.messages}) == 50

        interval = HEARTBEAT_MS / 1000
        beats = [h.t for h in fake.heartbeats if t0 - interval <= h.t <= t1]
        assert len(beats) >= 3, beats
        gaps = fake.heartbeat_gaps(since=t0 - 2 * interval, until=t1)
        assert max(gaps) < 2 * interval, gaps
        assert t1 - beats[-1] < 2 * interval


@pytest.mark.asyncio
async def test_autocomplete_button_modal_and_context_menu(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = TinyBot()
    async with running_client(bot, fake, wait="guilds"):
        ac = await fake.autocomplete("episode", {"title": "django"}, focused="title")
        cb = await ac.callback()
        assert cb.json["type"] == CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
        assert [c["name"] for c in cb.json["data"]["choices"]] == EPISODES[:2]

        cmd = await fake.slash("episode", {"title": "Django Chat: testing", "limit": 5})
        assert cmd.payload["data"]["options"][1] == {"name": "limit", "type": 4, "value": 5}
        assert (await cmd.callback()).json["data"]["content"] == "Django Chat: testing x5"

        # A click on a message sent before a restart: handled by the persistent view.
        click = await fake.click("ping:again")
        assert (await click.callback()).json["type"] == CallbackType.CHANNEL_MESSAGE_WITH_SOURCE

        opened = await fake.slash("feedback")
        cb = await opened.callback()
        assert cb.json["type"] == CallbackType.MODAL and cb.json["data"]["custom_id"] == "feedback"
        submitted = await fake.submit_modal("feedback", {"feedback:text": "great show"})
        cb = await submitted.callback()
        assert cb.json["type"] == CallbackType.CHANNEL_MESSAGE_WITH_SOURCE
        assert bot.feedback == ["great show"]

        menu = await fake.message_command("Quote this", content="a quotable line")
        cb = await menu.callback()
        assert cb.json["data"] == {"content": "Quoted: a quotable line", "flags": 64, "tts": False}


@pytest.mark.asyncio
async def test_permissions_subcommands_and_files(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = TinyBot(dev_guild_id=fake.guild_id)
    async with running_client(bot, fake, wait="guilds"):
        # Discord hides /admin from members without Manage Server...
        with pytest.raises(FakeDiscordUsageError):
            await fake.slash("admin reindex", {"limit": 5}, permissions=MEMBER_PERMISSIONS)
        # ...and if it did reach the bot, the bot's own check answers.
        denied = await fake.slash("admin reindex", {"limit": 5}, enforce_permissions=False)
        assert (await denied.callback()).json["data"]["content"] == "You need Manage Server."

        allowed = await fake.slash("admin reindex", {"limit": 5}, permissions=MODERATOR_PERMISSIONS)
        assert allowed.payload["data"]["guild_id"] == str(fake.guild_id)
        assert allowed.payload["data"]["options"] == [
            {"name": "reindex", "type": 1, "options": [{"name": "limit", "type": 4, "value": 5}]}
        ]
        assert (await allowed.callback()).json["data"]["content"] == "reindexing 5"

        with pytest.raises(FakeDiscordUsageError):
            await fake.slash("episode", {"limit": 1})  # required option "title" missing

        sent = await fake.slash("transcript")
        cb = await sent.callback()
        assert cb.multipart and cb.json["type"] == 4
        assert cb.json["data"]["attachments"] == [{"id": 0, "filename": "t.vtt"}]
        assert [(f.field, f.filename, f.data) for f in cb.files] == [("files[0]", "t.vtt", b"WEBVTT\n\nhello")]
        url = sent.original_message["attachments"][0]["url"]  # type: ignore[index]
        assert await bot.http.get_from_cdn(url) == b"WEBVTT\n\nhello"


@pytest.mark.asyncio
async def test_messages_edits_user_menu_and_dms(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = TinyBot()
    async with running_client(bot, fake, wait="guilds"):
        inter = await fake.slash("announce")
        await fake.wait_until(lambda: any(r.route == "webhook_message_delete" for r in inter.requests))
        routes = [(r.method, r.route, r.status) for r in inter.requests]
        assert routes == [
            ("POST", "interaction_callback", 200),
            ("GET", "webhook_message_get", 200),
            ("PATCH", "webhook_message_edit", 200),
            ("POST", "webhook_execute", 200),
            ("DELETE", "webhook_message_delete", 204),
        ]
        assert inter.original_message["content"] == "done (working)"  # type: ignore[index]
        (post,) = fake.requests_for("channel_message_create")
        assert post.params["channel_id"] == str(fake.channel_id)
        assert post.json["allowed_mentions"] == {"parse": []} and post.json["content"] == "posted"
        assert [m["content"] for m in fake.channel_messages()] == ["done (working)", "posted"]

        target = fake.add_user("someone", roles=[fake.add_role("Listeners")])
        menu = await fake.user_command("Profile", target)
        assert (await menu.callback()).json["data"]["content"] == "someone has 2 role(s)"

        dm = await fake.slash("ping", guild_id=False)
        assert "guild_id" not in dm.payload and dm.payload["context"] == 1
        assert (await dm.followup()).json["embeds"][0]["title"] == "Pong"


@pytest.mark.asyncio
async def test_discord_errors_reach_the_client(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = TinyBot()
    async with running_client(bot, fake, wait="guilds"):
        too_long = await fake.slash("broken", {"mode": "long"})
        cb = await too_long.callback()
        assert cb.status == 400 and cb.response["code"] == 50035
        assert "embeds" in cb.response["errors"]["data"]

        fake.callback_deadline = 0.3
        late = await fake.slash("broken", {"mode": "slow"})
        cb = await late.callback()
        assert cb.status == 404 and cb.response["code"] == 10062
        await fake.wait_until(lambda: len(bot.http_errors) == 2)
        assert bot.http_errors == [(400, 50035), (404, 10062)]

        fake.strict_routes = False  # this test hits an unimplemented route on purpose
        with pytest.raises(discord.NotFound):
            await bot.fetch_premium_sticker_packs()
        assert [r.path for r in fake.unknown_requests] == ["/sticker-packs"]


@pytest.mark.asyncio
async def test_reconnect_resumes_and_replays(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = TinyBot()
    async with running_client(bot, fake, wait="guilds"):
        resumed = asyncio.ensure_future(bot.wait_for("resumed", timeout=5))
        await fake.request_reconnect()  # op 7: the client closes and RESUMEs
        await resumed
        assert len(fake.requests_for("gateway_connect")) == 2
        resume = next(f for f in fake.frames if f.direction == "recv" and f.op == 6)
        assert resume.payload["d"]["seq"] >= 2 and resume.payload["d"]["token"] == fake.token

        # An interaction sent while the socket is down is replayed on RESUME, as Discord does.
        resumed = asyncio.ensure_future(bot.wait_for("resumed", timeout=5))
        await fake.drop_connection(code=4000)
        inter = await fake.slash("ping")
        await resumed
        assert (await inter.followup(timeout=3)).json["embeds"][0]["title"] == "Pong"
        assert len(fake.requests_for("gateway_connect")) == 3
        assert [e["d"]["id"] for e in fake.replayed if e["t"] == "INTERACTION_CREATE"] == [str(inter.id)]
