"""Keyword retrieval over the SQLite FTS5 index: BM25 over passage text, speakers and episode title.

Transcripts misspell names and jargon ("Beasley" for Beazley, "HTMLX" for htmx, "Gido" for Guido), so each
query word is also matched against its likely ASR spellings found in the index vocabulary: rare words that
sound the same or are one edit away and are not ordinary English words.
"""

from __future__ import annotations

from index.store import Store
from index.text import STOPWORDS, common_words, edit_distance, edits1, words

# bm25() column weights for (text, speakers, title), chosen on docs/retrieval.md measurements: a title word
# points at the episode ("the AMA episode"); speakers help "what did <name> say about ...", less so.
COLUMN_WEIGHTS = (1.0, 0.5, 1.0)
MAX_VARIANT_DF = 25  # an ASR variant is rare; a word in many passages is a word of its own
MAX_VARIANTS = 3


def query_terms(question: str) -> list[str]:
    terms = (w.strip("'.-") for w in words(question) if w not in STOPWORDS and len(w) > 1)
    return list(dict.fromkeys(t for t in terms if t))


def spelling_variants(store: Store, term: str) -> list[str]:
    """Likely transcript spellings of `term` that the index uses, at most MAX_VARIANTS.

    Only names and jargon are expanded (ordinary words are transcribed fine, and their neighbours are other
    words: bunch/hunch), and only to rare, non-dictionary index words one edit away, or two when they sound
    the same (Soundex); never to inflections of the term.
    """
    if len(term) < 5 or not term.isalpha() or term in common_words():
        return []
    own = store.document_frequency([term]).get(term, 0)
    one_edit = edits1(term)
    candidates = store.sounding_like(term)
    candidates.update(store.document_frequency(one_edit))
    same_sound = set(store.sounding_like(term))
    variants = []
    for candidate, df in candidates.items():
        if not candidate.isalpha() or candidate.startswith(term) or term.startswith(candidate):
            continue  # the term itself, or an inflection (which the stemmer matches anyway)
        if own and candidate in common_words():
            continue  # a dictionary word near a known term is a word of its own, not its misspelling
        close = candidate in one_edit or (
            len(term) >= 7 and candidate in same_sound and edit_distance(candidate, term, 2) <= 2
        )
        if close and (own == 0 or (df <= MAX_VARIANT_DF and df < own)):
            variants.append((df, candidate))
    # A term absent from the index is a typo: its most used spelling first; otherwise the rarest variants.
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
