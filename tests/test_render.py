"""The renderer on its own: Discord limits, truncation, links, escaping. No client, no network."""

import re

import pytest

from bot.guild_settings import ForumSetup, GuildSettings
from bot.render import (
    MAX_EMBEDS,
    TOTAL_LIMIT,
    format_quote,
    render_about,
    render_answer,
    render_episode,
    render_no_match,
    render_phrase,
    safe,
    to_text,
    truncate,
)
from bot.render_server import render_handoff, render_scope, render_settings
from index.cards import ChapterLink, EpisodeCard, RelatedLink
from index.manifest import Manifest
from index.models import Hit, Sentence
from index.phrases import Occurrence, PhraseReport
from index.store import EpisodeRow


def hit(*, title="Episode 12: Bees", quote_start=3725.0, speaker="Ada Byrne", sentences=None, score=0.61, **extra):
    sentences = sentences or [
        Sentence(3700, 3720, "We started with one hive.", speaker),
        Sentence(quote_start, 3740, "The camera counts every bee that leaves.", speaker),
        Sentence(3740, 3760, "It runs on a tiny computer.", speaker),
    ]
    fields = dict(
        chunk_id=1,
        episode_id="hive-12",
        episode_title=title,
        podcast="The Hive Mind",
        source_file="012-bees.vtt",
        start=3700.0,
        end=3760.0,
        url=f"https://hive.example/12#t={int(quote_start)}",
        score=score,
        sentences=sentences,
        quote_first=1,
        quote_last=1,
        episode_link="https://hive.example/12",
        episode_number=12,
        published="2026-01-13",
    )
    fields.update(extra)
    return Hit(**fields)


def embed_texts(rendered):
    return [e.to_dict() for e in rendered.embeds]


def test_an_answer_links_the_episode_and_the_moment_with_hours():
    rendered = render_answer("how do they count bees?", [hit()])
    (embed,) = embed_texts(rendered)
    assert embed["title"] == "Episode 12: Bees" and embed["url"] == "https://hive.example/12"
    assert "[▶ 1:02:05](https://hive.example/12#t=3725)" in embed["description"]
    assert "Ada Byrne" in embed["description"]
    assert "**The camera counts every bee that leaves.**" in embed["description"]
    assert "The Hive Mind · episode 12 · 2026-01-13" in embed["footer"]["text"]
    assert "how do they count bees?" in rendered.content and "(1)" in rendered.content


def test_short_episode_timestamps_have_no_hours():
    embed = render_answer("q", [hit(quote_start=65.0)]).embeds[0]
    assert "[▶ 1:05](" in embed.description


def test_quote_context_stays_within_one_speaker_turn():
    sentences = [
        Sentence(0, 5, "Why did you leave?", "Host"),
        Sentence(5, 9, "The bill was too high.", "Guest"),
        Sentence(9, 12, "And it was slow.", "Guest"),
        Sentence(12, 15, "Fair enough.", "Host"),
    ]
    quote = format_quote(hit(sentences=sentences, quote_first=1, quote_last=1), 700)
    assert quote == "**The bill was too high.** And it was slow."
    sentences.insert(3, Sentence(11, 12, "Very slow.", "Guest"))
    tight = format_quote(hit(sentences=sentences, quote_first=1, quote_last=1), 50)
    assert tight == "**The bill was too high.** And it was slow.…"


def test_very_long_quotes_and_titles_are_cut_with_an_ellipsis_within_limits():
    long_sentence = "word " * 3000
    hits = [
        hit(title="T" * 500, sentences=[Sentence(0, 1, long_sentence, "S" * 300)] * 3, quote_first=1, quote_last=1)
        for _ in range(12)
    ]
    rendered = render_answer("x" * 5000, hits)
    assert len(rendered.embeds) == MAX_EMBEDS
    assert sum(len(e) for e in rendered.embeds) <= TOTAL_LIMIT
    assert len(rendered.content) <= 2000
    for embed in rendered.embeds:
        assert len(embed.title) <= 256 and embed.title.endswith("…")
        assert len(embed.description) <= 4096 and "…" in embed.description
        assert len(embed.footer.text) <= 2048


@pytest.mark.parametrize("count", [1, 3, 10])
def test_total_size_stays_under_six_thousand_for_any_page(count):
    sentences = [Sentence(i, i + 1, f"Sentence {i} " + "long words here " * 30, "Speaker") for i in range(9)]
    rendered = render_answer("q", [hit(sentences=sentences, quote_first=3, quote_last=5) for _ in range(count)])
    assert sum(len(e) for e in rendered.embeds) <= TOTAL_LIMIT


MENTIONS = "@everyone @here <@123456789012345678> <@!223456789012345678> <@&987654321098765432>"


def test_mentions_in_questions_and_transcripts_are_made_inert():
    sentences = [Sentence(0, 1, f"Say hi to {MENTIONS} now.", "Host <@323456789012345678>")]
    rendered = render_answer(f"{MENTIONS} what?", [hit(sentences=sentences, quote_first=0, quote_last=0)])
    everything = rendered.content + "".join(str(e.to_dict()) for e in rendered.embeds)
    for raw in [*MENTIONS.split(), "<@323456789012345678>"]:
        assert raw not in everything
    assert "@\u200beveryone" in rendered.content


def test_markdown_in_transcripts_cannot_break_the_layout():
    text = "Use **bold** and `code` and [a link](https://evil.example) > quote ||spoiler||"
    escaped = safe(text)
    assert "\\*\\*bold\\*\\*" in escaped and "\\`code\\`" in escaped and "\\|\\|spoiler\\|\\|" in escaped
    assert "\\[a link\\]" in escaped
    # Inside something shaped like a masked link, every markdown character is escaped all the same.
    escaped = safe("[a](b) ** ||hidden|| __x__ `y` (c)")
    assert "\\*\\* \\|\\|hidden\\|\\| \\_\\_x\\_\\_ \\`y\\`" in escaped
    assert escaped.startswith("\\[a\\]")


def test_no_results_and_no_confident_match_say_so_plainly():
    for rendered in (
        render_answer("what is the meaning of life?", []),
        render_no_match("what is the meaning of life?"),
    ):
        (embed,) = rendered.embeds
        assert embed.title == "No confident match"
        assert "what is the meaning of life?" in rendered.content
    assert "everything I found" in render_answer("q", [], first_rank=4).content


def test_truncate_cuts_at_words():
    assert truncate("short", 10) == "short"
    assert truncate("one two three four", 12) == "one two…"
    assert len(truncate("x" * 50, 10)) == 10


def test_console_text_shows_the_same_answer():
    text = to_text(render_answer("how do they count bees?", [hit()]))
    assert "Episode 12: Bees" in text
    assert "▶ 1:02:05 <https://hive.example/12#t=3725>" in text
    assert "The camera counts every bee that leaves." in text and "**" not in text
    assert to_text(render_answer("q", [hit()]), bold=("<b>", "</b>")).count("<b>") == 2  # question and quote
    # Text shaped like a link is shown as typed, as Discord shows it once escaped.
    assert "[x](http://y.com) — best moments" in to_text(render_answer("[x](http://y.com)", [hit()]))


def test_hit_without_link_still_renders():
    embed = render_answer("q", [hit(url=None, episode_link=None)]).embeds[0]
    assert embed.url is None and "▶ 1:02:05" in embed.description


def episode_row(number: int, podcast: str = "The Hive Mind", title: str = "Episode 12: Bees") -> EpisodeRow:
    link = f"https://hive.example/{number}"
    return EpisodeRow(
        number, f"hive-{number}", podcast, title, link, number, "2026-01-13", "bees.vtt", None, 3725.0, "vtt"
    )


MANIFEST = Manifest(
    build_id="b1",
    created_at="2026-11-28T02:00:00+00:00",
    model="m",
    backend="torch",
    dimension=3,
    chunker={},
    index_type="flat",
    counts={"chunks": 1234},
)


def test_episode_card():
    card = render_episode(EpisodeCard(episode_row(12), [], [])).to_dict()
    assert card["title"] == "Episode 12: Bees" and card["url"] == "https://hive.example/12"
    fields = {f["name"]: f["value"] for f in card["fields"]}
    assert fields["Episode"] == "12" and fields["Published"] == "2026-01-13" and fields["Length"] == "1:02:05"


def about_fields(episodes: list[EpisodeRow]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in render_about(MANIFEST, episodes).to_dict()["fields"]}


def test_about_counts_episodes_per_podcast_in_words():
    one = about_fields([episode_row(12)])
    assert one["Indexed"] == "• The Hive Mind: 1 episode"
    assert one["Passages"] == "1,234" and one["Last build"].startswith("2026-11-28")
    several = about_fields([episode_row(12), episode_row(13), episode_row(1, "Other Show")])
    assert several["Indexed"] == "• Other Show: 1 episode\n• The Hive Mind: 2 episodes"
    assert about_fields([])["Indexed"] == "nothing yet"


def phrase_report(mentions_per_episode: list[int]) -> PhraseReport:
    """ "type hints" said `n` times in each of these episodes, one sentence per mention."""
    report = PhraseReport("type hints", total=sum(mentions_per_episode))
    for number, n in enumerate(mentions_per_episode, 1):
        episode = episode_row(number, title=f"Episode {number}")
        report.per_episode.append((episode, n))
        report.occurrences += [Occurrence(episode, 60.0 + i, "Ann", "We use type hints.", None) for i in range(n)]
    return report


@pytest.mark.parametrize(
    ("mentions", "said", "more", "footer"),
    [
        ([1], "was said **1 time** in 1 episode.", None, None),
        ([3], "was said **3 times** in 1 episode.", None, None),
        ([2, 1], "was said **3 times** in 2 episodes.", None, None),
        ([1] * 11, "was said **11 times** in 11 episodes.", "… and 1 more episode", "of 11 mentions."),
        ([2] * 12, "was said **24 times** in 12 episodes.", "… and 2 more episodes", "of 24 mentions."),
    ],
)
def test_find_counts_times_and_episodes_in_words(mentions, said, more, footer):
    rendered = render_phrase(phrase_report(mentions))
    assert rendered.content == f"“type hints” {said}"
    (embed,) = rendered.embeds
    counts = embed.fields[0].value.splitlines()
    assert counts[0] == f"{mentions[0]}× Episode 1"
    assert counts[-1] == more if more else len(counts) == len(mentions)
    assert embed.footer.text == (f"Showing the first 10 {footer}" if footer else None)


def test_about_in_a_scoped_channel_says_what_it_searches():
    fields = {
        f["name"]: f["value"]
        for f in render_about(MANIFEST, [episode_row(12)], scope=["The Hive Mind", "*Bold* Show"]).to_dict()["fields"]
    }
    assert fields["Indexed"] == "• The Hive Mind: 1 episode"
    assert (
        fields["This channel"] == r"searches The Hive Mind, \*Bold\* Show by default; `/ask podcast:` searches another."
    )
    assert "This channel" not in about_fields([episode_row(12)])


def settings_fields(**overrides) -> dict[str, str]:
    arguments = dict(
        scopes={}, forums=[], tag_names={}, message_content=True, allowed_channels=[], guild=GuildSettings()
    )
    arguments.update(overrides)
    guild = arguments.pop("guild")
    embed = render_settings(guild, **arguments)
    assert len(embed) <= TOTAL_LIMIT and all(len(f.value) <= 1024 for f in embed.fields)
    return {f.name: f.value for f in embed.fields}


def test_settings_show_every_per_server_setting_and_what_the_operator_set():
    fresh = settings_fields()
    assert fresh["Mentions"].startswith("on") and fresh["Hand-off"] == "off"
    assert fresh["Channel scopes"].startswith("none") and fresh["Forum auto-answer"] == "off"
    assert fresh["Follow-up threads"] == "answer the asker until 30 minutes of quiet"
    assert fresh["Message Content intent"] == "on" and fresh["Channels I answer in"] == "every channel I can see"

    shown = settings_fields(
        guild=GuildSettings(mentions=False, handoff_role_id=77, followup_idle_minutes=1),
        scopes={1: ("Go Time", "JS Party"), 2: ("@everyone Show",)},
        forums=[ForumSetup(5, 9), ForumSetup(6, None)],
        tag_names={9: "Resolved"},
        message_content=False,
        allowed_channels=[1, 2],
    )
    assert shown["Mentions"] == "off" and shown["Hand-off"].startswith("<@&77> is pinged once per question")
    assert shown["Channel scopes"] == "<#1>: Go Time, JS Party\n<#2>: @\u200beveryone Show"
    assert shown["Forum auto-answer"] == (
        "paused, the Message Content intent is off:\n<#5>, except posts tagged **Resolved**\n<#6>"
    )
    assert "MESSAGE_CONTENT_INTENT" in shown["Follow-up threads"] and shown["Channels I answer in"] == "<#1>\n<#2>"


def test_settings_of_a_big_network_stay_within_a_fields_limit():
    scopes = {10**18 + i: ("A podcast with a long name " * 3,) for i in range(200)}
    shown = settings_fields(scopes=scopes)
    assert shown["Channel scopes"].endswith(" more") and "… and " in shown["Channel scopes"]
    listed = shown["Channel scopes"].count("<#")
    assert 0 < listed < 200 and shown["Channel scopes"].endswith(f"… and {200 - listed} more")


def test_scope_and_handoff_messages():
    assert render_scope(1, ()) == "<#1> searches every podcast by default."
    assert render_scope(1, ("Go Time",), thread_id=2) == "<#2> follows <#1>, which searches Go Time by default."
    text = render_handoff(77, "@everyone Eve", "why " * 1000 + "@here <@1>")
    assert text.startswith("<@&77> **@\u200beveryone Eve** found these answers unhelpful")
    assert len(text) <= 2000 and "@here" not in text and "<@1>" not in text


def test_an_answer_names_its_chapter_with_a_link_to_where_it_starts():
    published = hit(
        chapter="Counting *bees* @everyone", chapter_start=3540.0, chapter_url="https://hive.example/12#t=3540"
    )
    (embed,) = render_answer("q", [published]).embeds
    assert embed.description.splitlines()[1] == (
        "in *Counting \\*bees\\* @\u200beveryone* · [59:00](https://hive.example/12#t=3540)"
    )
    auto = hit(chapter="Bees, Camera", chapter_start=3540.0, chapter_auto=True, chapter_url=None)
    (embed,) = render_answer("q", [auto]).embeds
    assert embed.description.splitlines()[1] == "in *Bees, Camera* (automatic chapter) · 59:00"
    (plain,) = render_answer("q", [hit()]).embeds
    assert plain.description.splitlines()[1].startswith("> ")  # no chapter, no line for it


def test_ten_answers_with_long_chapter_titles_stay_within_discords_limits():
    many = [
        hit(chapter="c" * 300, chapter_start=60.0 * i, chapter_url="https://hive.example/12#t=" + "9" * 300)
        for i in range(10)
    ]
    rendered = render_answer("q" * 300, many)
    assert len(rendered.embeds) == 10 and sum(len(e) for e in rendered.embeds) <= TOTAL_LIMIT
    assert all("in *" in e.description for e in rendered.embeds)


def test_an_episode_card_lists_as_many_chapters_as_fit_and_says_how_many_more():
    chapters = [
        ChapterLink(f"Part {i} " + "x" * 40, 60.0 * i, f"https://hive.example/12#t={60 * i}", False) for i in range(200)
    ]
    other = episode_row(13)
    related = [
        RelatedLink(other, ChapterLink("Cameras", 120.0, "https://hive.example/13#t=120", True)),
        RelatedLink(episode_row(14), None),
    ]
    card = render_episode(EpisodeCard(episode_row(12), chapters, related)).to_dict()
    lines = card["description"].splitlines()
    assert lines[0] == "**Chapters**" and lines[1].startswith("[0:00](https://hive.example/12#t=0) Part 0 ")
    assert re.fullmatch(r"… and \d+ more", lines[-1]) and len(card["description"]) <= 2048
    shown = len(lines) - 2
    assert lines[-1] == f"… and {200 - shown} more"
    fields = {f["name"]: f["value"] for f in card["fields"]}
    assert fields["Related episodes"].splitlines() == [
        f"• {other.title} — in *Cameras* (automatic chapter) · [2:00](https://hive.example/13#t=120)",
        f"• {episode_row(14).title}",
    ]
    bare = render_episode(EpisodeCard(episode_row(12), [], [])).to_dict()
    assert "description" not in bare and "Related episodes" not in {f["name"] for f in bare["fields"]}
