"""Search a published index: the question's best passages, merged, filtered, quoted and linked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

from index.build import KEYWORDS_FILE, SENTENCES_FILE, STORE_FILE, VECTORS_FILE
from index.cards import EpisodeCard, episode_card
from index.embedding import Embedder
from index.errors import IndexLoadError
from index.fusion import keyword_bonus, reciprocal_rank
from index.keyword import KeywordIndex
from index.layout import IndexLayout
from index.links import deep_link
from index.manifest import Manifest
from index.models import Hit, Sentence
from index.phrases import PhraseReport, find_phrase
from index.quotes import best_window, sentence_scores
from index.references import split_reference, split_show
from index.store import ChunkRow, EpisodeRow, Store
from index.vectors import load_vector_index, search_vectors

CANDIDATES = 50  # passages fetched from each retriever before fusing, merging and paging
Mode = Literal["dense", "keyword", "hybrid", "rrf"]


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """Ranking knobs, chosen by measurement (docs/retrieval.md); scripts/evaluate.py varies them for ablations."""

    keyword_weight: float = 0.1  # hybrid: dense cosine + keyword_weight * BM25 relative to the query's best
    fuzzy: bool = True  # also match likely ASR spellings of query words (index.keyword)
    boilerplate_penalty: float = 0.2  # subtracted from sponsor reads, intros and outros
    reference_boost: float = 0.2  # added to passages of the episode a question names ("in the docker episode, …")
    episode_contrast: float = 0.075  # hybrid: orders moments by BM25 with IDF counted inside their episode (see below)


MAX_MERGED_SECONDS = 180.0
REFERENCE_MARGIN = 0.02  # episodes scoring this close to the best match of a reference count as named too


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[Hit]
    has_more: bool
    top_score: float | None = None  # the best passage's score, even under the floor: how near a miss came


@dataclass(frozen=True, slots=True)
class Filters:
    """Optional restrictions; dates are ISO `YYYY-MM-DD` and inclusive. `podcasts` are feed titles: any of them
    (a channel of a podcast network's server may cover several shows)."""

    podcasts: tuple[str, ...] = ()
    episode: str | None = None  # episode id
    speaker: str | None = None
    after: str | None = None
    before: str | None = None

    def __bool__(self) -> bool:
        return any((self.podcasts, self.episode, self.speaker, self.after, self.before))


class Searcher:
    """One loaded build: vectors in memory, metadata in SQLite, the embedder for questions."""

    def __init__(
        self,
        build_dir: Path,
        embedder: Embedder,
        *,
        link_template: str | None = None,
        options: SearchOptions | None = None,
    ) -> None:
        manifest = Manifest.read(build_dir)
        manifest.check_model(embedder.model_id, embedder.backend)
        manifest.verify_files(build_dir)
        self.build_dir = build_dir
        self.manifest = manifest
        self.embedder = embedder
        self.link_template = link_template
        self.options = options or SearchOptions()
        self.store = Store(build_dir / STORE_FILE)
        try:
            self.vectors = load_vector_index(
                build_dir / VECTORS_FILE, dimension=manifest.dimension, count=manifest.counts["chunks"]
            )
            self.sentence_vectors = load_sentence_vectors(
                build_dir / SENTENCES_FILE, dimension=manifest.dimension, count=manifest.counts["sentences"]
            )
            self.keywords = KeywordIndex(build_dir / KEYWORDS_FILE, passages=manifest.counts["chunks"])
        except BaseException:  # a build refused halfway must not keep its database open
            self.store.close()
            raise

    @classmethod
    def open(
        cls,
        index_dir: Path,
        embedder: Embedder,
        *,
        link_template: str | None = None,
        options: SearchOptions | None = None,
    ) -> Searcher:
        """The live build of `index_dir` (see index.layout). Raises IndexLoadError / IndexMismatchError."""
        return cls(IndexLayout(index_dir).current(), embedder, link_template=link_template, options=options)

    @property
    def build_id(self) -> str:
        return self.manifest.build_id

    def search(
        self,
        question: str,
        *,
        k: int = 5,
        offset: int = 0,
        filters: Filters | None = None,
        min_score: float | None = None,
        mode: Mode = "hybrid",
        quotes: bool = True,
    ) -> list[Hit]:
        """The `k` best passages after the first `offset`, best first; overlapping neighbours are merged.

        Passages scoring under `min_score` are left out: no answer is better than a wrong one.
        """
        return self.search_page(
            question, k=k, offset=offset, filters=filters, min_score=min_score, mode=mode, quotes=quotes
        ).hits

    def search_page(
        self,
        question: str,
        *,
        k: int = 5,
        offset: int = 0,
        filters: Filters | None = None,
        min_score: float | None = None,
        mode: Mode = "hybrid",
        quotes: bool = True,
        query: np.ndarray | None = None,
        exclude: Sequence[tuple[str, float, float]] = (),
    ) -> SearchPage:
        """Like `search`, and also whether answers beyond this page exist (for a More button).

        `query` is the question's vector when the caller embedded it already (`embed_question`). `exclude` holds
        moments shown already, as (episode id, start, end): passages overlapping one are left out of every page
        (a narrower search of a question must not show its first answers again).
        """
        question = " ".join(question.split())
        if not question:
            return SearchPage([], False)
        if query is None:
            query = self.embed_question(question)
        reference, rest = split_reference(question)
        words, named = question, set()
        if reference and self.options.reference_boost and mode == "hybrid":
            words = rest  # the episode's name says nothing about which of its moments answers
            show, reference = split_show(reference, (filters and filters.podcasts) or self.store.podcasts)
            if show is not None:  # "on django chat, …" is a filter the listener asked for, not a guess
                filters = replace(filters or Filters(), podcasts=(show,))
        allowed = self._allowed_chunks(filters) if filters else None
        if allowed is not None and not len(allowed):
            return SearchPage([], False)
        # The pool must not depend on `offset`: fused and merged from more candidates, page 4 would be cut from
        # another ranking than page 3 and show again a moment page 3 showed. Paging ends when the pool does.
        wanted = max(CANDIDATES, 4 * (k + 1))
        ranked = self._rank(question, query, wanted, allowed, mode)
        lifted: set[int] = set()
        if reference and self.options.reference_boost and mode == "hybrid":  # not when it was only a show's name
            ranked, named, lifted = self._favour_named_episode(reference, rest, query, wanted, allowed, ranked)
        penalty = self.options.boilerplate_penalty
        rows = [self.store.chunk(i) for i, _ in ranked]
        scores = [score - penalty * row.boilerplate for row, (_, score) in zip(rows, ranked, strict=True)]
        order = np.asarray(scores, dtype=np.float64)
        order += [self.options.reference_boost * (row.id in lifted) for row in rows]  # the order only, as below
        if mode == "hybrid" and self.options.episode_contrast and rows:
            contrast = self._episode_contrast(words, rows)
            if named:  # the moment is looked for in the episode the question names, not lifted out of others
                contrast[[row.episode.id not in named for row in rows]] = 0.0
            order += contrast
        ranking = np.argsort(-order, kind="stable")
        passages = merge_overlapping([_Passage.of(rows[i], scores[i]) for i in ranking])
        top_score = max((p.score for p in passages), default=None)
        if min_score is not None:
            passages = [p for p in passages if p.score >= min_score]
        if exclude:
            passages = [p for p in passages if not any(
                key == p.episode.key and start < p.end and p.start < end for key, start, end in exclude
            )]  # fmt: skip
        page = passages[offset : offset + k]
        texts = self.store.sentences([(p.first_sentence, p.last_sentence) for p in page])
        hits = [self._hit(p, sentences) for p, sentences in zip(page, texts, strict=True)]
        if quotes:
            self._add_quotes(question, query, page, hits, speaker=filters.speaker if filters else None)
        for passage, hit in zip(page, hits, strict=True):
            self._add_chapter(passage.episode, hit)
        return SearchPage(hits, len(passages) > offset + k, top_score)

    def _favour_named_episode(
        self,
        reference: str,
        rest: str,
        query: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        ranked: list[tuple[int, float]],
    ) -> tuple[list[tuple[int, float]], set[int], set[int]]:
        """`ranked` with the named episode's best passages added, the ids of the episodes taken as named, and the
        passages to lift by `reference_boost`: in the order, not in the score, which stays a similarity (it is
        shown, and judged by the floor).

        The episode is the one whose passages match the reference best ("james webb" → the JWST episode; the
        title is embedded with every passage), with any within REFERENCE_MARGIN of it: a soft filter, so a
        reference that names no episode costs little.
        """
        table = self.store.table
        best_of: dict[int, float] = {}
        vector = self.embedder.embed([reference])[0]
        for chunk_id, score in self._rank(reference, vector, CANDIDATES, allowed, "hybrid"):
            episode = int(table.episode[chunk_id])
            best_of[episode] = max(best_of.get(episode, score), score)
        if not best_of:
            return ranked, set(), set()
        best = max(best_of.values())
        named = {episode for episode, score in best_of.items() if score >= best - REFERENCE_MARGIN}
        inside = np.flatnonzero(np.isin(table.episode, list(named)))
        if allowed is not None:
            inside = np.intersect1d(inside, allowed)
        scores = dict(ranked)
        lifted = set()
        for chunk_id, score in self._rank(rest, query, k, inside, "hybrid"):
            scores[chunk_id] = max(scores.get(chunk_id, score), score)
            lifted.add(chunk_id)
        boost = self.options.reference_boost
        ordered = sorted(scores.items(), key=lambda item: item[1] + boost * (item[0] in lifted), reverse=True)
        return ordered, named, lifted

    def _episode_contrast(self, question: str, rows: Sequence[ChunkRow]) -> np.ndarray:
        """`episode_contrast` times each passage's episode-local BM25 (KeywordIndex.episode_scores), relative to
        the best: it orders the moments of an episode by the words that set them apart, and stays out of the
        scores the floor judges, so it never makes an off-topic question look answered (docs/retrieval.md).
        Sponsor reads get none: what sets them apart from their episode is the sponsor."""
        ids = np.array([row.id for row in rows], dtype=np.int64)
        local = self.keywords.episode_scores(question, ids, self.store.table.episode, fuzzy=self.options.fuzzy)
        local[[row.boilerplate for row in rows]] = 0.0
        best = float(local.max())
        return self.options.episode_contrast * local / best if best > 0 else local

    def embed_question(self, question: str) -> np.ndarray:
        question = " ".join(question.split())
        if self.options.reference_boost:
            question = split_reference(question)[1]  # the episode it names is found apart: _favour_named_episode
        return self.embedder.embed([question])[0]

    def find_phrase(
        self, phrase: str, *, limit: int = 50, episode: str | None = None, podcasts: Sequence[str] = ()
    ) -> PhraseReport:
        """Every time `phrase` was said (see index.phrases)."""
        return find_phrase(
            self.store, phrase, link_template=self.link_template, limit=limit, episode=episode, podcasts=podcasts
        )

    def episode_card(self, episode: EpisodeRow, *, podcasts: Sequence[str] = ()) -> EpisodeCard:
        """The episode's chapters and related episodes (those of `podcasts` only, when given), with links."""
        return episode_card(self.store, episode, self._link, podcasts=podcasts)

    def close(self) -> None:
        self.store.close()

    def _rank(
        self, question: str, query: np.ndarray, k: int, allowed: np.ndarray | None, mode: Mode
    ) -> list[tuple[int, float]]:
        """(chunk id, score) candidates, best first, from one retriever or both fused."""
        if mode == "dense":
            return self._dense(query, k, allowed)
        mask = None
        if allowed is not None:
            mask = np.zeros(self.keywords.passages, dtype=bool)
            mask[allowed] = True
        keyword = self.keywords.search(question, k, fuzzy=self.options.fuzzy, allowed=mask)
        if mode == "keyword":
            return keyword
        dense = self._dense(query, k, allowed)
        if mode == "rrf":
            return reciprocal_rank([[i for i, _ in dense], [i for i, _ in keyword]])
        cosines = dict(dense)
        missing = [i for i, _ in keyword if i not in cosines]
        cosines.update(zip(missing, self._cosines(query, missing), strict=True))
        return keyword_bonus(cosines, dict(keyword), self.options.keyword_weight)

    def _cosines(self, query: np.ndarray, ids: Sequence[int]) -> list[float]:
        if not ids:
            return []
        vectors = self.vectors.reconstruct_batch(np.asarray(ids, dtype=np.int64))
        return [float(v) for v in vectors @ query]

    def _dense(self, query: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        # One question at a time gains nothing from FAISS's OpenMP threads, and their spin-waiting after each search
        # takes the cores from the embedding model: single-threaded, an answer is 25-40 % faster (benchmarks.md).
        # The setting is per thread, and searches run in the bot's worker threads, so it is made here, per search.
        faiss.omp_set_num_threads(1)
        return search_vectors(self.vectors, query, k, allowed=allowed)

    def _allowed_chunks(self, filters: Filters) -> np.ndarray:
        """Ids of the passages the filters let through: episode conditions in memory, speakers in SQLite."""
        episodes = [
            e.id
            for e in self.store.episodes
            if (not filters.podcasts or e.podcast in filters.podcasts)
            and (not filters.episode or e.key == filters.episode)
            and (not filters.after or (e.published or "") >= filters.after)
            and (not filters.before or (e.published or "9999") <= filters.before)
        ]
        allowed = np.flatnonzero(np.isin(self.store.table.episode, episodes))
        if filters.speaker and len(allowed):
            escaped = filters.speaker.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = self.store.query("SELECT id FROM chunks WHERE speakers LIKE ? ESCAPE '\\'", [f"%{escaped}%"])
            allowed = np.intersect1d(allowed, np.array([r[0] for r in rows], dtype=np.int64))
        return allowed

    def _hit(self, passage: _Passage, sentences: Sequence[Sentence]) -> Hit:
        episode = passage.episode
        return Hit(
            chunk_id=passage.chunk_id,
            episode_id=episode.key,
            episode_title=episode.title,
            podcast=episode.podcast,
            source_file=episode.source_file,
            start=passage.start,
            end=passage.end,
            url=self._link(episode, passage.start),
            score=passage.score,
            sentences=list(sentences),
            episode_link=episode.link,
            episode_number=episode.number,
            published=episode.published,
            boilerplate=passage.boilerplate,
            origin="machine" if episode.origin == "machine" else "published",
        )

    def _add_chapter(self, episode: EpisodeRow, hit: Hit) -> None:
        """Name the chapter the quote is in, with a link to where that chapter starts."""
        chapter = self.store.chapter_at(episode, hit.quote_start)
        if chapter is not None:
            hit.chapter, hit.chapter_start, hit.chapter_auto = chapter.title, chapter.start, chapter.auto
            hit.chapter_url = self._link(episode, chapter.start)

    def _link(self, episode: EpisodeRow, seconds: float) -> str | None:
        return deep_link(episode.link, seconds, episode.link_template or self.link_template)

    def _add_quotes(
        self, question: str, query: np.ndarray, page: Sequence[_Passage], hits: list[Hit], *, speaker: str | None
    ) -> None:
        """Choose each hit's quote and link to it.

        Candidates are the sentences of the passage's best-ranked chunk (merged neighbours only add context),
        scored with the sentence vectors stored at build time: a dot product each, no model call. With a
        speaker filter, only that speaker's sentences are quoted: the passage was chosen for them.
        """
        for passage, hit in zip(page, hits, strict=True):
            a, b = passage.best_first - passage.first_sentence, passage.best_last - passage.first_sentence + 1
            candidates = hit.sentences[a:b]
            if not candidates:
                continue
            own = np.asarray(self.sentence_vectors[passage.best_first : passage.best_last + 1], dtype=np.float32)
            words = [s.text for s in candidates]
            scores = sentence_scores(question, query, words, own)
            if speaker:
                theirs = np.array([speaker.casefold() in (s.speaker or "").casefold() for s in candidates])
                if theirs.any():  # the same match as the filter's (case-insensitive, part of the name)
                    scores = np.where(theirs, scores, -np.inf)
            first, last = best_window(scores, words, [s.speaker for s in candidates])
            hit.quote_first, hit.quote_last = a + first, a + last
            hit.url = self._link(passage.episode, hit.quote_start)


def load_sentence_vectors(path: Path, *, dimension: int, count: int) -> np.ndarray:
    """The build's sentence vectors, memory-mapped (read-only, shared by every search thread)."""
    try:
        vectors = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise IndexLoadError(f"{path}: unreadable sentence vectors ({exc})") from exc
    if vectors.shape != (count, dimension) or vectors.dtype != np.float16:
        raise IndexLoadError(f"{path}: holds {vectors.shape} {vectors.dtype} vectors, not {count} x {dimension}")
    return vectors


@dataclass(slots=True)
class _Passage:
    """A span of one episode's sentences, as ranked: a chunk, or overlapping chunks merged."""

    chunk_id: int
    episode: EpisodeRow
    first_sentence: int
    last_sentence: int
    start: float
    end: float
    score: float
    best_first: int  # the best-ranked chunk's sentences: where the quote is looked for
    best_last: int
    boilerplate: bool

    @classmethod
    def of(cls, row: ChunkRow, score: float) -> _Passage:
        return cls(
            row.id,
            row.episode,
            row.first_sentence,
            row.last_sentence,
            row.start,
            row.end,
            score,
            row.first_sentence,
            row.last_sentence,
            row.boilerplate,
        )


def merge_overlapping(ranked: Sequence[_Passage]) -> list[_Passage]:
    """Fold passages of one episode that overlap or touch into the best-ranked of them, keeping its rank.

    A merge that would span more than MAX_MERGED_SECONDS drops the newcomer instead. Kept passages never
    overlap, so the union of a newcomer with everything it touches is one contiguous span.
    """
    kept: list[_Passage] = []
    for passage in ranked:
        touching = [
            other
            for other in kept
            if other.episode.id == passage.episode.id
            and passage.first_sentence <= other.last_sentence + 1
            and other.first_sentence <= passage.last_sentence + 1
        ]
        if not touching:
            kept.append(passage)
            continue
        target = touching[0]
        group = [target, passage, *touching[1:]]
        if max(p.end for p in group) - min(p.start for p in group) > MAX_MERGED_SECONDS:
            continue  # a better passage already covers this moment; growing it further would blur the answer
        for other in group[1:]:
            target.first_sentence = min(target.first_sentence, other.first_sentence)
            target.last_sentence = max(target.last_sentence, other.last_sentence)
            target.start = min(target.start, other.start)
            target.end = max(target.end, other.end)
        kept = [k for k in kept if not any(k is other for other in touching[1:])]
    return kept
