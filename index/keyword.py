"""Keyword retrieval over the SQLite FTS5 index: BM25 over passage text, speakers and episode title."""

from __future__ import annotations

from index.store import Store
from index.text import STOPWORDS, words

# bm25() column weights for (text, speakers, title): a title word matches every passage of an episode, so it
# only nudges; speakers help "what did <name> say about ...".
COLUMN_WEIGHTS = (1.0, 0.5, 0.5)


def match_expression(question: str) -> str | None:
    """An FTS5 query that ORs the question's meaningful words, each quoted so no input is FTS syntax."""
    terms = list(dict.fromkeys(w.strip("'.-") for w in words(question) if w not in STOPWORDS and len(w) > 1))
    terms = [t for t in terms if t]
    return " OR ".join(f'"{t}"' for t in terms) if terms else None


def keyword_search(store: Store, question: str, k: int) -> list[tuple[int, float]]:
    """(chunk id, BM25 score, higher is better) for the `k` best keyword matches."""
    expression = match_expression(question)
    if expression is None:
        return []
    weights = ", ".join(str(w) for w in COLUMN_WEIGHTS)
    rows = store.query(
        f"SELECT rowid, -bm25(chunks_fts, {weights}) FROM chunks_fts WHERE chunks_fts MATCH ?"
        f" ORDER BY bm25(chunks_fts, {weights}) LIMIT ?",
        (expression, k),
    )
    return [(int(r[0]), float(r[1])) for r in rows]
