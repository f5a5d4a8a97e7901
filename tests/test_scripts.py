"""The maintainers' commands as a user runs them: real processes, real model, exit codes and output."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SAMPLES

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str, env_index: Path | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "XDG_CACHE_HOME": os.environ["XDG_CACHE_HOME"]}
    if env_index:
        env["INDEX_DIR"] = str(env_index)
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def sample_index(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "index"
    result = run("build_index.py", "--feed", str(SAMPLES / "feed.xml"), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "4 episodes" in result.stdout and "passages embedded" in result.stdout
    return out


def test_the_demo_console_answers_as_the_bot_would(sample_index, tmp_path):
    """`python -m bot` without a token: the README's demo. Questions, "more", an episode's card, and /ask's limits."""
    typed = "what backup tool do they recommend?\nmore\nepisode sqlite\n" + "why " * 100 + "\n"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": os.environ["XDG_CACHE_HOME"],
           "INDEX_DIR": str(sample_index)}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "bot"], input=typed, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    answer, rest = result.stdout.split("— that's everything I found.")
    assert "what backup tool do they recommend? — best moments (1–" in answer and "Shelfcopy" in answer
    assert re.search(r"▶ \d+:\d\d <https://tinystack\.example/episodes/1#t=\d+> · Marta Lindqvist", answer)
    assert "Chapters (automatic: key phrases from each part)" in rest and "Published: 2026-01-13" in rest
    assert "Please keep questions under 300 characters (yours has 399)." in rest  # refused, not cut short


def test_query_prints_readable_results(sample_index):
    result = run("query.py", "--index", str(sample_index), "-k", "2", "what backup tool do they recommend?")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1. SQLite in Production at ")
    assert "https://tinystack.example/episodes/1#t=" in result.stdout


def test_query_json_has_the_stable_hit_shape(sample_index):
    result = run(
        "query.py", "--index", str(sample_index), "--json", "-k", "3", "how many members does the discord have?"
    )
    payload = json.loads(result.stdout)
    assert len(payload["hits"]) == 3
    for hit in payload["hits"]:
        assert {
            "episode_id",
            "episode_title",
            "podcast",
            "source_file",
            "start",
            "end",
            "url",
            "speakers",
            "text",
            "score",
        } <= set(hit)
        assert hit["start"] <= hit["quote_start"] <= hit["end"] and hit["quote"] in hit["text"]
    assert payload["hits"][0]["source_file"] == "003-running-a-discord-community.json"


def test_query_batch_answers_every_line(sample_index, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"id": "a", "question": "type hints"}\n\n{"id": "b", "question": "wheel missing templates"}\n'
    )
    result = run("query.py", "--index", str(sample_index), "--batch", str(questions), "-k", "1")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["id"], len(r["hits"])) for r in lines] == [("a", 1), ("b", 1)]
    assert lines[1]["hits"][0]["source_file"] == "002-packaging-python-apps.txt"
    for line in lines:  # timings of the answer alone (no process start, no model load), embedding included
        assert 0 < line["embed_ms"] <= line["latency_ms"] < 10_000

    questions.write_text('{"id": "a"}\n')
    bad = run("query.py", "--index", str(sample_index), "--batch", str(questions))
    assert bad.returncode == 1 and f"{questions}:1" in bad.stderr


def test_query_without_an_index_says_how_to_build_one(tmp_path):
    result = run("query.py", "--index", str(tmp_path / "nothing"), "anything")
    assert result.returncode == 1
    assert "no index in" in result.stderr and "build_index.py" in result.stderr and "Traceback" not in result.stderr


def test_build_reports_skipped_files_and_fails_only_when_nothing_was_indexed(tmp_path):
    folder = tmp_path / "show"
    folder.mkdir()
    (folder / "01-good.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:04.000\nHello and welcome to the show.\n")
    (folder / "02-bad.srt").write_text("1\n00:00:01,000 --> nonsense\nHi\n")
    out = tmp_path / "index"
    result = run("build_index.py", "--transcripts", str(folder), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "  1 episode, " in result.stdout and "02-bad.srt:2" in result.stdout

    (folder / "01-good.vtt").unlink()
    nothing = run("build_index.py", "--transcripts", str(folder), "--out", str(tmp_path / "other"), "--quiet")
    assert nothing.returncode == 1 and "nothing could be indexed" in nothing.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--transcripts", "/no/such/dir"],
        ["--feed", "x.xml", "--chunk-words", "50", "--chunk-overlap", "60"],
        ["--feed", "x.xml", "--link-template", "{url}"],
    ],
)
def test_build_rejects_bad_arguments_with_status_2(args, tmp_path):
    result = run("build_index.py", *args, "--out", str(tmp_path / "i"))
    assert result.returncode == 2 and "error:" in result.stderr


def test_query_phrase_counts_mentions(sample_index):
    result = run("query.py", "--index", str(sample_index), "--json", "--phrase", "WAL mode")
    report = json.loads(result.stdout)
    assert report["total"] >= 2 and report["per_episode"][0]["episode_id"] == "tinystack-001"
    assert all(o["url"].startswith("https://tinystack.example/episodes/") for o in report["occurrences"])
    other = run("query.py", "--index", str(sample_index), "--json", "--phrase", "WAL mode", "--podcast", "Other Show")
    assert json.loads(other.stdout)["total"] == 0  # the podcast filter holds for phrases too
    unsupported = run("query.py", "--index", str(sample_index), "--phrase", "WAL mode", "--speaker", "Marta")
    assert unsupported.returncode == 2 and "filter searches only" in unsupported.stderr


GOLD = [  # from samples/README.md: where the answers are spoken
    ("what backup tool does Marta recommend?", "001-sqlite-in-production.vtt", 212, 240, "keyword"),
    ("what went wrong with the linkmoth 2.4.0 release?", "002-packaging-python-apps.txt", 170, 200, "keyword"),
    ("why does the guest prefer quotes to summaries?", "004-search-for-podcasts.srt", 220, 240, "vague"),
]


def gold_questions(path: Path, gold=GOLD) -> Path:
    path.write_text(
        "\n".join(
            json.dumps({"id": f"s{i}", "question": q, "file": f, "start": a, "end": b, "kind": k, "podcast": "tiny"})
            for i, (q, f, a, b, k) in enumerate(gold)
        )
    )
    return path


def test_evaluate_scores_questions_with_gold_windows(sample_index, tmp_path):
    questions = gold_questions(tmp_path / "questions.jsonl")
    result = run("evaluate.py", "--index", str(sample_index), "--modes", "dense,hybrid", str(questions))
    assert result.returncode == 0, result.stderr
    rows = {tuple(c.strip() for c in line.strip("|").split("|")[:2]): line for line in result.stdout.splitlines()}
    for mode in ("dense", "hybrid"):
        cells = [c.strip() for c in rows[("all (3)", mode)].strip("|").split("|")]
        assert cells[2:] == ["1.00", "1.00", "1.00", "1.00", "1.000"], cells  # R@1 R@3 R@5 R@10 MRR
    assert {("keyword (2)", "hybrid"), ("vague (1)", "hybrid"), ("tiny (3)", "dense")} <= rows.keys()
    assert "hybrid: 0 questions not answered at rank 1" in result.stdout
    assert "hybrid: MRR 1.000, 95 % bootstrap interval over questions [1.000, 1.000]" in result.stdout
    # the linkmoth passage holds the answer, but its quote is the pipx sentence at 4:40 (samples/README.md)
    quotes = r"^quotes: of the 3 questions answered in the top 5, .* ±15 s for 2 \(0.67\)$"
    assert re.search(quotes, result.stdout, re.M)


def test_evaluate_says_what_stands_first_when_the_answer_does_not(sample_index, tmp_path):
    backup = GOLD[0][0]
    wrong = [  # gold windows moved on purpose: another episode, then another moment of the right one
        (backup, "002-packaging-python-apps.txt", 170, 200, "keyword"),
        (backup, "001-sqlite-in-production.vtt", 2, 8, "keyword"),
        GOLD[1],
    ]
    questions = gold_questions(tmp_path / "questions.jsonl", wrong)
    result = run("evaluate.py", "--index", str(sample_index), "--modes", "hybrid", str(questions))
    assert result.returncode == 0, result.stderr
    assert (
        "hybrid: 2 questions not answered at rank 1; first instead, another episode's passage for 1, another moment"
        " of the right episode for 1"
    ) in result.stdout


def test_evaluate_compares_ranking_options_with_their_search_time(sample_index, tmp_path):
    questions = gold_questions(tmp_path / "questions.jsonl")
    args = ["evaluate.py", "--index", str(sample_index), "--modes", "hybrid", str(questions)]
    result = run(*args, "--variant", "flat:episode_contrast=0,fuzzy=no", "--variant", "same:")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "| hybrid" in line]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    assert [r[0] for r in rows] == ["default", "flat", "same"]
    assert rows[0][2:7] == rows[2][2:7] == ["1.00", "1.00", "1.00", "1.00", "1.000"]  # same options, same ranks
    assert all(0 < float(r[-2]) <= float(r[-1]) for r in rows)  # search ms p50 <= p95
    assert rows[0][7] == rows[2][7] == "+0 -0, +0.000 [+0.000, +0.000]"  # each variant against the first
    unknown = run(*args, "--variant", "typo:episode_contrst=0")
    assert unknown.returncode == 2 and "unknown option 'episode_contrst'" in unknown.stderr
    copy = tmp_path / "rebuilt"  # another index, e.g. built by other code: here a copy, so the ranks match
    shutil.copytree(sample_index, copy)
    against = run(*args, "--against", str(copy))
    assert against.returncode == 0, against.stderr
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in against.stdout.splitlines()]
    rows = [(r[0], r[7]) for r in cells if len(r) > 7 and r[1] == "hybrid"]
    assert rows == [("default", "+0 -0, +0.000 [+0.000, +0.000]"), (str(copy), "+0 -0, +0.000 [+0.000, +0.000]")]


def test_bench_refuses_a_selection_of_sections_that_cannot_run(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "dev_questions.jsonl").write_text("")
    needs = run("bench.py", "--corpus", str(tmp_path / "corpus"), "--sections", "5")
    assert needs.returncode == 2 and "section 5 needs section 3" in needs.stderr
    unknown = run("bench.py", "--corpus", str(tmp_path / "corpus"), "--sections", "2,9")
    assert unknown.returncode == 2 and "no section 9" in unknown.stderr
    absent = run("bench.py", "--corpus", str(tmp_path / "missing"), "--sections", "1")
    assert absent.returncode == 2 and "needs the development corpus" in absent.stderr
