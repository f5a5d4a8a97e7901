"""Adapt the embedding model to your podcast: train a copy on the index's own passages, no labels, no downloads.

    python scripts/adapt_model.py --index data/index --out models/adapted
    EMBEDDING_MODEL=models/adapted python scripts/build_index.py --feed ... --out data/index

Inverse cloze (index/adaptation.py): each passage's sentence against the rest of its passage, the other passages
of a batch as wrong answers. The default 400 steps of 32 pairs take 25-55 minutes on two CPU cores. The copy is
a normal sentence-transformers directory (with `adapted.json` saying how it was made); point EMBEDDING_MODEL at
it and rebuild the index, which then records that model and refuses any other. docs/retrieval.md has what it
does to retrieval, on episodes it was trained on and on episodes it never saw.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from index.adaptation import Training, adapt_model, check_replaceable, inverse_cloze_pairs
from index.errors import PodcastIndexError
from index.settings import IndexSettings


def parse_args(argv: list[str] | None, settings: IndexSettings) -> argparse.Namespace:
    defaults = Training()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=settings.index_dir, help="index to learn from (INDEX_DIR)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the adapted model to")
    parser.add_argument("--base", default=settings.embedding_model, help="model to start from (EMBEDDING_MODEL)")
    parser.add_argument("--steps", type=int, default=defaults.steps, help=f"training steps (default {defaults.steps})")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="pairs per step (default 32)")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate, help="default 2e-5")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.batch_size < 2:
        parser.error("--steps must be at least 1 and --batch-size at least 2 (in-batch negatives)")
    return args


def main(argv: list[str] | None = None) -> int:
    settings = IndexSettings()
    args = parse_args(argv, settings)
    training = dataclasses.replace(
        Training(), steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed
    )
    try:
        check_replaceable(args.out)
        pairs = inverse_cloze_pairs(args.index, seed=args.seed)
        print(f"{len(pairs):,} training pairs from {args.index}; {training.steps} steps of {training.batch_size}")
        adapt_model(
            args.base,
            pairs,
            args.out,
            training,
            progress=lambda step, loss: print(f"step {step}: loss {loss:.3f}", file=sys.stderr, flush=True),
        )
    except (PodcastIndexError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Saved {args.out}. Use it: EMBEDDING_MODEL={args.out} scripts/build_index.py ... (a full re-embed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
