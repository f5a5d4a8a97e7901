"""Automatic chapters for episodes that publish none: where the talk changes subject, and a few of its words.

Segmentation is TextTiling on the sentence vectors the build already has (pooled from the passages' own
forward pass, index.embedding): at each candidate boundary, the mean vector of the speech in the `window`
seconds before it is compared with the mean of the `window` seconds after it. A boundary is where that
similarity sinks well below its surroundings (its depth), chapters at least `min_length` long. Candidates are
the starts of speaker turns when the transcript names speakers (a host's new question), else every sentence.

Each chapter is labelled with key phrases taken from its own words, KeyBERT-style: word n-grams that are frequent
in this chapter and rare in the episode's others, embedded with the same model; the phrase closest to the
chapter's mean vector, then one that adds most beside it. Nothing is generated: every label is words said in
the chapter, and it is shown marked as automatic (docs/retrieval.md has the segmentation scores).
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.models import Chapter, Sentence
from index.text import MARKS, STOPWORDS

_WORD = re.compile(rf"[^\W\d_](?:[^\W_]|[{MARKS}+#'.-])*(?:[^\W_]|[{MARKS}+#])|[^\W\d_]")  # a letter first, any script
# Words of talk, not of topics: never at the edge of a key phrase.
_FILLERS = frozenset(
    """also always another back bit come comes coming different doing done even ever every everything going gonna
    good great hey hmm interesting kinda let lets little look looking lots make makes making maybe mean means
    much need needs next one ones people part pretty put right see seem seems something sometimes start still sure
    take thank thanks time times today totally try trying two use used uses using want wanna
    way ways well went work works world yes yep first last new old big many whole kind sort lot thing things
    question questions answer idea ideas cool awesome definitely exactly basically probably obviously almost
    tell told ask asked called call feel felt happen happened happens give gave keep kept left talk talks
    zero one two three four five six seven eight nine ten hundred thousand million year years month months week
    weeks day days hour hours minute minutes second seconds ago later early""".split()
)


@dataclass(frozen=True, slots=True)
class TopicSettings:
    """Chosen on the hand-written chapters of eval/chapters (docs/retrieval.md, "Automatic chapters")."""

    window: float = 180.0  # seconds of speech compared on each side of a candidate boundary
    min_length: float = 150.0  # no automatic chapter is shorter
    cutoff: float = 0.5  # a boundary's depth must exceed mean + cutoff x std of all candidates' depths
    min_depth: float = 0.1  # and at least this: a talk that stays on one subject gets no boundary
    phrases: int = 2  # key phrases per label
    candidates: int = 12  # n-grams per chapter that are embedded to choose them


def topic_starts(sentences: Sequence[Sentence], vectors: np.ndarray, settings: TopicSettings) -> list[int]:
    """Indices of the sentences where automatic chapters start (always 0 first). `vectors` are the sentences'
    unit vectors, in order."""
    if not sentences:
        return []
    starts = [s.start for s in sentences]
    duration = sentences[-1].end
    if duration < 2 * settings.min_length:
        return [0]
    turns = [j for j in range(1, len(sentences)) if sentences[j].speaker != sentences[j - 1].speaker]
    named = sum(1 for s in sentences if s.speaker) > len(sentences) / 2
    pool = turns if named and len(turns) >= duration / 120 else range(1, len(sentences))
    candidates = [j for j in pool if settings.min_length <= starts[j] <= duration - settings.min_length]
    if not candidates:
        return [0]
    sums = np.concatenate([np.zeros((1, vectors.shape[1]), np.float32), np.cumsum(vectors, axis=0, dtype=np.float32)])
    at = np.asarray(candidates)
    times_array = np.asarray(starts)
    a = np.searchsorted(times_array, times_array[at] - settings.window)
    b = np.searchsorted(times_array, times_array[at] + settings.window)
    left, right = sums[at] - sums[a], sums[b] - sums[at]
    norms = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
    similarity = np.einsum("ij,ij->i", left, right) / np.where(norms > 0, norms, 1.0)
    times = [starts[j] for j in candidates]
    depth = np.empty_like(similarity)
    for i, t in enumerate(times):
        lo = bisect.bisect_left(times, t - settings.window)
        hi = bisect.bisect_right(times, t + settings.window)
        depth[i] = similarity[lo : i + 1].max() + similarity[i:hi].max() - 2 * similarity[i]
    threshold = max(depth.mean() + settings.cutoff * depth.std(), settings.min_depth)
    chosen: list[float] = []
    picked = []
    for i in np.argsort(-depth, kind="stable"):
        if depth[i] <= threshold:
            break
        t = times[i]
        if all(abs(t - other) >= settings.min_length for other in chosen):
            chosen.append(t)
            picked.append(candidates[i])
    return [0, *sorted(picked)]


@dataclass(frozen=True, slots=True)
class Rarity:
    """In how many of a build's episodes each word occurs: a label should use words this episode is about, not
    words every conversation has ("tell", "seven days")."""

    episodes: int
    frequency: Counter[str]

    @classmethod
    def of(cls, episodes: Sequence[Sequence[Sentence]]) -> Rarity:
        frequency: Counter[str] = Counter()
        for sentences in episodes:
            frequency.update(
                {w.lower() for s in sentences for w in _WORD.findall(unicodedata.normalize("NFC", s.text))}
            )
        return cls(len(episodes), frequency)

    def weight(self, gram: str) -> float:
        """The mean inverse episode frequency of the phrase's words that carry meaning."""
        words = [w for w in gram.split() if _edge_ok(w)]
        return sum(math.log(1 + self.episodes / max(1, self.frequency[w])) for w in words) / max(1, len(words))


def auto_chapters(
    sentences: Sequence[Sentence],
    vectors: np.ndarray,
    embed: Callable[[list[str]], np.ndarray],
    rarity: Rarity,
    settings: TopicSettings | None = None,
) -> list[Chapter]:
    """Automatic chapters of one episode, each labelled with key phrases from its own words; the first starts
    at 0 (the episode's opening belongs to it)."""
    settings = settings or TopicSettings()
    first = topic_starts(sentences, vectors, settings)
    bounds = [*first, len(sentences)]
    parts = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
    labels = key_phrases(
        [[s.text for s in sentences[a:b]] for a, b in parts],
        [_unit(vectors[a:b].mean(axis=0)) for a, b in parts],
        embed,
        rarity,
        settings,
    )
    return [
        Chapter(0.0 if a == 0 else sentences[a].start, label, auto=True)
        for (a, _), label in zip(parts, labels, strict=True)
    ]


def key_phrases(
    parts: Sequence[Sequence[str]],
    centres: Sequence[np.ndarray],
    embed: Callable[[list[str]], np.ndarray],
    rarity: Rarity,
    settings: TopicSettings,
) -> list[str]:
    """A label per part (its sentences' texts): key phrases from its words, the one nearest its mean vector
    (`centres`) first, then the one that adds most beside it (maximal marginal relevance).

    The phrases considered are those said more than once in the part, scored by how much more often than in
    the episode's other parts, how rare their words are across the build (`rarity`), and length."""
    counted = [_ngrams(texts) for texts in parts]
    spread = Counter(gram for found, _ in counted for gram in found)
    shortlists = []
    for found, _ in counted:
        repeated = {gram: count for gram, count in found.items() if count > 1} or found
        scored = {
            gram: count
            * math.log(1 + len(parts) / spread[gram])
            * rarity.weight(gram)
            * (1.0 + 0.5 * (len(gram.split()) - 1))
            for gram, count in repeated.items()
        }
        shortlists.append(sorted(scored, key=lambda g: (-scored[g], g))[: settings.candidates])
    everything = sorted({g for shortlist in shortlists for g in shortlist})
    written: Counter[tuple[str, str]] = Counter()
    for _, forms in counted:
        written.update(forms)
    surface = _surfaces(written, set(everything))
    vectors = dict(zip(everything, embed([surface[g] for g in everything]), strict=True)) if everything else {}
    labels = []
    for shortlist, centre, (_, forms) in zip(shortlists, centres, counted, strict=True):
        chosen: list[str] = []
        while shortlist and len(chosen) < settings.phrases:
            used = {w for c in chosen for w in c.split()}
            options = [g for g in shortlist if not set(g.split()) & used]
            if not options:
                break
            chosen.append(max(options, key=lambda g: _relevance(vectors, g, centre, chosen)))
        own = _surfaces(forms, set(chosen))
        labels.append(", ".join(own[g] for g in chosen) or "Conversation")
    return labels


def _relevance(vectors: dict[str, np.ndarray], gram: str, centre: np.ndarray, chosen: Sequence[str]) -> float:
    """Maximal marginal relevance: near the chapter, unlike the phrases already chosen."""
    near = float(vectors[gram] @ centre)
    beside = max((float(vectors[gram] @ vectors[c]) for c in chosen), default=0.0)
    return 0.6 * near - 0.4 * beside


def _ngrams(texts: Sequence[str]) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """Lower-cased word 1-3-grams of `texts` that could name a topic (no stopword or filler at either edge),
    counted, and how often each was written each way ("Django", "GitHub Actions")."""
    found: Counter[str] = Counter()
    written: Counter[tuple[str, str]] = Counter()
    for text in texts:
        words = [w.removesuffix("'s").strip(".'") for w in _WORD.findall(unicodedata.normalize("NFC", text))]
        tokens = [w.lower() for w in words]
        edge = [_edge_ok(t) for t in tokens]
        for n in (1, 2, 3):
            for i in range(len(tokens) - n + 1):
                if edge[i] and edge[i + n - 1] and (n > 1 or len(tokens[i]) >= 4):
                    key = " ".join(tokens[i : i + n])
                    found[key] += 1
                    written[key, " ".join(words[i : i + n])] += 1
    return found, written


def _edge_ok(word: str) -> bool:
    """Contractions ("we'll", "don't") are talk, never the name of a topic."""
    return len(word) > 1 and "'" not in word and word not in STOPWORDS and word not in _FILLERS and not word.isdigit()


def _surfaces(written: Counter[tuple[str, str]], grams: set[str]) -> dict[str, str]:
    """The way each of `grams` is most often written, capitalised as a label."""
    best: dict[str, tuple[int, str]] = {}
    for (gram, form), count in written.items():
        if gram in grams and count > best.get(gram, (0, ""))[0]:
            best[gram] = (count, form)
    return {gram: form[0].upper() + form[1:] for gram, (_, form) in best.items()}


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm else vector.astype(np.float32)
