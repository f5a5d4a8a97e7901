"""Measure automatic chapters (index.topics) against chapters written by hand, with Pk and WindowDiff.

    python scripts/evaluate_chapters.py --index /tmp/full eval/chapters
    python scripts/evaluate_chapters.py --index /tmp/full eval/chapters --variant wide:window=240,min_length=120

Each `<transcript name>.json` of the folder (Podcasting 2.0 chapters) is matched with the indexed episode of that
transcript; segmentation runs on the build's own sentences and sentence vectors, so settings can be compared
without rebuilding. Baselines: chapters every five minutes, and evenly spaced chapters as many as the reference
has (which knows the answer's count). Lower is better for both scores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
from reporting import machine, table

from index.build import SENTENCES_FILE, STORE_FILE
from index.evaluation import segmentation_errors
from index.layout import IndexLayout
from index.models import Sentence
from index.sqlite_util import connect
from index.topics import TopicSettings, topic_starts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="folder of hand-written <transcript name>.json chapter files")
    parser.add_argument("--index", type=Path, required=True, help="index directory built from the corpus")
    parser.add_argument(
        "--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...", help="TopicSettings to compare"
    )
    return parser.parse_args(argv)


def variant(spec: str) -> tuple[str, TopicSettings]:
    name, _, settings = spec.partition(":")
    values = dict(pair.split("=", 1) for pair in settings.split(",") if pair)
    return name, dataclasses.replace(TopicSettings(), **{k: float(v) for k, v in values.items()})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    build = IndexLayout(args.index).current()
    conn = connect(build / STORE_FILE, readonly=True)
    vectors = np.load(build / SENTENCES_FILE, mmap_mode="r")
    episodes = {Path(r["source_file"]).stem: r["id"] for r in conn.execute("SELECT id, source_file FROM episodes")}
    cases = []
    for path in sorted(args.folder.glob("*.json")):
        if path.stem not in episodes:
            print(f"{path.name}: no indexed episode has this transcript; left out", file=sys.stderr)
            continue
        rows = conn.execute(
            "SELECT id, start, end, speaker, text FROM sentences WHERE episode_id = ? ORDER BY id",
            (episodes[path.stem],),
        ).fetchall()
        sentences = [Sentence(r["start"], r["end"], r["text"], r["speaker"]) for r in rows]
        own = np.asarray(vectors[rows[0]["id"] : rows[-1]["id"] + 1], dtype=np.float32)
        reference = [c["startTime"] for c in json.loads(path.read_text())["chapters"]]
        cases.append((path.stem, sentences, own, reference))
    if not cases:
        print("no chapter file matches an indexed episode", file=sys.stderr)
        return 1

    def evenly(count: int, duration: float) -> list[float]:
        return [duration * i / count for i in range(count)]

    methods = {
        "every 5 minutes": lambda s, v, r: evenly(max(1, round(s[-1].end / 300)), s[-1].end),
        "evenly, as many as the reference (knows the count)": lambda s, v, r: evenly(len(r), s[-1].end),
    }
    for name, settings in [("automatic (default)", TopicSettings()), *map(variant, args.variant)]:
        methods[name] = lambda s, v, r, settings=settings: [s[i].start for i in topic_starts(s, v, settings)]
    rows, detail = [], []
    for name, method in methods.items():
        scores, counts, hours = [], 0, 0.0
        for stem, sentences, own, reference in cases:
            found = method(sentences, own, reference)
            pk, wd = segmentation_errors(reference, found, sentences[-1].end)
            scores.append((pk, wd))
            counts += len(found)
            hours += sentences[-1].end / 3600
            if name == "automatic (default)":
                detail.append([stem, len(reference), len(found), f"{pk:.3f}", f"{wd:.3f}"])
        pk_mean, wd_mean = np.mean(scores, axis=0)
        rows.append([name, f"{pk_mean:.3f}", f"{wd_mean:.3f}", f"{counts / hours:.1f}"])
    reference_rate = sum(len(r) for *_, r in cases) / sum(s[-1].end for _, s, _, _ in cases) * 3600
    print(machine())
    print(f"{len(cases)} episodes; the hand-written chapters have {reference_rate:.1f} per hour\n")
    print(table(["method", "Pk", "WindowDiff", "chapters per hour"], rows))
    print()
    print(table(["episode", "reference chapters", "automatic chapters", "Pk", "WindowDiff"], detail))
    return 0


if __name__ == "__main__":
    sys.exit(main())
