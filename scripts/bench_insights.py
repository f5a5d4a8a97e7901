"""How well /insights groups questions by meaning at each threshold, and how long it takes as the database grows.

    python scripts/bench_insights.py                 both tables; 1,000 / 2,000 / 5,000 questions (MAX_GROUPED)
    python scripts/bench_insights.py --sizes 500 20000

Grouping: the seeded set of tests/insights_seed.py (eight questions asked in many words, twenty asked once),
whose grouping is known, and the 84 different questions of eval/dev2_questions.jsonl, which should stay apart.

Questions are eval/dev2_questions.jsonl embedded with the bundled model, repeated with a little noise (groups of
paraphrases, as listeners ask), or random vectors (every question different: the worst case, one group per
question). Prints a Markdown table and the machine; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from reporting import machine, table

from bot.charts import questions_per_day_png
from bot.insights import group_by_meaning, load_insights
from bot.store import BotStore
from index.embedding import Embedder, load_embedder
from index.settings import IndexSettings

# The seeded questions live with the tests, which are not an installed package (as in scripts/soak.py).
ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))
from tests.insights_seed import seeded_questions  # noqa: E402

QUESTIONS = ROOT / "eval" / "dev2_questions.jsonl"
THRESHOLDS = [0.45, 0.5, 0.55, 0.6, 0.65, 0.7]


def grouping_quality(embedder: Embedder) -> list[list[str]]:
    """Per threshold: groups, purity, the worst share of a known group kept in one group, merges of the rest."""
    labels, questions = zip(*seeded_questions(), strict=True)
    seeded = embedder.embed(list(questions))
    distinct = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    dev = embedder.embed(distinct)
    rows = []
    for threshold in THRESHOLDS:
        groups = group_by_meaning(seeded, threshold)
        pure = sum(Counter(labels[i] for i in g).most_common(1)[0][1] for g in groups) / len(labels)
        kept = min(
            max(sum(labels[i] == name for i in g) for g in groups) / labels.count(name) for name in set(labels) - {None}
        )
        once = sum(1 for g in groups if len(g) > 1 for i in g if labels[i] is None)
        apart = group_by_meaning(dev, threshold)
        rows.append([f"{threshold:.2f}", f"{len(groups)}", f"{pure:.3f}", f"{kept:.2f}", f"{once}",
                     f"{len(apart)} of {len(distinct)}"])  # fmt: skip
    return rows


def vectors(kind: str, n: int, seeded: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if kind == "paraphrases":
        base = seeded[rng.integers(0, len(seeded), n)]
        noisy = base + rng.normal(0, 0.02, base.shape).astype(np.float32)
    else:
        noisy = rng.normal(0, 1, (n, seeded.shape[1])).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def overview_seconds(batch: np.ndarray, model: str) -> float:
    """Record `batch` in a fresh bot database, then time what /insights overview computes (chart included)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = BotStore(Path(tmp) / "bot.sqlite")
        now = time.time()
        for i, vector in enumerate(batch):
            store.record_question(f"question {i}", None, 3, i % 500, guild_id=1, answered=i % 4 > 0, vector=vector,
                                  vector_model=model)  # fmt: skip
        with store.transaction() as conn:
            conn.execute("UPDATE questions SET asked_at = ? - (id % 30) * 86400", (now,))
        began = time.perf_counter()
        report = load_insights(store.query, days=30, now=now, guild_id=1)
        questions_per_day_png(report.per_day)
        elapsed = time.perf_counter() - began
        store.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000])
    args = parser.parse_args()
    embedder = load_embedder(IndexSettings(_env_file=None))
    header = ["threshold", "groups", "purity", "worst group kept", "asked-once merged", "dev questions apart"]
    print(table(header, grouping_quality(embedder)) + "\n")
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    seeded = embedder.embed([json.loads(line)["question"] for line in lines if line.strip()])
    rng = np.random.default_rng(15)
    rows = []
    for n in args.sizes:
        for kind in ("paraphrases", "all different"):
            batch = vectors(kind, n, seeded, rng)
            began = time.perf_counter()
            groups = group_by_meaning(batch)
            grouping = time.perf_counter() - began
            rows.append(
                [
                    f"{n:,}",
                    kind,
                    f"{len(groups):,}",
                    f"{grouping:.2f}",
                    f"{overview_seconds(batch, embedder.model_id):.2f}",
                ]
            )
    print(table(["questions", "vectors", "groups", "grouping s", "overview s (load, group twice, chart)"], rows))
    print(f"\n{machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
