"""A copy of the embedding model adapted to one podcast's own talk, trained here without labels.

The bundled all-MiniLM-L6-v2 learned from short web texts; podcast talk is long, spoken and full of a show's own
names. Inverse cloze (Lee et al., 2019) turns an index into training pairs for free: a sentence of a passage is
the "question", the rest of that passage the "answer", and the other passages of the batch the wrong answers
(in-batch negatives, sentence-transformers' MultipleNegativesRankingLoss). The sentence is left in its passage
one time in ten, so the model still learns that a passage matches what it says. docs/retrieval.md has what it
did to the dev sets, on episodes it was trained on and on episodes it never saw.

Nothing is downloaded: the base model is the bundled one (or any local directory) and the text is the index's.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from index.build import STORE_FILE
from index.embedding import resolve_model_path
from index.layout import IndexLayout
from index.sqlite_util import connect

KEEP_SENTENCE = 0.1  # share of pairs whose passage still holds the question sentence
MIN_WORDS = 6  # shorter sentences ("Yeah, exactly.") say nothing a passage could be found by
ADAPTED_FILE = "adapted.json"


@dataclass(frozen=True, slots=True)
class Training:
    """What a run trains with; recorded beside the model so its origin is never a guess."""

    steps: int = 400
    batch_size: int = 32
    learning_rate: float = 2e-5
    scale: float = 20.0  # the loss's softmax temperature, sentence-transformers' default
    max_seq_length: int = 128  # word pieces while training; the model reads its usual 256 afterwards
    seed: int = 0


def inverse_cloze_pairs(index_dir: Path, *, seed: int = 0) -> list[tuple[str, str]]:
    """(sentence, rest of its passage) for one random sentence of every content passage of the live build;
    sponsor reads, intros and outros are left out (they would teach the model the ads)."""
    rng = random.Random(seed)
    conn = connect(IndexLayout(index_dir).current() / STORE_FILE, readonly=True)
    try:
        texts = [r["text"] for r in conn.execute("SELECT text FROM sentences ORDER BY id")]
        spans = conn.execute("SELECT first_sentence, last_sentence FROM chunks WHERE boilerplate = 0 ORDER BY id")
        pairs = []
        for first, last in spans:
            sentences = texts[first : last + 1]
            usable = [i for i, s in enumerate(sentences) if len(s.split()) >= MIN_WORDS]
            if len(sentences) < 3 or not usable:
                continue
            i = rng.choice(usable)
            rest = sentences if rng.random() < KEEP_SENTENCE else sentences[:i] + sentences[i + 1 :]
            pairs.append((sentences[i], " ".join(rest)))
    finally:
        conn.close()
    rng.shuffle(pairs)
    return pairs


def check_replaceable(out: Path) -> None:
    """ValueError unless `out` is absent, empty or an adapted model made before: it is replaced whole, and must
    never be an index, a home directory or anything else typed by mistake."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / ADAPTED_FILE).is_file())):
        raise ValueError(f"{out} exists and is not an adapted model; give --out a new or empty directory")


def adapt_model(
    base: str,
    pairs: list[tuple[str, str]],
    out: Path,
    training: Training,
    *,
    progress: Callable[[int, float], None] | None = None,
) -> Path:
    """Train a copy of `base` on `pairs` and save it at `out` (written aside first: never half a model); returns `out`.

    `progress` hears (step, loss) every 25 steps. Raises ValueError when there are fewer pairs than a batch.
    """
    import torch
    import torch.nn.functional as F
    from sentence_transformers import SentenceTransformer

    if len(pairs) < training.batch_size:
        raise ValueError(f"{len(pairs)} training pairs, fewer than one batch of {training.batch_size}")
    check_replaceable(out)  # before the training, not after it
    torch.manual_seed(training.seed)
    model = SentenceTransformer(str(resolve_model_path(base)), device="cpu")
    reading_length = model.max_seq_length
    model.max_seq_length = training.max_seq_length
    optimiser = torch.optim.AdamW(model.parameters(), lr=training.learning_rate)
    warmup = max(1, training.steps // 10)

    def rate(step: int) -> float:  # linear warm-up, then linear decay to zero
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (training.steps - step) / max(1, training.steps - warmup))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, rate)
    model.train()

    def encode(texts: list[str]) -> torch.Tensor:
        return F.normalize(model(model.preprocess(texts))["sentence_embedding"], dim=-1)

    began = time.perf_counter()
    for step in range(training.steps):
        at = (step * training.batch_size) % len(pairs)
        batch = (pairs[at:] + pairs[:at])[: training.batch_size]
        questions, answers = encode([q for q, _ in batch]), encode([a for _, a in batch])
        loss = F.cross_entropy(training.scale * questions @ answers.T, torch.arange(len(batch)))
        loss.backward()
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        if progress is not None and (step % 25 == 0 or step == training.steps - 1):
            progress(step, loss.item())
    model.eval()
    model.max_seq_length = reading_length
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        model.save(str(staging))
        record = {"base": base, "pairs": len(pairs), "seconds": round(time.perf_counter() - began, 1)}
        (staging / ADAPTED_FILE).write_text(json.dumps(record | asdict(training), indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
