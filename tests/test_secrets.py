"""Secrets and permissions: the token never reaches a log or an exception, admin commands are checked by the
bot itself, and the bot's database never holds who gave feedback.

Logs are captured at DEBUG from every logger (discord.py's included) while the bot logs in, answers, fails,
is rate limited and reloads; then the captured text is searched for the secrets.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import traceback
from typing import Any

import discord
import pytest
from pydantic import ValidationError

import bot.__main__ as bot_main
from bot.client import install_redaction
from bot.settings import Settings
from bot.store import BotStore
from tests.fake_discord import ADMIN_PERMISSIONS, MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS, Perm, running_client
from tests.helpers import CountingEmbedder

EPHEMERAL = 64


@pytest.fixture
def fake_discord_options() -> dict[str, Any]:
    return {"heartbeat_interval_ms": 500}


@pytest.fixture
def redaction():
    """install_redaction, uninstalled after the test (it changes the process-wide log record factory)."""
    undo = []
    yield lambda *secrets: undo.append(install_redaction(*secrets))
    for uninstall in reversed(undo):
        uninstall()


def everything_logged(caplog) -> str:
    """Each record as formatted for a log file: message, arguments and any traceback."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


@pytest.mark.asyncio
async def test_the_token_never_appears_in_logs_even_at_debug(fake_discord, settings, make_bot, caplog, redaction):
    fake = fake_discord
    token = fake.token
    bot = make_bot(settings.model_copy(update={"discord_token": token}))
    with caplog.at_level(logging.DEBUG):
        redaction(token)  # what run_bot does before it logs in
        async with running_client(bot, fake, wait="ready"):
            answered = await fake.slash("ask", {"question": "Can SQLite be used in production?"})
            await answered.followup(timeout=60)
            # Rate limited once: discord.py logs the URL it retries, and an interaction webhook URL carries the
            # interaction's token (valid for 15 minutes, enough to post as the bot).
            fake.rest.inject_error(
                "POST",
                r"^/webhooks/",
                status=429,
                json_body={"message": "You are being rate limited.", "retry_after": 0.05, "global": False},
                headers={"Retry-After": "0.05", "X-RateLimit-Scope": "user"},
            )
            limited = await fake.slash("ask", {"question": "What do they say about async views?"})
            await fake.wait_until(lambda: any(r.status == 200 for r in limited.followups), timeout=60, what="retry")
            bot.live.searcher.search_page = lambda *a, **k: (_ for _ in ()).throw(RuntimeError(f"boom {token[:4]}"))
            failed = await fake.slash("ask", {"question": "this one fails"})
            await failed.followup(timeout=30)
            reload = await fake.slash("reload", permissions=MODERATOR_PERMISSIONS)
            await reload.followup(timeout=30)
    logged = everything_logged(caplog)
    app = fake.application_id
    assert [r.status for r in fake.requests if r.injected] == [429] and limited.followups[0].status == 200
    assert f"Webhook ID {app} is rate limited. Retrying in 0.05 seconds." in logged  # discord.py retried...
    assert f"/webhooks/{app}/[redacted] has returned status code 429" in logged  # ...and logged the URL, redacted
    assert "boom" in logged and "Traceback" in logged  # and so was the failure, with its traceback
    assert token not in logged
    for inter in (answered, limited, failed, reload):
        assert inter.token not in logged, f"interaction token of {inter.id} logged"
    assert "[redacted]" in logged


def test_redaction_covers_arguments_tracebacks_and_every_handler(caplog, redaction):
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz012345"
    log = logging.getLogger("bot.test")
    with caplog.at_level(logging.DEBUG):
        redaction(token)
        log.warning("login with %s failed", token)
        log.info("POST https://discord.com/api/v10/webhooks/123/aW50ZXJhY3Rpb246MTIz-AbC_dEf?wait=true 429")
        log.debug("event %s", {"t": "INTERACTION_CREATE", "d": {"token": "aW50ZXJhY3Rpb246OTk5-sEcReT", "id": "9"}})
        try:
            raise ValueError(f"bad header Bot {token}")
        except ValueError:
            log.exception("request failed")
    logged = everything_logged(caplog)
    for secret in (token, "aW50ZXJhY3Rpb246MTIz-AbC_dEf", "aW50ZXJhY3Rpb246OTk5-sEcReT"):
        assert secret not in logged
    assert logged.count("[redacted]") >= 4 and "webhooks/123/[redacted]?wait=true" in logged


@pytest.mark.asyncio
async def test_a_rejected_token_is_not_in_the_exception(fake_discord, settings, make_bot, caplog):
    wrong = "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"
    bot = make_bot(settings)
    with caplog.at_level(logging.DEBUG), pytest.raises(discord.LoginFailure) as failure:
        await bot.start(wrong)
    await bot.close()
    shown = "".join(traceback.format_exception(failure.value)) + everything_logged(caplog)
    assert "Improper token" in shown and wrong not in shown


def test_settings_never_show_the_token(monkeypatch, tmp_path, capsys):
    token = "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"
    settings = Settings(_env_file=None, discord_token=token)
    assert token not in repr(settings) + str(settings) + settings.model_dump_json() + str(settings.model_dump())
    with pytest.raises(ValidationError) as invalid:
        Settings(_env_file=None, discord_token=token, cooldown_questions=0, max_question_chars=1)
    assert token not in str(invalid.value) + repr(invalid.value.errors())

    # `python -m bot` with the token set but no index: a one-line error, no token.
    monkeypatch.setenv("DISCORD_TOKEN", token)
    monkeypatch.setenv("INDEX_DIR", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("BOT_DB", str(tmp_path / "bot.sqlite"))
    monkeypatch.setattr(bot_main, "load_embedder", lambda *a, **k: CountingEmbedder())
    monkeypatch.chdir(tmp_path)  # no .env here
    assert bot_main.main() == 1
    out = capsys.readouterr()
    assert "error: no index in" in out.err and token not in out.out + out.err


@pytest.mark.asyncio
async def test_admin_commands_are_checked_by_the_bot_not_only_by_discord(fake_discord, settings, make_bot):
    fake = fake_discord
    bot = make_bot(settings)
    calls: list[bool] = []
    real_refresh = bot.live.refresh

    def spy(**kwargs):
        calls.append(True)
        return real_refresh(**kwargs)

    bot.live.refresh = spy
    async with running_client(bot, fake, wait="guilds"):
        definition = fake.find_command("reload")
        assert definition["default_member_permissions"] == str(int(Perm.MANAGE_GUILD))
        assert definition.get("contexts") == [0] or definition.get("dm_permission") is False

        # A server admin may override the default permissions (Integrations settings), and interactions can be
        # forged: the bot checks the permissions Discord reports for this member in this channel.
        member = await fake.slash("reload", permissions=MEMBER_PERMISSIONS, enforce_permissions=False)
        almost = await fake.slash(
            "reload", permissions=MEMBER_PERMISSIONS | int(Perm.MANAGE_MESSAGES), enforce_permissions=False
        )
        in_dm = await fake.slash("reload", guild_id=False, permissions=ADMIN_PERMISSIONS, enforce_permissions=False)
        for refused, reason in (
            (member, "Manage Server"),
            (almost, "Manage Server"),
            (in_dm, "Manage Server"),  # in a DM nobody has Manage Server (and the command is guild only)
        ):
            reply = (await refused.callback()).json["data"]
            assert reply["flags"] == EPHEMERAL and reason in reply["content"]
        assert calls == []

        admin = await fake.slash("reload", permissions=ADMIN_PERMISSIONS)
        manager = await fake.slash("reload", permissions=MEMBER_PERMISSIONS | int(Perm.MANAGE_GUILD))
        for allowed in (admin, manager):
            assert "Already serving" in (await allowed.followup(timeout=30)).json["content"]
        assert len(calls) == 2


@pytest.mark.asyncio
async def test_feedback_and_questions_keep_a_salted_hash_never_the_user(fake_discord, settings, make_bot, caplog):
    fake = fake_discord
    user = fake.add_user("Zebulon_Quux")
    profile = fake.users[user]
    async with running_client(make_bot(settings), fake, wait="guilds"):
        with caplog.at_level(logging.INFO, logger="bot"):
            inter = await fake.slash("ask", {"question": "Can SQLite be used in production?"}, user_id=user)
            body = (await inter.followup(timeout=60)).json
            ids = [c["custom_id"] for row in body["components"] for c in row["components"]]
            up = await fake.click(next(i for i in ids if i.endswith(":up")), user_id=user)
            await up.callback()
            down = await fake.click(next(i for i in ids if i.endswith(":down")), user_id=user)
            modal = (await down.callback()).json["data"]
            comment = await fake.submit_modal(modal["custom_id"], {"comment": "wrong episode"})
            await comment.callback()

    identifiers = [str(user), profile["username"], profile["global_name"]]
    files = [settings.bot_db, settings.bot_db.with_name(settings.bot_db.name + "-wal")]
    stored = b"".join(path.read_bytes() for path in files if path.exists())
    for identifier in identifiers:
        assert identifier.encode() not in stored and identifier not in caplog.text
    assert user.to_bytes(8, "big") not in stored  # nor as SQLite's integer encoding

    conn = sqlite3.connect(settings.bot_db)
    (asked,) = conn.execute("SELECT user_hash FROM questions").fetchall()
    feedback = conn.execute("SELECT vote, comment, user_hash FROM feedback").fetchall()
    conn.close()
    digest = asked[0]
    assert re.fullmatch(r"[0-9a-f]{32}", digest), digest
    assert feedback == [("down", "wrong episode", digest)]  # the 👎 replaced the 👍; one person, one hash
    same, other = BotStore(settings.bot_db), BotStore(settings.bot_db.with_name("other.sqlite"))
    try:
        assert same.user_hash(user) == digest and same.user_hash(fake.user_id) != digest
        assert other.user_hash(user) != digest  # salted per database: the hash is no stable identifier
    finally:
        same.close()
        other.close()
