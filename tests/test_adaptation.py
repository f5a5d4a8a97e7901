"""The domain-adapted model: inverse-cloze pairs from a real index, a short real training run with torch, and an
index built with the copy (which then refuses the bundled model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.adaptation import ADAPTED_FILE, MIN_WORDS, inverse_cloze_pairs
from index.build import STORE_FILE
from index.embedding import load_embedder
from index.errors import IndexMismatchError
from index.layout import IndexLayout
from index.search import Searcher
from index.sqlite_util import connect
from tests.conftest import build_from_feed
from tests.helpers import SAMPLES, load_script

ROOT = Path(__file__).resolve().parents[1]


def test_inverse_cloze_pairs_are_a_sentence_and_the_rest_of_its_passage(sample_index):
    pairs = inverse_cloze_pairs(sample_index, seed=1)
    conn = connect(IndexLayout(sample_index).current() / STORE_FILE, readonly=True)
    try:
        passages = [r[0] for r in conn.execute("SELECT text FROM chunks WHERE boilerplate = 0")]
    finally:
        conn.close()
    assert len(passages) * 0.8 <= len(pairs) <= len(passages)
    removed = 0
    for question, answer in pairs:
        assert len(question.split()) >= MIN_WORDS
        home = [p for p in passages if question in p]
        assert home, question  # the sentence comes from a passage of the index
        removed += question not in answer
        assert any(set(answer.split()) <= set(p.split()) for p in home)  # and the answer is the rest of it
    assert removed >= len(pairs) * 0.7  # nine in ten leave the sentence out
    assert inverse_cloze_pairs(sample_index, seed=1) == pairs  # a seed makes a run repeatable


def separation(embedder, pairs: list[tuple[str, str]]) -> float:
    """How far each sentence's own passage stands above the other passages: mean(own) - mean(others)."""
    questions = embedder.embed([q for q, _ in pairs])
    answers = embedder.embed([a for _, a in pairs])
    scores = questions @ answers.T
    own = np.diag(scores)
    return float(own.mean() - (scores.sum() - own.sum()) / (scores.size - len(own)))


def test_a_short_run_adapts_the_model_and_an_index_built_with_it_refuses_the_bundled_one(
    sample_index, tmp_path, capsys, real_embedder
):
    out = tmp_path / "adapted"
    script = load_script("adapt_model")
    arguments = ["--index", str(sample_index), "--out", str(out), "--steps", "12", "--batch-size", "8"]
    assert script.main([*arguments, "--learning-rate", "1e-4"]) == 0
    printed = capsys.readouterr()
    assert "training pairs from" in printed.out and f"EMBEDDING_MODEL={out}" in printed.out
    assert "step 0: loss" in printed.err and "step 11: loss" in printed.err
    record = json.loads((out / ADAPTED_FILE).read_text())
    assert record["steps"] == 12 and record["batch_size"] == 8 and record["base"] == "all-MiniLM-L6-v2"
    assert not list(tmp_path.glob(".adapted-*"))  # nothing left half-written beside it

    adapted = load_embedder(model=str(out), backend="torch")
    base = load_embedder(backend="torch")
    pairs = inverse_cloze_pairs(sample_index, seed=0)[:32]
    assert separation(adapted, pairs) > separation(base, pairs)  # it learned the task it was trained on

    index = tmp_path / "index"
    build_from_feed(SAMPLES / "feed.xml", index, adapted)
    searcher = Searcher.open(index, adapted)
    try:
        assert searcher.manifest.model == str(out)
        assert searcher.search("What backup tool does Marta recommend?", k=1)[0].episode_title == "SQLite in Production"
    finally:
        searcher.close()
    with pytest.raises(IndexMismatchError):
        Searcher.open(index, real_embedder)


def test_too_few_passages_for_one_batch_is_a_clear_error(sample_index, tmp_path, capsys):
    script = load_script("adapt_model")
    arguments = ["--index", str(sample_index), "--out", str(tmp_path / "m"), "--batch-size", "1000"]
    assert script.main(arguments) == 1
    assert "fewer than one batch of 1000" in capsys.readouterr().err and not (tmp_path / "m").exists()


def test_out_must_be_new_empty_or_an_adapted_model_never_anything_else(sample_index, tmp_path, capsys):
    victim = tmp_path / "not-a-model"
    victim.mkdir()
    (victim / "notes.txt").write_text("keep me")
    script = load_script("adapt_model")
    assert script.main(["--index", str(sample_index), "--out", str(victim), "--steps", "1", "--batch-size", "2"]) == 1
    assert "is not an adapted model" in capsys.readouterr().err and (victim / "notes.txt").read_text() == "keep me"
