"""Keyword retrieval: BM25 over passage text, speakers and episode title, scored at build time.

Every (term, passage) score is computed when the index is built and stored as one sparse array per term
(`keywords.npz`), as bm25s does: answering is then adding a few posting lists into one array and taking the
top k, well under a millisecond, where SQLite FTS5 took about ten on every question. The scores follow FTS5's
`bm25()` with column weights: each column's term frequency weighted, summed, then saturated against the
passage's length in all columns; words are cut and stemmed as FTS5's `porter unicode61 remove_diacritics`
tokenizer does (runs of letters and digits, Porter's stemmer). Only k1 and b differ from FTS5's fixed 1.2 and
0.75: see K1, B.

Transcripts misspell names and jargon ("Beasley" for Beazley, "HTMLX" for htmx, "Gido" for Guido), so each
query word is also matched against its likely ASR spellings found in the index vocabulary: rare words that
sound the same or are one edit away and are not ordinary English words.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
import zipfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import Stemmer

from index.errors import IndexLoadError
from index.text import STOPWORDS, common_words, edit_distance, edits1, soundex

# Weights of (text, speakers, title), chosen on docs/retrieval.md measurements: a title word points at the
# episode ("the AMA episode"); speakers help "what did <name> say about ...", less so.
COLUMN_WEIGHTS = (1.0, 0.5, 1.0)
# Anserini's defaults rather than FTS5's 1.2 / 0.75: speech repeats words, so a second "pandas" says less than in
# prose (a lower k1 saturates sooner), and passages are cut to one length, so length normalisation matters little
# (b). No dev set lost a question at any cutoff; docs/retrieval.md has the sweep.
K1, B = 0.9, 0.4
MAX_VARIANT_DF = 25  # an ASR variant is rare; a word in many passages is a word of its own
MAX_VARIANTS = 3


_TOKEN = re.compile(r"[^\W_]+")
_stemmers = threading.local()  # a PyStemmer object must not be shared between threads


def tokens(text: str) -> list[str]:
    """Lower-cased runs of letters and digits, accents removed ("café" matches "cafe")."""
    plain = unicodedata.normalize("NFKD", text.lower())
    return _TOKEN.findall("".join(c for c in plain if not unicodedata.combining(c)))


def stems(terms: Sequence[str]) -> list[str]:
    stemmer = getattr(_stemmers, "porter", None)
    if stemmer is None:
        stemmer = _stemmers.porter = Stemmer.Stemmer("porter")
    return stemmer.stemWords(terms)


def query_terms(question: str) -> list[str]:
    return list(dict.fromkeys(w for w in tokens(question) if w not in STOPWORDS and len(w) > 1))


class KeywordIndexWriter:
    """Collects passages' words while a build writes them; `save` computes and stores every BM25 score."""

    def __init__(self, *, k1: float = K1, b: float = B) -> None:
        self.k1, self.b = k1, b
        self._postings: dict[str, dict[int, float]] = defaultdict(dict)  # stem -> passage -> weighted tf
        self._lengths: list[int] = []
        self._document_frequency: Counter[str] = Counter()  # unstemmed words, for spelling variants

    def add(self, passage: int, text: str, speakers: Sequence[str], title: str) -> None:
        if passage != len(self._lengths):
            raise ValueError("passages must be added in id order")
        length = 0
        for column, weight in zip((text, " ".join(speakers), title), COLUMN_WEIGHTS, strict=True):
            found = tokens(column)
            length += len(found)
            for term, count in Counter(stems([w for w in found if w not in STOPWORDS])).items():
                row = self._postings[term]
                row[passage] = row.get(passage, 0.0) + weight * count
        self._lengths.append(length)
        self._document_frequency.update(set(tokens(text)))

    def save(self, path: Path) -> None:
        count = len(self._lengths)
        lengths = np.asarray(self._lengths, dtype=np.float32)
        k1, b = self.k1, self.b
        norm = k1 * (1 - b + b * lengths / max(float(lengths.mean()) if count else 1.0, 1e-9))
        terms = sorted(self._postings)
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        docs, scores = [], []
        for i, term in enumerate(terms):
            row = self._postings[term]
            ids = np.fromiter(row, dtype=np.int32, count=len(row))
            tf = np.fromiter(row.values(), dtype=np.float32, count=len(row))
            idf = float(_idf(count, len(row)))
            docs.append(ids)
            scores.append((idf * tf * (k1 + 1) / (tf + norm[ids])).astype(np.float32))
            indptr[i + 1] = indptr[i] + len(row)
        vocabulary = sorted(self._document_frequency)
        with open(path, "wb") as handle:
            np.savez(
                handle,
                passages=np.asarray([count], dtype=np.int64),
                terms=_pack(terms),
                indptr=indptr,
                docs=np.concatenate(docs) if docs else np.zeros(0, dtype=np.int32),
                scores=np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32),
                words=_pack(vocabulary),
                word_df=np.asarray([self._document_frequency[w] for w in vocabulary], dtype=np.int32),
            )


class KeywordIndex:
    """A build's BM25 postings and vocabulary, in memory; read-only, so search threads share it freely."""

    def __init__(self, path: Path, *, passages: int) -> None:
        try:
            with np.load(path, allow_pickle=False) as data:
                stored = int(data["passages"][0])
                self._terms = {t: i for i, t in enumerate(_unpack(data["terms"]))}
                self._indptr, self._docs, self._scores = data["indptr"], data["docs"], data["scores"]
                self._df = dict(zip(_unpack(data["words"]), data["word_df"].tolist(), strict=True))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise IndexLoadError(f"{path}: unreadable keyword index ({exc})") from exc
        consistent = (
            len(self._indptr) == len(self._terms) + 1
            and int(self._indptr[-1]) == len(self._docs) == len(self._scores)
            and (not len(self._docs) or int(self._docs.max()) < passages)
        )
        if stored != passages or not consistent:
            raise IndexLoadError(f"{path}: keyword index does not match the build's {passages} passages")
        self.passages = passages

    def document_frequency(self, word: str) -> int:
        """How many passages say `word` (unstemmed), 0 when none does."""
        return self._df.get(word, 0)

    @functools.cached_property
    def _by_sound(self) -> dict[str, list[str]]:
        sounds: dict[str, list[str]] = defaultdict(list)
        for word in self._df:
            if len(word) >= 3 and any(c.isalpha() for c in word):
                sounds[soundex(word)].append(word)
        return sounds

    def sounding_like(self, word: str) -> list[str]:
        return self._by_sound.get(soundex(word), [])

    def search(
        self, question: str, k: int, *, fuzzy: bool = True, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """(passage id, BM25 score) of the `k` best matches, best first; `allowed` is a boolean mask."""
        rows = self._rows(question, fuzzy)
        if not rows or k <= 0:
            return []
        total = np.zeros(self.passages, dtype=np.float32)
        for row in rows:
            span = slice(self._indptr[row], self._indptr[row + 1])
            total[self._docs[span]] += self._scores[span]  # a term lists each passage once
        if allowed is not None:
            total[~allowed] = 0.0
        found = np.flatnonzero(total)
        if len(found) > k:
            found = found[np.argpartition(-total[found], k - 1)[:k]]
        found = found[np.argsort(-total[found], kind="stable")]
        return [(int(i), float(total[i])) for i in found]

    def episode_scores(
        self, question: str, passages: np.ndarray, episode_of: np.ndarray, *, fuzzy: bool = True
    ) -> np.ndarray:
        """BM25 of `passages` with each word's IDF counted among the passages of the passage's own episode.

        The index's IDF finds the episode; inside it, the episode's own subject is in every passage and says
        nothing about which moment answers ("pydantic" in the Pydantic episode), while the words rare there do
        ("raspberry pi"). `episode_of` maps every passage id of the index to its episode.
        """
        total = np.zeros(len(passages), dtype=np.float32)
        sizes = np.bincount(episode_of)
        episodes = episode_of[passages]
        for row in self._rows(question, fuzzy):
            docs = self._docs[self._indptr[row] : self._indptr[row + 1]]  # ascending passage ids
            at = np.minimum(np.searchsorted(docs, passages), len(docs) - 1)
            found = docs[at] == passages
            if not found.any():
                continue
            saturated = self._scores[self._indptr[row] + at[found]] / _idf(self.passages, len(docs))
            said_in = np.bincount(episode_of[docs], minlength=len(sizes))
            mine = episodes[found]
            total[found] += saturated * _idf(sizes[mine], said_in[mine])
        return total

    def _rows(self, question: str, fuzzy: bool) -> set[int]:
        """Posting rows of the question's words, with their likely ASR spellings when `fuzzy`."""
        terms = query_terms(question)
        if fuzzy:
            terms += [v for t in list(terms) for v in spelling_variants(self, t) if v not in terms]
        return {self._terms[s] for s in stems(terms) if s in self._terms}


def _idf(passages: float | np.ndarray, said_in: float | np.ndarray) -> np.ndarray:
    """FTS5's IDF, clamped above zero as it does: a word in more than half the passages counts for almost nothing."""
    return np.maximum(np.log((passages - said_in + 0.5) / (said_in + 0.5)), 1e-6)


def spelling_variants(index: KeywordIndex, term: str) -> list[str]:
    """Likely transcript spellings of `term` that the index uses, at most MAX_VARIANTS.

    Only names and jargon are expanded (ordinary words are transcribed fine, and their neighbours are other
    words: bunch/hunch), and only to rare, non-dictionary index words one edit away, or two when they sound
    the same (Soundex); never to inflections of the term.
    """
    if len(term) < 5 or not term.isalpha() or term in common_words():
        return []
    own = index.document_frequency(term)
    one_edit = {w for w in edits1(term) if index.document_frequency(w)}
    same_sound = set(index.sounding_like(term))
    variants = []
    for candidate in one_edit | same_sound:
        if not candidate.isalpha() or candidate.startswith(term) or term.startswith(candidate):
            continue  # the term itself, or an inflection (which the stemmer matches anyway)
        if own and candidate in common_words():
            continue  # a dictionary word near a known term is a word of its own, not its misspelling
        close = candidate in one_edit or (len(term) >= 7 and edit_distance(candidate, term, 2) <= 2)
        df = index.document_frequency(candidate)
        if close and (own == 0 or (df <= MAX_VARIANT_DF and df < own)):
            variants.append((df, candidate))
    # A term absent from the index is a typo: its most used spelling first; otherwise the rarest variants.
    variants.sort(reverse=own == 0)
    return [candidate for _, candidate in variants[:MAX_VARIANTS]]


def _pack(strings: Sequence[str]) -> np.ndarray:
    """Strings as one UTF-8 byte array (newline-separated): compact, and loadable without pickle."""
    return np.frombuffer("\n".join(strings).encode(), dtype=np.uint8)


def _unpack(packed: np.ndarray) -> list[str]:
    text = packed.tobytes().decode()
    return text.split("\n") if text else []
