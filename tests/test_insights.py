"""Insights on their own: grouping questions by meaning (real model, a set whose grouping is known), the counts,
retention and privacy, the chart, and the Discord rendering within its limits."""

from __future__ import annotations

import io
import json
import time
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from bot.charts import groups_png, questions_per_day_png
from bot.insights import (
    DAY,
    SIMILAR,
    Asked,
    Day,
    Group,
    Insights,
    Review,
    Shown,
    group_by_meaning,
    load_insights,
    load_reviews,
    medoid,
    summarise,
    window_start,
)
from bot.insights_render import render_insights, render_reviews
from bot.render import TOTAL_LIMIT
from bot.store import KEEP_QUESTIONS_DAYS, BotStore
from tests.insights_seed import DOWN_VOTED, GROUPS, ONCE, UNCOVERED, answer_hit, seed, seeded_questions


@pytest.fixture(scope="module")
def seeded_vectors(real_embedder) -> tuple[list[str | None], list[str], np.ndarray]:
    labels, questions = zip(*seeded_questions(), strict=True)
    return list(labels), list(questions), real_embedder.embed(list(questions))


@pytest.fixture
def store(tmp_path):
    opened = BotStore(tmp_path / "bot.sqlite")
    yield opened
    opened.close()


def test_questions_asked_in_other_words_fall_into_one_group_each(seeded_vectors):
    labels, questions, vectors = seeded_vectors
    groups = group_by_meaning(vectors)
    assert sorted(i for g in groups for i in g) == list(range(len(questions)))  # a partition
    for name, (size, _) in GROUPS.items():
        members = {i for i, label in enumerate(labels) if label == name}
        best = max(groups, key=lambda g: len(members & set(g.tolist())))
        assert len(members & set(best.tolist())) >= 0.9 * size, name  # nearly all of it in one group
        assert Counter(labels[i] for i in best).most_common(1)[0] == (name, len(members & set(best.tolist())))
        assert all(labels[i] == name for i in best), [questions[i] for i in best if labels[i] != name]
    big = groups[: len(GROUPS)]
    assert [Counter(labels[i] for i in g).most_common(1)[0][0] for g in big] == list(GROUPS)  # largest first
    once = [i for i, label in enumerate(labels) if label is None]
    merged = [i for i in once if any(i in g and len(g) > 1 for g in groups)]
    assert len(merged) <= 2, [questions[i] for i in merged]  # questions asked once mostly stay alone
    assert [g.tolist() for g in group_by_meaning(vectors)] == [g.tolist() for g in groups]  # deterministic


def test_each_group_is_told_by_its_most_typical_question(seeded_vectors):
    labels, _, vectors = seeded_vectors
    for group in group_by_meaning(vectors)[: len(GROUPS)]:
        chosen = group[medoid(vectors[group])]
        unit = vectors[group] / np.linalg.norm(vectors[group], axis=1, keepdims=True)
        totals = (unit @ unit.T).sum(axis=1)
        assert totals[np.flatnonzero(group == chosen)[0]] == pytest.approx(totals.max())
        assert labels[chosen] == labels[group[0]]


def test_the_threshold_leaves_distinct_questions_apart():
    # Three unrelated directions and one close paraphrase of the first (cosine 0.8 > SIMILAR).
    vectors = np.eye(3, 8, dtype=np.float32)
    near = vectors[0] * 0.8 + np.eye(1, 8, 5, dtype=np.float32)[0] * 0.6
    groups = group_by_meaning(np.vstack([vectors, near, np.zeros(8, dtype=np.float32)]))
    assert [g.tolist() for g in groups] == [[0, 3], [1], [2], [4]]
    assert SIMILAR < 0.8


def test_insights_count_people_never_name_them_and_find_the_gaps(store, real_embedder):
    now = time.time()
    seed(store, real_embedder, guild_id=42, now=now)
    store.record_question("asked elsewhere", None, 3, user_id=1, guild_id=43, vector=np.ones(384), vector_model="m")
    report = load_insights(store.query, days=30, now=now, guild_id=42, titles={"tinystack-003": "Ep. 3 (renamed)"})
    total = sum(size for size, _ in GROUPS.values()) + len(ONCE)
    assert report.questions == total and report.askers == 90 and report.most_by_one == -(-total // 90)
    uncovered = sum(GROUPS[g][0] for g in UNCOVERED)
    assert report.answered == total - uncovered and report.answered_share == pytest.approx(1 - uncovered / total)
    assert (report.up, report.down) == (0, DOWN_VOTED)
    assert sum(d.answered + d.unanswered for d in report.per_day) == total and len(report.per_day) == 30
    assert [g.size for g in report.top[:3]] == [48, 40, 36]
    assert "SQLite" in report.top[0].question or "sqlite" in report.top[0].question
    gap_sizes = {g.question: (g.size, g.unanswered, g.down) for g in report.gaps[:4]}
    assert sorted(gap_sizes.values(), reverse=True) == [(24, 24, 0), (20, 20, 0), (16, 16, 0), (6, 0, 6)]
    assert [(e.episode_id, e.questions) for e in report.episodes] == [
        ("tinystack-001", 88),
        ("tinystack-002", 68),
        ("tinystack-003", 28),
    ]
    assert report.episodes[2].title == "Ep. 3 (renamed)" and report.episodes[0].title == "SQLite in Production"
    dumped = json.dumps(report.to_json())
    hashes = {r[0] for r in store.query("SELECT user_hash FROM questions", ())}
    assert not any(h in dumped or h[:8] in dumped for h in hashes)  # who asked never appears, not even in part
    assert "asked elsewhere" not in dumped


def test_nothing_past_the_retention_period_is_shown_even_with_feedback(store):
    kept = store.record_question("old but voted on", None, 3, user_id=1, guild_id=1)
    store.record_shown(kept, 0, [answer_hit("tinystack-001", "SQLite in Production")])
    store.record_feedback(kept, 0, "down", 2, "wrong")
    gone = store.record_question("old", None, 3, user_id=1, guild_id=1)
    store.record_shown(gone, 0, [answer_hit("tinystack-001", "SQLite in Production")])
    recent = store.record_question("new", None, 3, user_id=1, guild_id=1)
    now = time.time()
    with store.transaction() as conn:
        conn.executemany(
            "UPDATE questions SET asked_at = ? WHERE id = ?",
            [(now - (KEEP_QUESTIONS_DAYS + 1) * DAY, kept), (now - (KEEP_QUESTIONS_DAYS + 1) * DAY, gone)],
        )
    store.forget_old()
    assert {r[0] for r in store.query("SELECT id FROM questions", ())} == {kept, recent}  # feedback keeps one
    assert [r[0] for r in store.query("SELECT question_id FROM shown", ())] == [kept]
    report = load_insights(store.query, days=365, now=now, guild_id=1)
    assert report.days == KEEP_QUESTIONS_DAYS and report.questions == 1 and report.down == 0 and not report.episodes
    assert load_reviews(store.query, days=365, now=now, guild_id=1) == []


def test_a_more_from_page_counts_as_its_question_and_its_thumbs_down_as_a_gap(store):
    vector = np.ones(384, dtype=np.float32) / np.sqrt(384)  # questions are grouped by meaning: any vector will do
    asked = store.record_question("what backup tool?", None, 3, 1, guild_id=7, vector=vector, vector_model="m")
    store.record_shown(asked, 0, [answer_hit("tinystack-001", "SQLite in Production"), answer_hit("other-002", "B")])
    narrowed = store.record_question("what backup tool?", "tinystack-001", 3, user_id=1, guild_id=7, follows=asked)
    store.record_shown(narrowed, 0, [answer_hit("tinystack-001", "SQLite in Production", 400.0)])
    store.record_feedback(narrowed, 0, "down", 2, "wrong part of the episode")
    report = load_insights(store.query, days=30, now=time.time(), guild_id=7)
    assert report.questions == 1 and report.down == 1
    assert sorted((e.episode_id, e.questions) for e in report.episodes) == [("other-002", 1), ("tinystack-001", 1)]
    assert [(g.question, g.size) for g in report.gaps] == [("what backup tool?", 1)]


def test_a_follow_up_thread_in_use_outlives_its_first_questions_retention(store):
    from bot.followups import open_followup, open_question

    used, quiet = (store.record_question(q, None, 3, user_id=1, guild_id=1) for q in ("used", "quiet"))
    open_followup(store, 100, 1, used)  # followed up a minute ago
    open_followup(store, 200, 1, quiet)
    long_ago = time.time() - (KEEP_QUESTIONS_DAYS + 1) * DAY
    with store.transaction() as conn:
        conn.execute("UPDATE questions SET asked_at = ?", (long_ago,))
        conn.execute("UPDATE followups SET last_active = ? WHERE thread_id = 200", (long_ago,))
    store.forget_old()
    assert open_question(store, 100, 1, idle_minutes=1440).id == used
    assert open_question(store, 200, 1, idle_minutes=10**7) is None
    assert {r[0] for r in store.query("SELECT id FROM questions", ())} == {used}


def test_the_review_queue_shows_the_newest_thumbs_down_with_what_was_shown(store):
    first = store.record_question("what backup tool?", None, 3, user_id=1, guild_id=7)
    store.record_shown(first, 3, [answer_hit("tinystack-001", "SQLite in Production", 212.0)])
    store.record_feedback(first, 3, "down", 2, "it is at 3:40")
    second = store.record_question("type hints?", None, 3, user_id=1, guild_id=7)
    store.record_feedback(second, 0, "up", 2)
    elsewhere = store.record_question("other server", None, 3, user_id=1, guild_id=8)
    store.record_feedback(elsewhere, 0, "down", 2)
    (review,) = load_reviews(store.query, days=30, now=time.time(), guild_id=7)
    assert (review.question, review.comment, review.first_rank) == ("what backup tool?", "it is at 3:40", 4)
    (shown,) = review.shown
    assert shown.title == "SQLite in Production" and shown.url == "https://tinystack.example/episodes/1#t=212"
    assert shown.quote.startswith("I stream the write-ahead log") and shown.quote_start == 212.0


def test_windows_are_calendar_days_within_the_retention_period():
    now = 1_780_000_000.0  # 2026-05-28 20:26 UTC
    days, since = window_start(7, now)
    assert days == 7 and since == 1_779_408_000.0  # 2026-05-22 00:00 UTC, six days before
    assert window_start(0, now)[0] == 1 and window_start(1000, now)[0] == KEEP_QUESTIONS_DAYS
    report = summarise([Asked("q", now - 3 * DAY, "h", True, False)], days=days, since=since, now=now)
    assert [d.answered for d in report.per_day] == [0, 0, 0, 1, 0, 0, 0] and report.top == []


def test_the_chart_is_a_png_of_every_day():
    days = [Day(f"2026-05-{d:02d}", d % 4, d % 3) for d in range(1, 31)]
    png = questions_per_day_png(days, title="Questions per day, last 30 days")
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.format == "PNG" and image.size == (800, 320)


def test_dollar_signs_in_questions_and_titles_are_drawn_as_words():
    sizes = [("why $$ in makefiles", 3), ("what does $@ and $# mean in bash", 2), ("$\\frac{1}{0", 1)]
    for png in (groups_png(sizes, title="Top questions on $hell $cripts"),
                questions_per_day_png([Day("2026-05-01", 1, 0)], title="$$ per day")):  # fmt: skip
        image = Image.open(io.BytesIO(png))
        image.verify()
        assert image.format == "PNG"


def test_insights_render_within_discords_limits_and_escape_questions():
    long = "@everyone <@123456789012345678> **bold** " + "word " * 300
    groups = [Group(long, 300 - i, 99, 300 - i, 5) for i in range(10)]
    report = Insights(
        days=30, since=0.0, questions=3000, askers=1200, most_by_one=40, answered=2400, up=12, down=8, top=groups,
        gaps=groups, ungrouped=3,
    )  # fmt: skip
    (embed,) = render_insights(report).embeds
    data = embed.to_dict()
    assert len(embed) <= TOTAL_LIMIT and all(len(f["value"]) <= 1024 for f in data["fields"])
    assert "@everyone" not in json.dumps(data) and "<@123456789012345678>" not in json.dumps(data)
    assert data["image"]["url"] == "attachment://insights.png"
    assert (
        "**3,000 questions** from **1,200 people**" in data["description"] and "**80%** answered" in data["description"]
    )
    assert (
        data["fields"][1]["value"].startswith("**300×** ")
        and "(300 without a match, 5 👎)" in data["fields"][1]["value"]
    )
    empty = render_insights(Insights(days=7, since=0.0)).embeds[0].to_dict()
    assert empty["description"] == "No questions were asked in the last 7 days." and "image" not in empty


def test_ten_long_reviews_fit_one_message():
    shown = [Shown("T" * 300, 3725.0, "https://e.example/(1)#t=3725", "q " * 400, 0.5) for _ in range(10)]
    reviews = [Review("why " * 200, "c " * 300, time.time(), 1, shown) for _ in range(12)]
    rendered = render_reviews(reviews, 30)
    assert len(rendered.embeds) == 10 and sum(len(e) for e in rendered.embeds) <= TOTAL_LIMIT
    assert all(
        e.description and "[▶ 1:02:05](https://e.example/%281%29#t=3725)" in e.description for e in rendered.embeds
    )
    assert render_reviews([], 7).content == "No 👎 in the last 7 days."
