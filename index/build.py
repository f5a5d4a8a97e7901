"""Build an index: episodes in, a published index directory out.

Every episode is parsed and chunked first (a bad transcript is skipped and reported, the rest goes on), then
passages are embedded through the embedding cache (with their sentences' vectors, pooled from the same forward
pass, for choosing quotes), episodes without published chapters get automatic ones (index.topics) and every
episode its related ones (index.related), and the SQLite store, FAISS vectors, sentence vectors and manifest are
written into a staging directory that is published atomically.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index.boilerplate import flag_boilerplate
from index.chapters import clean_chapters
from index.chunking import ChunkerSettings, chunk_sentences, split_sentences
from index.embedding import Embedder, PassageText
from index.embedding_cache import EmbeddingCache
from index.episodes import scoped_ids
from index.errors import ChaptersError, DownloadError, PodcastIndexError, TranscriptError
from index.keyword import KeywordIndexWriter
from index.layout import IndexLayout
from index.manifest import Manifest
from index.models import Chapter, Chunk, Episode, Sentence
from index.parsing import parse_transcript
from index.related import Related, related_episodes, unit_mean
from index.store import StoreWriter
from index.topics import Rarity, TopicSettings, auto_chapters
from index.vectors import APPROXIMATE_ABOVE, build_vector_index, index_type, save_vector_index
from index.wording import plural

log = logging.getLogger(__name__)

VECTORS_FILE = "vectors.faiss"
STORE_FILE = "meta.sqlite"
SENTENCES_FILE = "sentences.npy"  # one float16 vector per sentence, in sentence id order
KEYWORDS_FILE = "keywords.npz"  # BM25 postings (index.keyword)


@dataclass(frozen=True, slots=True)
class Skipped:
    source: str
    reason: str


@dataclass
class BuildReport:
    out: Path
    build_id: str
    episodes: int
    sentences: int
    chunks: int
    embedded: int  # passages embedded by this build
    reused: int  # passages whose vectors came from the cache
    boilerplate: int  # passages flagged as sponsor reads, intros, outros
    seconds: float
    skipped: list[Skipped] = field(default_factory=list)
    chapters: dict[str, int] = field(default_factory=dict)  # episodes with "published" / "automatic" chapters
    chapter_problems: list[Skipped] = field(default_factory=list)  # chapter files left out (episode indexed)

    def summary(self) -> str:
        lines = [
            f"Published {self.out} (build {self.build_id}) in {self.seconds:.1f} s:",
            f"  {plural(self.episodes, 'episode')}, {plural(self.sentences, 'sentence')},"
            f" {plural(self.chunks, 'passage')}",
            f"  {plural(self.embedded, 'passage')} embedded, {self.reused:,} reused from the cache",
            f"  {plural(self.boilerplate, 'passage')} flagged as boilerplate (sponsor reads, intros, outros)",
            f"  chapters: {self.chapters.get('published', 0):,} episodes published theirs,"
            f" {self.chapters.get('automatic', 0):,} got automatic ones",
        ]
        if self.chapter_problems:
            lines.append(f"  {len(self.chapter_problems)} chapter files left out (their episodes are indexed):")
            lines += [f"    {s.source}: {s.reason}" for s in self.chapter_problems]
        if self.skipped:
            lines.append(f"  {len(self.skipped)} skipped:")
            lines += [f"    {s.source}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


class BuildProgress:
    """What a maintainer watching a build sees on stderr: one line per phase, then one bar over every passage
    the build embeds, with its rate and ETA (a cold build of a big feed takes a while)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: tqdm | None = None

    def say(self, line: str) -> None:
        if self.enabled:
            print(line, file=sys.stderr, flush=True)

    def start_embedding(self, total: int) -> None:
        if self.enabled and total:
            self._bar = tqdm(total=total, unit="passage", desc="Embedding", smoothing=0.05, file=sys.stderr)

    def embedded(self, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@dataclass
class PreparedEpisode:
    episode: Episode
    transcript_format: str
    duration: float
    sentences: list[Sentence]
    chunks: list[Chunk] = field(default_factory=list)
    chapters: list[Chapter] = field(default_factory=list)  # published; automatic ones are added after embedding


def prepare_episode(episode: Episode, data: bytes) -> PreparedEpisode:
    """Parse one transcript into timed sentences. Raises TranscriptError for a transcript we cannot read."""
    hint = episode.format_hint
    transcript = parse_transcript(data, episode.source_file, hint=hint)
    sentences = split_sentences(transcript.segments, transcript.duration)
    if not sentences:
        raise TranscriptError(episode.source_file, "no text to index")
    duration = max(transcript.duration, sentences[-1].end)
    return PreparedEpisode(episode, transcript.format, duration, sentences)


def published_chapters(
    item: PreparedEpisode,
    read: Callable[[Episode], tuple[list[Chapter], list[str]]],
    problems: list[Skipped],
) -> list[Chapter]:
    """The episode's published chapters, fitted to its length; what could not be used goes to `problems`."""
    source = item.episode.chapters_url or item.episode.transcript
    try:
        chapters, skipped = read(item.episode)
        problems += [Skipped(item.episode.title, reason) for reason in skipped]
        return clean_chapters(chapters, item.duration, source) if chapters else []
    except (ChaptersError, DownloadError) as exc:
        problems.append(Skipped(item.episode.title, f"chapters skipped: {exc}"))
        return []


def add_auto_chapters(
    prepared: Sequence[PreparedEpisode],
    sentences: np.ndarray,
    embed: Callable[[list[str]], np.ndarray],
    topics: TopicSettings,
) -> int:
    """Automatic chapters (index.topics) for every episode that publishes none; returns how many got them."""
    automatic, first = 0, 0
    rarity = Rarity.of([item.sentences for item in prepared])
    for item in prepared:
        own = np.asarray(sentences[first : first + len(item.sentences)], dtype=np.float32)
        first += len(item.sentences)
        if not item.chapters:
            item.chapters = auto_chapters(item.sentences, own, embed, rarity, topics)
            automatic += 1
    return automatic


def related_by_content(
    prepared: Sequence[PreparedEpisode], vectors: np.ndarray, sentences: np.ndarray
) -> list[list[Related]]:
    """Each episode's nearest others (index.related), from what was embedded, boilerplate left out."""
    episodes, chapters = [], []
    chunk, first = 0, 0
    for item in prepared:
        content = [chunk + i for i, c in enumerate(item.chunks) if not c.boilerplate]
        episodes.append(unit_mean(vectors[content]))
        spoken = {id(s) for c in item.chunks if not c.boilerplate for s in c.sentences}
        starts = [c.start for c in item.chapters] + [float("inf")]
        own = []
        for begin, end in itertools.pairwise(starts):
            rows = [first + i for i, s in enumerate(item.sentences) if begin <= s.start < end and id(s) in spoken]
            own.append(unit_mean(np.asarray(sentences[rows], dtype=np.float32)))
        chapters.append(own)
        chunk += len(item.chunks)
        first += len(item.sentences)
    return related_episodes(episodes, chapters)


def chunk_episodes(prepared: Sequence[PreparedEpisode], chunker: ChunkerSettings) -> None:
    """Cut every episode into passages, keeping boilerplate (recurring across episodes) in passages of its own."""
    flags = flag_boilerplate([[s.text for s in item.sentences] for item in prepared])
    for item, episode_flags in zip(prepared, flags, strict=True):
        item.chunks = chunk_sentences(item.episode.episode_id, item.sentences, chunker, episode_flags)


def passage_text(chunk: Chunk, episode: Episode, chunker: ChunkerSettings) -> PassageText:
    """What is embedded for a passage: with the show and episode title in front when configured, so "the AMA
    episode" or "on Django Chat" in a question can match passages that never say it."""
    header = f"{episode.podcast}: {episode.title}. " if chunker.title_header else ""
    return PassageText(header, [s.text for s in chunk.sentences])


def sentence_vectors(
    prepared: Sequence[PreparedEpisode], per_chunk: Sequence[np.ndarray], embedder: Embedder
) -> np.ndarray:
    """One vector per sentence of the build (in store order): the mean of what the passages holding it pooled.

    A sentence past the model's token limit in every passage that holds it (a very long one at a passage's
    end) is embedded on its own instead.
    """
    offsets, total = {}, 0
    for item in prepared:
        offsets.update({id(s): total + i for i, s in enumerate(item.sentences)})
        total += len(item.sentences)
    sums = np.zeros((total, embedder.dimension), dtype=np.float32)
    chunks = [c for item in prepared for c in item.chunks]
    for chunk, vectors in zip(chunks, per_chunk, strict=True):
        sums[[offsets[id(s)] for s in chunk.sentences]] += vectors
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    np.divide(sums, norms, out=sums, where=norms > 0)
    if len(alone := np.flatnonzero(norms[:, 0] == 0)):
        texts = [s.text for item in prepared for s in item.sentences]
        sums[alone] = embedder.embed([texts[i] for i in alone])
    return sums.astype(np.float16)


def build_index(
    episodes: Sequence[Episode],
    out: Path,
    *,
    embedder: Embedder,
    chunker: ChunkerSettings,
    read: Callable[[Episode], bytes],
    cache_dir: Path,
    skipped: Sequence[Skipped] = (),
    approximate_above: int = APPROXIMATE_ABOVE,
    progress: bool = False,
    describe_reads: Callable[[], str] | None = None,
    read_chapters: Callable[[Episode], tuple[list[Chapter], list[str]]] | None = None,
) -> BuildReport:
    """Index `episodes` into `out` and publish it. Raises PodcastIndexError when nothing could be indexed.

    `read` returns an episode's transcript bytes (from disk or the download cache); `skipped` carries what the
    caller already had to leave out (items without transcripts), so one report lists everything. With
    `progress`, phase lines and one embedding bar go to stderr; `describe_reads` adds where the transcripts
    came from (e.g. "3 downloaded, 98 not modified") to the line that ends the reading phase. `read_chapters`
    returns an episode's published chapters and why any chapter source was left out (index.sources); episodes
    without any get automatic chapters (index.topics).
    """
    began = time.perf_counter()
    layout = IndexLayout(out)
    report_skipped = list(skipped)
    chapter_problems: list[Skipped] = []
    shown = BuildProgress(progress)
    with layout.lock():
        prepared: list[PreparedEpisode] = []
        seen: set[str] = set()
        for episode in scoped_ids(episodes):
            try:
                item = prepare_episode(episode, read(episode))
            except (TranscriptError, DownloadError) as exc:
                report_skipped.append(Skipped(episode.transcript, str(exc)))
                log.warning("skipped %s", exc)
                continue
            except OSError as exc:
                report_skipped.append(Skipped(episode.transcript, f"cannot read: {exc.strerror or exc}"))
                continue
            if item.episode.episode_id in seen:
                report_skipped.append(Skipped(episode.transcript, f"duplicate episode id {episode.episode_id}"))
                continue
            seen.add(item.episode.episode_id)
            if read_chapters is not None:
                item.chapters = published_chapters(item, read_chapters, chapter_problems)
            prepared.append(item)
        sources = f" ({where})" if describe_reads and (where := describe_reads()) else ""
        failed = len(report_skipped) - len(skipped)
        shown.say(
            f"Transcripts: {plural(len(prepared), 'episode')} read in {time.perf_counter() - began:.1f} s{sources}"
            + (f", {failed:,} could not be used" if failed else "")
        )
        if not prepared:
            raise PodcastIndexError(
                "nothing could be indexed: " + "; ".join(f"{s.source}: {s.reason}" for s in report_skipped[:5])
                if report_skipped
                else "nothing could be indexed: no episodes given"
            )

        chunk_episodes(prepared, chunker)
        passages = [passage_text(c, item.episode, chunker) for item in prepared for c in item.chunks]
        cache = EmbeddingCache(
            cache_dir / "embeddings.sqlite",
            model_id=embedder.model_id,
            backend=embedder.backend,
            chunker=chunker.as_dict(),
        )

        def start(todo: int) -> None:
            shown.say(
                f"Passages: {plural(len(passages), 'passage')} in {plural(len(prepared), 'episode')};"
                f" {todo:,} to embed, {len(passages) - todo:,} reused from the cache"
            )
            shown.start_embedding(todo)

        try:
            vectors, per_chunk, embedded = cache.embed(
                passages,
                embedder.embed_passages,
                dimension=embedder.dimension,
                on_missing=start,
                on_batch=shown.embedded,
            )
            shown.close()
            sentences = sentence_vectors(prepared, per_chunk, embedder)
            began_chapters = time.perf_counter()

            # Key phrases do not depend on how passages are cut: their vectors outlive a change of chunking.
            phrase_cache = EmbeddingCache(
                cache_dir / "embeddings.sqlite", model_id=embedder.model_id, backend=embedder.backend, chunker={}
            )

            def embed_phrases(texts: list[str]) -> np.ndarray:
                phrases = [PassageText("", [t]) for t in texts]
                return phrase_cache.embed(phrases, embedder.embed_passages, dimension=embedder.dimension)[0]

            try:
                automatic = add_auto_chapters(prepared, sentences, embed_phrases, TopicSettings())
            finally:
                phrase_cache.close()
            cache.prune()
        finally:
            shown.close()
            cache.close()
        shown.say(
            f"Chapters: {len(prepared) - automatic:,} episodes publish theirs, {automatic:,} got automatic ones"
            f" ({time.perf_counter() - began_chapters:.1f} s)"
        )
        related = related_by_content(prepared, vectors, sentences)
        shown.say("Writing the index…")
        with layout.staging() as staged:
            build_id = staged.build_id
            _write_build(
                staged.path, build_id, prepared, vectors, sentences, related, embedder, chunker, approximate_above
            )
        return BuildReport(
            out=out,
            build_id=build_id,
            episodes=len(prepared),
            sentences=sum(len(p.sentences) for p in prepared),
            chunks=len(passages),
            embedded=embedded,
            reused=len(passages) - embedded,
            boilerplate=sum(c.boilerplate for item in prepared for c in item.chunks),
            seconds=time.perf_counter() - began,
            skipped=report_skipped,
            chapters={"published": len(prepared) - automatic, "automatic": automatic},
            chapter_problems=chapter_problems,
        )


def _write_build(
    directory: Path,
    build_id: str,
    prepared: Sequence[PreparedEpisode],
    vectors: np.ndarray,
    sentences: np.ndarray,
    related: list[list[Related]],
    embedder: Embedder,
    chunker: ChunkerSettings,
    approximate_above: int,
) -> None:
    writer, keywords = StoreWriter(directory / STORE_FILE), KeywordIndexWriter()
    for item in prepared:
        ids = writer.add_episode(
            item.episode,
            transcript_format=item.transcript_format,
            duration=item.duration,
            sentences=item.sentences,
            chunks=item.chunks,
            chapters=item.chapters,
        )
        starts = [c.start for c in item.chapters]
        for chunk_id, chunk in zip(ids, item.chunks, strict=True):
            # The title field also holds the passage's chapter title: measured in docs/retrieval.md.
            at = bisect.bisect_right(starts, chunk.start) - 1
            title = f"{item.episode.title} {item.chapters[at].title}" if at >= 0 else item.episode.title
            keywords.add(chunk_id, chunk.text, chunk.speakers, title)
    writer.add_related(related)
    writer.close()
    keywords.save(directory / KEYWORDS_FILE)
    index = build_vector_index(vectors, approximate_above=approximate_above)
    save_vector_index(index, directory / VECTORS_FILE)
    np.save(directory / SENTENCES_FILE, sentences)
    Manifest(
        build_id=build_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        model=embedder.model_id,
        backend=embedder.backend,
        dimension=embedder.dimension,
        chunker=chunker.as_dict(),
        index_type=index_type(index),
        counts={
            "episodes": len(prepared),
            "sentences": sum(len(p.sentences) for p in prepared),
            "chunks": len(vectors),
            "boilerplate": sum(c.boilerplate for p in prepared for c in p.chunks),
        },
        podcasts=sorted({p.episode.podcast for p in prepared}),
    ).write(directory)
