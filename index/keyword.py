"""Keyword retrieval over the SQLite FTS5 index: BM25 over passage text, speakers and episode title.

Transcripts misspell names and jargon ("Beasley" for Beazley, "HTMLX" for htmx, "Gido" for Guido), so each
query word is also matched against its likely ASR spellings found in the index vocabulary: rare words that
sound the same or are one edit away and are not ordinary English words.
"""

from __future__ import annotations

from index.store import Store
from index.text import STOPWORDS, common_words, edit_distance, edits1, words

# bm25() column weights for (text, speakers, title): a title word matches every passage of an episode, so it
# only nudges; speakers help "what did <name> say about ...".
COLUMN_WEIGHTS = (1.0, 0.5, 0.5)
MAX_VARIANT_DF = 25  # an ASR variant is rare; a word in many passages is a word of its own
MAX_VARIANTS = 3


def query_terms(question: str) -> list[str]:
    terms = (w.strip("'.-") for w in words(question) if w not in STOPWORDS and len(w) > 1)
    return list(dict.fromkeys(t for t in terms if t))


def spelling_variants(store: Store, term: str) -> list[str]:
    """Likely transcript spellings of `term` that the index uses, rarest-first capped at MAX_VARIANTS."""
    if len(term) < 4 or not term.isalpha():
        return []
    own = store.document_frequency([term]).get(term, 0)
    candidates = store.sounding_like(term)
    candidates.update(store.document_frequency(edits1(term)))
    limit = 1 if len(term) <= 5 else 2
    variants = [
        (df, candidate)
        for candidate, df in candidates.items()
        if candidate != term
        and edit_distance(candidate, term, limit) <= limit
        and (own == 0 or (df <= MAX_VARIANT_DF and df < own and candidate not in common_words()))
    ]
    # Correcting a typo (the term is not in the index): the most used spelling; else the rarest variants.
    variants.sort(reverse=own == 0)
    return [candidate for _, candidate in variants[:MAX_VARIANTS]]


def match_expression(store: Store, question: str, *, fuzzy: bool = True) -> str | None:
    """An FTS5 query ORing the question's meaningful words (and their variants), each quoted so no input is
    FTS syntax."""
    terms = query_terms(question)
    if fuzzy:
        terms += [v for t in list(terms) for v in spelling_variants(store, t) if v not in terms]
    return " OR ".join(f'"{t}"' for t in terms) if terms else None


def keyword_search(store: Store, question: str, k: int, *, fuzzy: bool = True) -> list[tuple[int, float]]:
    """(chunk id, BM25 score, higher is better) for the `k` best keyword matches."""
    expression = match_expression(store, question, fuzzy=fuzzy)
    if expression is None:
        return []
    weights = ", ".join(str(w) for w in COLUMN_WEIGHTS)
    rows = store.query(
        f"SELECT rowid, -bm25(chunks_fts, {weights}) FROM chunks_fts WHERE chunks_fts MATCH ?"
        f" ORDER BY bm25(chunks_fts, {weights}) LIMIT ?",
        (expression, k),
    )
    return [(int(r[0]), float(r[1])) for r in rows]
