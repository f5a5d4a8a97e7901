"""A bot database seeded with a few hundred questions whose grouping is known, embedded with the real model.

Eight questions are each asked in many words (a subject phrased six ways inside eight sentence frames, so
questions of different groups share most of their words), plus twenty questions asked once. Three groups are
about what the podcast never covered (no confident match), and some answers about the broken release got a 👎.
docs/insights.md reports how the grouping does on this set.
"""

from __future__ import annotations

import itertools
import time

from bot.store import BotStore
from index.embedding import Embedder
from index.models import Hit, Sentence

FRAMES = [
    "what did they say about {s}?",
    "any advice on {s}?",
    "was there an episode about {s}",
    "where do they talk about {s}?",
    "can you find the part on {s}",
    "{s}?",
    "I'm curious about {s}, where was that discussed?",
    "tell me what the hosts think of {s}",
]
GROUPS = {  # name: (how many times it is asked, six ways to name the subject)
    "sqlite-backups": (48, [
        "backing up a SQLite database", "SQLite backups", "backups of the sqlite database",
        "a backup tool for SQLite", "backing up sqlite files", "the best way to back up SQLite",
    ]),
    "postgres-move": (40, [
        "moving off Postgres", "leaving PostgreSQL", "migrating away from Postgres",
        "why they moved off postgres", "switching away from PostgreSQL", "dropping Postgres",
    ]),
    "packaging": (36, [
        "the broken linkmoth release", "the linkmoth 2.4.0 release bug", "what went wrong with linkmoth 2.4.0",
        "the linkmoth wheel without templates", "linkmoth's failed release", "the bad linkmoth 2.4 wheel",
    ]),
    "type-hints": (32, [
        "type hints", "Python type hints", "type annotations in Python",
        "using type hints", "adding type hints to Python code", "whether type hints are worth it",
    ]),
    "moderation": (28, [
        "bots pinging everyone", "bots using at-everyone mentions", "bots that mention @everyone",
        "stopping bots from pinging everyone", "the rule about bots and everyone pings", "bot everyone mentions",
    ]),
    "windows-deploy": (24, [
        "deploying on Windows", "deploying to a Windows server", "Windows deployment",
        "running it on Windows Server", "deployment on Windows machines", "hosting on Windows",
    ]),
    "kubernetes": (20, [
        "Kubernetes costs", "how expensive Kubernetes is", "the cost of running Kubernetes",
        "Kubernetes bills", "paying for a Kubernetes cluster", "whether Kubernetes is too expensive",
    ]),
    "rust": (16, [
        "rewriting it in Rust", "a Rust rewrite", "rewriting the app in Rust",
        "porting the code to Rust", "whether to rewrite in Rust", "a rewrite in Rust",
    ]),
}  # fmt: skip
UNCOVERED = {"windows-deploy", "kubernetes", "rust"}  # no episode answers these: "no confident match"
DOWN_VOTED = 6  # answers to the first six packaging questions got a 👎
ONCE = [
    "how many members does the Tiny Stack Discord have?",
    "why does the guest prefer quotes to summaries?",
    "what microphone does the host use?",
    "is there a transcript of the first episode?",
    "who designed the podcast logo?",
    "what music plays in the intro?",
    "when is the next live recording?",
    "do they have a newsletter?",
    "which keyboard was recommended?",
    "what's the best coffee for programmers?",
    "how long is a typical episode?",
    "can I be a guest on the show?",
    "where is the host based?",
    "what was the book recommendation last month?",
    "is the show on Spotify?",
    "how do they pick guests?",
    "what happened to the old website?",
    "do they accept sponsors?",
    "what is the podcast's release schedule?",
    "who edits the audio?",
]
EPISODES = {  # the episode each answered group's answers link, as the sample feed names it
    "sqlite-backups": ("tinystack-001", "SQLite in Production"),
    "postgres-move": ("tinystack-001", "SQLite in Production"),
    "packaging": ("tinystack-002", "Packaging Python Apps"),
    "type-hints": ("tinystack-002", "Packaging Python Apps"),
    "moderation": ("tinystack-003", "Running a Discord Community"),
}
ASKERS = 90
DAYS = 20  # the questions are spread over the last twenty days


def seeded_questions() -> list[tuple[str | None, str]]:
    """(group, question) pairs, group None for the questions asked once; the same list every time."""
    questions: list[tuple[str | None, str]] = []
    for group, (size, subjects) in GROUPS.items():
        combinations = list(itertools.product(FRAMES, subjects))
        step = len(combinations) / size
        questions += [
            (group, combinations[int(i * step)][0].format(s=combinations[int(i * step)][1])) for i in range(size)
        ]
    return questions + [(None, q) for q in ONCE]


def seed(store: BotStore, embedder: Embedder, *, guild_id: int | None, now: float | None = None) -> list[int]:
    """Record every seeded question in `store` as the bot would (vectors by `embedder`), spread over the last DAYS
    days and ASKERS people, with answers shown and 👎 on some; returns the question ids in seeded order."""
    now = now or time.time()
    questions = seeded_questions()
    vectors = embedder.embed([q for _, q in questions])
    ids, down_voted = [], 0
    for n, ((group, question), vector) in enumerate(zip(questions, vectors, strict=True)):
        answered = group not in UNCOVERED
        question_id = store.record_question(
            question,
            None,
            3,
            user_id=1000 + (n * 7) % ASKERS,
            guild_id=guild_id,
            answered=answered,
            top_score=0.62 if answered else 0.31,
            vector=vector,
            vector_model=embedder.model_id,
        )
        when = now - (n * 7919 % (DAYS * 24)) * 3600 - 60  # hours back, spread over the days
        with store.transaction() as conn:
            conn.execute("UPDATE questions SET asked_at = ? WHERE id = ?", (when, question_id))
        if answered and group in EPISODES:
            store.record_shown(question_id, 0, [answer_hit(*EPISODES[group])])
        if group == "packaging" and down_voted < DOWN_VOTED:
            store.record_feedback(question_id, 0, "down", 5000 + down_voted, f"not about the release #{down_voted}")
            down_voted += 1
        ids.append(question_id)
    return ids


def answer_hit(episode_id: str, title: str, start: float = 212.0) -> Hit:
    """An answer as search returns it, quoting one sentence of `title` at `start` seconds."""
    sentence = Sentence(start, start + 8, "I stream the write-ahead log to a bucket with Shelfcopy.", "Marta")
    return Hit(
        chunk_id=1,
        episode_id=episode_id,
        episode_title=title,
        podcast="The Tiny Stack",
        source_file="001.vtt",
        start=start - 10,
        end=start + 40,
        url=f"https://tinystack.example/episodes/{episode_id[-1]}#t={int(start)}",
        score=0.62,
        sentences=[sentence],
        quote_first=0,
        quote_last=0,
    )
