"""What listeners ask, read from the bot's database: counts, the questions grouped by meaning, coverage gaps, the
most linked episodes, and the review queue of 👎 answers.

Shared by /insights and scripts/insights.py, so it knows nothing of Discord. Who asked is never part of a result:
people are only counted. Nothing older than the retention period (bot.store.KEEP_QUESTIONS_DAYS) is read, not even
a question kept longer because it has feedback. How questions are grouped, and why: docs/insights.md.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from bot.store import KEEP_QUESTIONS_DAYS

Reader = Callable[[str, Sequence[object]], list[sqlite3.Row]]  # BotStore.query, or a read-only connection's
DAY = 86400.0
SIMILAR = 0.55  # cosine from which two questions are the same question asked in other words (docs/insights.md)
MAX_GROUPED = 5000  # the newest questions grouped; the time grows with the square of the number
LISTED = 10  # groups, episodes and reviews kept in a report
_BLOCK = 1024  # rows of the similarity matrix computed at a time: memory stays O(n), not O(n²)


@dataclass(frozen=True, slots=True)
class Asked:
    """One recorded question, as insights need it."""

    question: str
    asked_at: float
    user_hash: str
    answered: bool  # a hit cleared the score floor
    down: bool  # someone voted 👎 on an answer to it
    vector: np.ndarray | None = None  # None: recorded before vectors were stored, or by another model


@dataclass(frozen=True, slots=True)
class Group:
    """Questions asked in other words: the most typical of them (the medoid) and how many there were."""

    question: str
    size: int
    askers: int
    unanswered: int  # with no hit above the score floor
    down: int  # with a 👎


@dataclass(frozen=True, slots=True)
class Day:
    date: str  # YYYY-MM-DD, UTC
    answered: int
    unanswered: int


@dataclass(frozen=True, slots=True)
class LinkedEpisode:
    episode_id: str
    title: str
    questions: int  # questions whose shown answers linked it


@dataclass(frozen=True, slots=True)
class Shown:
    """One answer that was shown, as the bot stored it (bot.store._hit_summary)."""

    title: str
    quote_start: float
    url: str | None
    quote: str
    score: float


@dataclass(frozen=True, slots=True)
class Review:
    """A 👎: the question, what was shown on that page, and what the person wrote."""

    question: str
    comment: str | None
    created_at: float
    first_rank: int
    shown: list[Shown]


@dataclass
class Insights:
    days: int
    since: float  # timestamp of the first moment counted (midnight UTC, `days` calendar days ago)
    questions: int = 0
    askers: int = 0  # distinct people
    most_by_one: int = 0  # the most questions one person asked
    answered: int = 0
    up: int = 0
    down: int = 0
    per_day: list[Day] = field(default_factory=list)
    top: list[Group] = field(default_factory=list)  # groups of two or more questions, largest first
    gaps: list[Group] = field(default_factory=list)  # groups of unanswered or 👎 questions, largest first
    episodes: list[LinkedEpisode] = field(default_factory=list)
    ungrouped: int = 0  # questions without a vector of the newest model, or beyond MAX_GROUPED

    @property
    def answered_share(self) -> float:
        return self.answered / self.questions if self.questions else 0.0

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "answered_share": round(self.answered_share, 4)}


def window_start(days: int, now: float) -> tuple[int, float]:
    """`days` capped at the retention period, and midnight UTC of the first of those calendar days."""
    days = max(1, min(int(days), KEEP_QUESTIONS_DAYS))
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return days, (today - timedelta(days=days - 1)).timestamp()


def load_insights(
    read: Reader, *, days: int, now: float, guild_id: int | None = None, titles: Mapping[str, str] | None = None
) -> Insights:
    """Everything /insights shows about the last `days` days; `guild_id` None means every server (the script).
    `titles` (episode id to title, from the index being served) wins over the titles stored with the answers."""
    days, since = window_start(days, now)
    where, params = _scope(since, guild_id)
    rows = read(
        "SELECT q.question, q.asked_at, q.user_hash, q.answered, q.vector, q.vector_model,"
        " EXISTS (SELECT 1 FROM feedback f JOIN questions p ON p.id = f.question_id"
        "         WHERE COALESCE(p.follows, p.id) = q.id AND f.vote = 'down') AS down"  # a 👎 on any page of it
        f" FROM questions q WHERE {where} AND q.follows IS NULL ORDER BY q.asked_at, q.id",  # each asked once
        params,
    )
    models = [r["vector_model"] for r in rows if r["vector"] is not None]
    newest_model = models[-1] if models else None
    asked = [
        Asked(
            question=r["question"],
            asked_at=r["asked_at"],
            user_hash=r["user_hash"],
            answered=bool(r["answered"]),
            down=bool(r["down"]),
            vector=_vector(r["vector"]) if r["vector"] is not None and r["vector_model"] == newest_model else None,
        )
        for r in rows
    ]
    votes = dict(
        read(
            f"SELECT f.vote, COUNT(*) FROM feedback f JOIN questions q ON q.id = f.question_id WHERE {where}"
            " GROUP BY f.vote",
            params,
        )
    )
    shown = read(
        "SELECT COALESCE(q.follows, q.id) AS question_id, s.hits FROM shown s JOIN questions q"
        f" ON q.id = s.question_id WHERE {where}",  # "More from <episode>" pages count as their question
        params,
    )
    insights = summarise(asked, days=days, since=since, now=now)
    insights.up, insights.down = votes.get("up", 0), votes.get("down", 0)
    insights.episodes = most_linked([(r["question_id"], json.loads(r["hits"])) for r in shown], titles or {})
    return insights


def load_reviews(
    read: Reader, *, days: int, now: float, guild_id: int | None = None, limit: int = LISTED
) -> list[Review]:
    """The newest 👎 of the last `days` days, newest first."""
    days, since = window_start(days, now)
    where, params = _scope(now - KEEP_QUESTIONS_DAYS * DAY, guild_id)
    rows = read(
        "SELECT f.question, f.comment, f.created_at, f.page_offset, f.hits FROM feedback f"
        f" JOIN questions q ON q.id = f.question_id WHERE f.vote = 'down' AND f.created_at >= ? AND {where}"
        " ORDER BY f.created_at DESC, f.id DESC LIMIT ?",
        [since, *params, limit],
    )
    return [
        Review(
            question=r["question"],
            comment=r["comment"],
            created_at=r["created_at"],
            first_rank=r["page_offset"] + 1,
            shown=[_shown(h) for h in json.loads(r["hits"])],
        )
        for r in rows
    ]


def summarise(asked: Sequence[Asked], *, days: int, since: float, now: float) -> Insights:
    """Counts, questions per day and the groups, from questions in time order (pure: no database)."""
    people = Counter(a.user_hash for a in asked)
    insights = Insights(
        days=days,
        since=since,
        questions=len(asked),
        askers=len(people),
        most_by_one=max(people.values(), default=0),
        answered=sum(a.answered for a in asked),
        per_day=per_day(asked, since, now),
    )
    grouped = [a for a in asked if a.vector is not None][-MAX_GROUPED:]
    insights.ungrouped = len(asked) - len(grouped)
    insights.top = [g for g in describe_groups(grouped) if g.size >= 2][:LISTED]
    insights.gaps = describe_groups([a for a in grouped if not a.answered or a.down])[:LISTED]
    return insights


def per_day(asked: Sequence[Asked], since: float, now: float) -> list[Day]:
    """Answered and unanswered questions for every UTC day from `since` to `now`, days without any included."""
    counts: dict[str, list[int]] = {}
    day = datetime.fromtimestamp(since, UTC).date()
    last = datetime.fromtimestamp(now, UTC).date()
    while day <= last:
        counts[day.isoformat()] = [0, 0]
        day += timedelta(days=1)
    for a in asked:
        date = datetime.fromtimestamp(a.asked_at, UTC).date().isoformat()
        if date in counts:
            counts[date][0 if a.answered else 1] += 1
    return [Day(date, answered, unanswered) for date, (answered, unanswered) in counts.items()]


def describe_groups(asked: Sequence[Asked]) -> list[Group]:
    """`asked` (all with vectors) grouped by meaning, largest group first, each told by its medoid."""
    if not asked:
        return []
    vectors = np.stack([a.vector for a in asked]).astype(np.float32)  # type: ignore[misc]
    groups = []
    for members in group_by_meaning(vectors):
        chosen = [asked[i] for i in members]
        groups.append(
            Group(
                question=asked[members[medoid(vectors[members])]].question,
                size=len(members),
                askers=len({a.user_hash for a in chosen}),
                unanswered=sum(not a.answered for a in chosen),
                down=sum(a.down for a in chosen),
            )
        )
    return groups


def group_by_meaning(vectors: np.ndarray, threshold: float = SIMILAR) -> list[np.ndarray]:
    """Indices of `vectors` in groups, largest first (ties: the group with the earliest member first).

    Threshold clustering ("community detection"): the vector with the most neighbours at a cosine of at least
    `threshold` founds a group of all its neighbours not yet grouped; repeat with the next. Every member is that
    close to its founder, so groups never drift by chaining; the result depends only on the order of the input.
    Neighbours are counted a block of rows at a time (matrix products); then only founders with a neighbour need
    a pass over the vectors, so a thousand different questions cost no more than the count.
    """
    if not len(vectors):
        return []
    unit = _normalised(vectors)
    n = len(unit)
    neighbours = np.zeros(n, dtype=np.int64)
    for first in range(0, n, _BLOCK):
        neighbours[first : first + _BLOCK] = (unit[first : first + _BLOCK] @ unit.T >= threshold).sum(axis=1)
    free = np.ones(n, dtype=bool)
    groups = []
    order = np.lexsort((np.arange(n), -neighbours))
    for founder in order:
        if neighbours[founder] <= 1:
            break  # close to nothing but itself, and so is every vector after it: each stands alone
        if not free[founder]:
            continue
        members = np.flatnonzero(free & (unit @ unit[founder] >= threshold))
        free[members] = False
        groups.append(members)
    groups += [np.array([i]) for i in order if free[i]]
    groups.sort(key=lambda g: (-len(g), int(g[0])))
    return groups


def medoid(vectors: np.ndarray) -> int:
    """The index of the most typical vector: the highest total cosine to all the others."""
    unit = _normalised(vectors)
    totals = np.concatenate(
        [(unit[first : first + _BLOCK] @ unit.T).sum(axis=1) for first in range(0, len(unit), _BLOCK)]
    )
    return int(np.argmax(totals))


def most_linked(shown: Sequence[tuple[int, list[dict[str, object]]]], titles: Mapping[str, str]) -> list[LinkedEpisode]:
    """Episodes by how many questions' answers linked them (each question counts once per episode)."""
    linked: dict[str, set[int]] = {}
    stored_titles: dict[str, str] = {}
    for question_id, hits in shown:
        for hit in hits:
            episode = str(hit["episode_id"])
            linked.setdefault(episode, set()).add(question_id)
            if hit.get("title"):
                stored_titles[episode] = str(hit["title"])
    ranked = sorted(linked.items(), key=lambda item: (-len(item[1]), item[0]))[:LISTED]
    return [
        LinkedEpisode(episode, titles.get(episode) or stored_titles.get(episode) or episode, len(questions))
        for episode, questions in ranked
    ]


def _scope(since: float, guild_id: int | None) -> tuple[str, list[object]]:
    if guild_id is None:
        return "q.asked_at >= ?", [since]
    return "q.asked_at >= ? AND q.guild_id = ?", [since, guild_id]


def _shown(hit: dict[str, object]) -> Shown:
    return Shown(
        title=str(hit.get("title") or hit["episode_id"]),
        quote_start=float(hit.get("quote_start") or hit.get("start") or 0.0),  # type: ignore[arg-type]
        url=str(hit["url"]) if hit.get("url") else None,
        quote=str(hit.get("quote") or ""),
        score=float(hit.get("score") or 0.0),  # type: ignore[arg-type]
    )


def _vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
