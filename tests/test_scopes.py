"""Several podcasts in one index: the podcast and speaker options, per-channel scopes, and the commands that
respect them, end to end through the real discord.py client against the fake Discord."""

from __future__ import annotations

import json

import pytest

from index.search import Filters, Searcher
from tests.fake_discord import ADMIN_PERMISSIONS, MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS, Perm, running_client
from tests.server_fixtures import CHANGELOG, TINY_STACK

EPHEMERAL = 64
BERLIN = "what did Mat say about Berlin?"  # Go Time #250, Mat Ryer's GopherCon EU diary
BACKUP = "What backup tool does Marta recommend?"  # The Tiny Stack, episode 1


def podcasts_of(body) -> set[str]:
    return {e["footer"]["text"].split(" · ")[0] for e in body["embeds"] if e["title"] != "No confident match"}


@pytest.fixture(scope="module")
def network_searcher(network_index, real_embedder):
    searcher = Searcher.open(network_index, real_embedder)
    yield searcher
    searcher.close()


def test_the_store_lists_each_podcasts_speakers_most_talkative_first(network_searcher):
    speakers = network_searcher.store.speakers()
    by_podcast = {p: [s.name for s in speakers if s.podcast == p] for p in (TINY_STACK, CHANGELOG)}
    assert {"Priya Raman", "Tom Okafor", "Marta Lindqvist"} <= set(by_podcast[TINY_STACK])
    assert {"Mat Ryer", "Kris Brandow"} <= set(by_podcast[CHANGELOG])
    assert not set(by_podcast[TINY_STACK]) & set(by_podcast[CHANGELOG])
    counts = [s.sentences for s in speakers]
    assert counts == sorted(counts, reverse=True) and all(count > 0 for count in counts)


def test_a_question_that_names_a_show_is_answered_from_that_show_only(network_searcher):
    question = "what did they say about the conference in Berlin?"
    assert network_searcher.search(question, k=1)[0].podcast == CHANGELOG
    named = network_searcher.search(f"on the tiny stack, {question}", k=5)
    assert named and {h.podcast for h in named} == {TINY_STACK}
    # A show and an episode of it: the episode is looked for among that show's episodes only.
    packaging = network_searcher.search("on the tiny stack's packaging episode, what went wrong with the test?", k=3)
    assert packaging[0].episode_title == "Packaging Python Apps"
    assert {h.podcast for h in packaging} == {TINY_STACK}


def test_a_show_outside_the_channels_scope_is_not_a_filter(network_searcher):
    scoped = Filters(podcasts=(CHANGELOG,))
    hits = network_searcher.search(f"on the tiny stack, {BERLIN}", k=3, filters=scoped)
    assert hits and {h.podcast for h in hits} == {CHANGELOG}


def test_paging_through_an_answer_never_shows_a_moment_twice(network_searcher):
    for question in ("what did they say about testing?", "how do you deploy it?", BERLIN):
        shown: list[tuple[str, float, float]] = []
        offset, more = 0, True
        while more:
            page = network_searcher.search_page(question, k=3, offset=offset, quotes=False)
            for hit in page.hits:
                assert not [s for s in shown if s[0] == hit.episode_id and s[1] < hit.end and hit.start < s[2]], (
                    question,
                    offset,
                    hit.start,
                )
                shown.append((hit.episode_id, hit.start, hit.end))
            offset, more = offset + 3, page.has_more
        assert len(shown) > 12  # deep enough to reach the pages that once repeated themselves (page 4 on)


def test_moments_shown_already_are_left_out_of_every_page(network_searcher):
    first = network_searcher.search_page(BERLIN, k=3, quotes=False).hits
    shown = [(h.episode_id, h.start, h.end) for h in first]
    episode = Filters(episode=first[0].episode_id)  # "More from <episode>" after the first page
    narrowed = [network_searcher.search_page(BERLIN, k=3, offset=o, filters=episode, exclude=shown, quotes=False)
                for o in (0, 3)]  # fmt: skip
    hits = [h for page in narrowed for h in page.hits]
    assert hits and {h.episode_id for h in hits} == {first[0].episode_id}
    assert not [h for h in hits for e, a, b in shown if e == h.episode_id and a < h.end and h.start < b]
    assert len({(h.start, h.end) for h in hits}) == len(hits)  # and the pages do not repeat each other


def test_phrases_are_counted_only_in_the_podcasts_asked_for(network_searcher):
    assert network_searcher.find_phrase("Berlin").total >= 3
    assert network_searcher.find_phrase("Berlin", podcasts=(TINY_STACK,)).total == 0
    assert network_searcher.find_phrase("Berlin", podcasts=(TINY_STACK, CHANGELOG)).total >= 3


@pytest.mark.asyncio
async def test_ask_and_find_take_a_podcast_and_ask_a_speaker_with_autocomplete(
    fake_discord, network_settings, make_bot
):
    fake = fake_discord
    async with running_client(make_bot(network_settings), fake, wait="guilds"):
        typed = await fake.autocomplete("ask", {"question": "x", "podcast": "change"}, focused="podcast")
        (choice,) = (await typed.callback()).json["data"]["choices"]
        assert choice == {"name": CHANGELOG, "value": CHANGELOG}

        everywhere = await fake.slash("ask", {"question": BACKUP})
        assert podcasts_of((await everywhere.followup(timeout=30)).json) == {TINY_STACK}
        only_go_time = await fake.slash("ask", {"question": BACKUP, "podcast": choice["value"]})
        assert podcasts_of((await only_go_time.followup(timeout=30)).json) <= {CHANGELOG}

        async def suggested(typed: str, **options: str) -> list[str]:
            inter = await fake.autocomplete("ask", {"question": "x", **options, "speaker": typed}, focused="speaker")
            return [c["value"] for c in (await inter.callback()).json["data"]["choices"]]

        tiny_stack = await suggested("", podcast=TINY_STACK)
        assert "Priya Raman" in tiny_stack and "Mat Ryer" not in tiny_stack and "Kris Brandow" not in tiny_stack
        assert {"Mat Ryer", "Priya Raman"} <= set(await suggested(""))
        assert await suggested("RAMAN") == ["Priya Raman"]
        by_priya = await fake.slash("ask", {"question": "SQLite in production", "speaker": "priya raman"})
        body = (await by_priya.followup(timeout=30)).json
        assert body["embeds"] and podcasts_of(body) == {TINY_STACK}
        unknown = await fake.slash("ask", {"question": "SQLite", "speaker": "Nobody Atall"})
        assert "I don't know that speaker" in (await unknown.callback()).json["data"]["content"]

        berlin = await fake.slash("find", {"phrase": "Berlin", "podcast": TINY_STACK})
        assert "Nobody said" in (await berlin.followup(timeout=30)).json["content"]
        berlin = await fake.slash("find", {"phrase": "Berlin"})
        assert "was said" in (await berlin.followup(timeout=30)).json["content"]
        wrong = await fake.slash("find", {"phrase": "Berlin", "podcast": "No Such Show"})
        assert "I don't know that podcast" in (await wrong.callback()).json["data"]["content"]


@pytest.mark.asyncio
async def test_a_scoped_channel_and_its_threads_search_only_its_podcasts(fake_discord, network_settings, make_bot):
    fake = fake_discord
    go_time = fake.add_channel("go-time")
    async with running_client(make_bot(network_settings), fake, wait="guilds"):
        scoping = await fake.slash(
            "scope", {"channel": go_time, "podcast": CHANGELOG}, permissions=MODERATOR_PERMISSIONS
        )
        reply = (await scoping.callback()).json["data"]
        assert reply["flags"] == EPHEMERAL and f"<#{go_time}>" in reply["content"] and CHANGELOG in reply["content"]

        shown = await fake.slash("scope", channel_id=go_time)
        assert CHANGELOG in (await shown.callback()).json["data"]["content"]
        elsewhere = await fake.slash("scope")
        assert "every podcast" in (await elsewhere.callback()).json["data"]["content"]

        in_channel = await fake.slash("ask", {"question": BERLIN}, channel_id=go_time)
        answer = (await in_channel.followup(timeout=30)).json
        assert podcasts_of(answer) == {CHANGELOG}
        # The scope is the default, not a wall: naming a podcast searches that one.
        other = await fake.slash("ask", {"question": BACKUP, "podcast": TINY_STACK}, channel_id=go_time)
        assert podcasts_of((await other.followup(timeout=30)).json) == {TINY_STACK}
        narrow = await fake.slash("ask", {"question": BACKUP}, channel_id=go_time)
        assert podcasts_of((await narrow.followup(timeout=30)).json) <= {CHANGELOG}

        # A thread follows its channel: /ask, /about, /episode and the episode list all stay in the scope.
        follow = next(
            c["custom_id"] for row in answer["components"] for c in row["components"] if "follow" in c["custom_id"]
        )
        opened = await fake.click(follow)
        await opened.followup(timeout=10)
        (thread,) = fake.guild.threads
        thread_id = int(thread["id"])
        in_thread = await fake.slash("ask", {"question": BACKUP}, channel_id=thread_id)
        assert podcasts_of((await in_thread.followup(timeout=30)).json) <= {CHANGELOG}
        about = await fake.slash("about", channel_id=thread_id)
        about_text = json.dumps((await about.callback()).json)
        assert f"{CHANGELOG}: 2 episodes" in about_text and "This channel" in about_text
        assert TINY_STACK not in about_text
        listed = await fake.autocomplete("episode", {"title": ""}, focused="title", channel_id=thread_id)
        titles = {c["name"] for c in (await listed.callback()).json["data"]["choices"]}
        assert titles == {"Go Time #250", "Go Time #300"}
        card = await fake.slash("episode", {"title": "SQLite in Production"}, channel_id=thread_id)
        assert "No episode matches" in (await card.callback()).json["data"]["content"]
        in_scope_thread = await fake.slash("scope", channel_id=thread_id)
        assert f"<#{thread_id}> follows <#{go_time}>" in (await in_scope_thread.callback()).json["data"]["content"]

        cleared = await fake.slash("scope", {"channel": go_time, "clear": True}, permissions=ADMIN_PERMISSIONS)
        assert "every podcast" in (await cleared.callback()).json["data"]["content"]
        again = await fake.slash("ask", {"question": BACKUP}, channel_id=go_time)
        assert podcasts_of((await again.followup(timeout=30)).json) == {TINY_STACK}


@pytest.mark.asyncio
async def test_scope_changes_by_a_member_without_manage_server_are_refused(fake_discord, network_settings, make_bot):
    fake = fake_discord
    go_time = fake.add_channel("go-time")
    bot = make_bot(network_settings)
    async with running_client(bot, fake, wait="guilds"):
        # /scope is shown to everyone (reading is harmless); changing it is checked by the bot itself.
        for permissions in (MEMBER_PERMISSIONS, MEMBER_PERMISSIONS | int(Perm.MANAGE_MESSAGES)):
            refused = await fake.slash("scope", {"channel": go_time, "podcast": CHANGELOG}, permissions=permissions)
            reply = (await refused.callback()).json["data"]
            assert reply["flags"] == EPHEMERAL and "Manage Server" in reply["content"]
            clearing = await fake.slash("scope", {"channel": go_time, "clear": True}, permissions=permissions)
            assert "Manage Server" in (await clearing.callback()).json["data"]["content"]
        # /setup is hidden from members by its default permissions; a forged or overridden one is refused too.
        forged = await fake.slash(
            "setup mentions", {"enabled": False}, permissions=MEMBER_PERMISSIONS, enforce_permissions=False
        )
        assert "Manage Server" in (await forged.callback()).json["data"]["content"]
        assert bot.server.scope(go_time) == () and bot.server.guild(fake.guild_id).mentions

        allowed = await fake.slash("scope", {"channel": go_time, "podcast": CHANGELOG}, permissions=ADMIN_PERMISSIONS)
        await allowed.callback()
        assert bot.server.scope(go_time) == (CHANGELOG,)
        nonsense = await fake.slash(
            "scope", {"channel": go_time, "podcast": "Not A Show"}, permissions=ADMIN_PERMISSIONS
        )
        assert "I don't know that podcast" in (await nonsense.callback()).json["data"]["content"]
        assert bot.server.scope(go_time) == (CHANGELOG,)


def test_filters_of_an_asked_question_come_back_from_the_store(tmp_path):
    from bot.store import BotStore

    store = BotStore(tmp_path / "bot.sqlite")
    try:
        asked = store.record_question("q", "ep-1", 3, 42, podcasts=(CHANGELOG, TINY_STACK), speaker="Mat Ryer")
        plain = store.record_question("q", None, 3, 42)
        assert store.question(asked).filters == Filters(
            podcasts=(CHANGELOG, TINY_STACK), episode="ep-1", speaker="Mat Ryer"
        )
        assert store.question(plain).filters is None
    finally:
        store.close()


def test_a_database_from_before_scopes_keeps_its_questions(tmp_path):
    import sqlite3

    from bot.store import MIGRATIONS, BotStore

    path = tmp_path / "bot.sqlite"
    with sqlite3.connect(path) as old:  # what the bot wrote before issue 14: migration 1 only
        old.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
        old.execute("INSERT INTO questions VALUES (7, 'why sqlite?', 'ep-1', 3, 'hash', 0)")
    store = BotStore(path)
    try:
        asked = store.question(7)
        assert asked is not None and asked.filters == Filters(episode="ep-1") and asked.podcasts == ()
        assert store.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
    finally:
        store.close()
