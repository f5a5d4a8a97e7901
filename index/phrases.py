"""Exact phrase finder: every time a phrase was said, and how often per episode, from the FTS index.

Similarity search cannot answer "which episode did they say X in?" or "how many times did anyone mention Y?";
an FTS5 phrase query over the timed sentences can, in milliseconds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from index.links import deep_link
from index.store import EpisodeRow, Store

MAX_PHRASE_CHARS = 200


@dataclass(frozen=True, slots=True)
class Occurrence:
    episode: EpisodeRow
    start: float
    speaker: str | None
    sentence: str
    url: str | None


@dataclass
class PhraseReport:
    phrase: str
    total: int = 0  # times the phrase was said, across all episodes
    per_episode: list[tuple[EpisodeRow, int]] = field(default_factory=list)  # most mentions first
    occurrences: list[Occurrence] = field(default_factory=list)  # in time order within episodes, capped


def phrase_tokens(phrase: str) -> list[str]:
    """The phrase as FTS5's unicode61 tokenizer sees it: runs of letters and digits."""
    return re.findall(r"\w+", phrase.casefold())[:32]


def fold(text: str) -> str:
    """`text` as FTS5 compares it: case-folded, accents removed ("Café" → "cafe", "Straße" → "strasse")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def find_phrase(
    store: Store,
    phrase: str,
    *,
    link_template: str | None = None,
    limit: int = 50,
    episode: str | None = None,
    podcasts: Sequence[str] = (),
) -> PhraseReport:
    """Every sentence containing `phrase` (case-, accent- and punctuation-insensitive), counted per episode;
    only in `episode` (an episode id) and in `podcasts` (feed titles) when given."""
    phrase = " ".join(phrase.split())[:MAX_PHRASE_CHARS]
    report = PhraseReport(phrase)
    tokens = phrase_tokens(phrase)
    if not tokens:
        return report
    expression = '"' + " ".join(tokens).replace('"', '""') + '"'
    sql = (
        "SELECT s.episode_id, s.start, s.speaker, s.text FROM sentences_fts"
        " JOIN sentences s ON s.id = sentences_fts.rowid"
        " JOIN episodes e ON e.id = s.episode_id"
        " WHERE sentences_fts MATCH ?"
    )
    params: list[object] = [expression]
    if episode:
        sql += " AND e.key = ?"
        params.append(episode)
    if podcasts:
        sql += f" AND e.podcast IN ({','.join('?' * len(podcasts))})"
        params.extend(podcasts)
    rows = store.query(sql + " ORDER BY s.episode_id, s.start", params)
    pattern = re.compile(r"\b" + r"\W+".join(re.escape(fold(t)) for t in tokens) + r"\b")
    episodes = {e.id: e for e in store.episodes}
    counts: dict[int, int] = {}
    for episode_id, start, speaker, text in rows:
        times = max(1, len(pattern.findall(fold(text))))  # FTS matched it once at least
        counts[episode_id] = counts.get(episode_id, 0) + times
        report.total += times
        if len(report.occurrences) < limit:
            row = episodes[episode_id]
            url = deep_link(row.link, start, row.link_template or link_template)
            report.occurrences.append(Occurrence(row, start, speaker, text, url))
    report.per_episode = sorted(((episodes[i], n) for i, n in counts.items()), key=lambda item: -item[1])
    return report
