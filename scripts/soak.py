"""Soak test: many questions through the real bot in one process; memory must stay flat, caches bounded.

    .venv/bin/python scripts/soak.py --index data/index                  # 10,000 /ask through the bot
    .venv/bin/python scripts/soak.py --index data/index --mode search    # the library alone

`--mode bot` (the default) runs the real discord.py client against the fake Discord server of the test suite
(tests/fake_discord/, in this process), with the real model and index: /ask from many users under the
default cooldown (so some are refused), a 👍 on every tenth answer, and the index watcher polling. The fake
server's own records are cleared as the run goes (they are the test server's memory, not the bot's).
`--mode search` calls Searcher.search_page directly. `--mode burst --concurrency 50` sends 50 /ask at once, three
times, and prints the interaction → follow-up latency (scripts/bench.py section 7 runs it).

Prints the resident set size (RSS, from /proc) before the first question and after 1k, 5k and the last,
plus the size of everything in the process that could grow with the number of questions or users. Not a
test: it takes tens of minutes on 2 cores; docs/reliability.md has its results.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from reporting import p50, p95, rss_mb

from bot.client import PodcastBot
from bot.settings import Settings
from bot.store import BotStore
from index.embedding import Embedder, load_embedder
from index.live import LiveIndex

# The fake Discord server lives with the tests, which are not an installed package.
ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))

QUESTIONS = [
    "Can SQLite be used in production?",
    "What did they think of the COVID policy at the conference?",
    "Which talks did they enjoy the most?",
    "async views in Django",
    "how do you deploy a Django app?",
    "what do they say about the Django Software Foundation?",
    "is there a recording of the keynote?",
    "What backup tool do they recommend?",
    "@everyone what about htmx?",
    "type hints",
    "why did they move off Postgres?",
    "what is the best way to learn Django?",
    "recipe for a chocolate cake",
    "x" * 400,  # refused: too long
    "   ",  # refused: empty
]
CHECKPOINTS = (1_000, 5_000)


def every(interactions: list[Any], attribute: str) -> Any:
    """A condition for FakeDiscord.wait_until: each interaction has a callback / follow-up recorded."""
    return lambda: all(getattr(i, attribute) for i in interactions)


def report(label: str, done: int, sizes: dict[str, int], started: float) -> None:
    gc.collect()
    rss, peak = rss_mb()
    rate = done / max(time.monotonic() - started, 1e-9)
    details = ", ".join(f"{k} {v:,}" for k, v in sizes.items())
    print(f"{label:>8} | {done:>6,} questions | RSS {rss:7.1f} MB (peak {peak:7.1f}) | {rate:5.1f} q/s | {details}")
    sys.stdout.flush()


def bot_sizes(bot: Any, fake: Any) -> dict[str, int]:
    state = bot._connection
    views = state._view_store
    return {
        "rate-limiter users": len(bot.limiter),
        "view store: views": len(views._views),
        "synced message views": len(views._synced_message_views),
        "modals": len(views._modals),
        "dynamic items": len(views._dynamic_items),
        "message cache": len(state._messages or ()),
        "user cache": len(state._users),
        "asyncio tasks": len(asyncio.all_tasks()),
        "threads": threading.active_count(),
        "gc objects": len(gc.get_objects()),
        "bot db questions (disk)": bot.store._conn.execute("SELECT COUNT(*) FROM questions").fetchone()[0],
        "fake records (cleared)": len(fake.requests),
    }


BURST_QUESTIONS = [
    "what backup tool do they recommend?",
    "why did they move off Postgres?",
    "how do you deploy a Django app?",
    "what did they think about type hints?",
    "is SQLite fine in production?",
]


async def burst(index: Path, embedder: Embedder, work: Path, *, count: int = 50, rounds: int = 3) -> list[float]:
    """Seconds from INTERACTION_CREATE to the follow-up for `count` /ask sent at once, `rounds` times over, each
    from its own user (no cooldown hit): what a busy server's burst costs, through the real client."""
    from tests.fake_discord import FakeDiscord, running_client

    settings = Settings(
        _env_file=None, index_dir=index, bot_db=work / "burst.sqlite", discord_token="burst", index_poll_seconds=0
    )
    store = BotStore(settings.bot_db)
    latencies: list[float] = []
    async with (
        FakeDiscord() as fake,
        fake.patched_client(),
        running_client(PodcastBot(settings, LiveIndex(index, embedder), store), fake, wait="guilds", timeout=60),
    ):
        for round_number in range(rounds + 1):  # the first round warms up
            users = [fake.add_user(f"burst{round_number}-{n}") for n in range(count)]
            inters = await asyncio.gather(
                *(
                    fake.slash("ask", {"question": BURST_QUESTIONS[n % len(BURST_QUESTIONS)]}, user_id=user)
                    for n, user in enumerate(users)
                )
            )
            await fake.wait_until(every(inters, "followups"), timeout=300, what="answers")
            if round_number:
                latencies += [i.followups[0].t - i.sent_at for i in inters]
            fake.clear_records()
    store.close()
    return latencies


async def soak_bot(args: argparse.Namespace, embedder: Embedder, work: Path) -> None:
    from tests.fake_discord import CallbackType, FakeDiscord, running_client

    settings = Settings(
        _env_file=None,
        index_dir=args.index,
        bot_db=work / "bot.sqlite",
        discord_token="soak",
        index_poll_seconds=1.0,
    )
    store = BotStore(settings.bot_db)
    bot = PodcastBot(settings, LiveIndex(args.index, embedder), store)
    answered = refused = clicks = failures = 0
    slowest = 0.0
    async with (
        FakeDiscord(heartbeat_interval_ms=5000) as fake,
        fake.patched_client(),
        running_client(bot, fake, wait="guilds", timeout=60),
    ):
        users = [fake.add_user(f"listener{n}") for n in range(args.users)]
        questions = itertools.cycle(QUESTIONS)
        people = itertools.cycle(users)
        started = time.monotonic()
        report("before", 0, bot_sizes(bot, fake), started)
        done = 0
        while done < args.queries:
            batch = min(args.concurrency, args.queries - done)
            inters = await asyncio.gather(
                *(fake.slash("ask", {"question": next(questions)}, user_id=next(people)) for _ in range(batch))
            )
            await fake.wait_until(every(inters, "callbacks"), timeout=60, what="callbacks")
            deferred = [
                i for i in inters if i.callbacks[0].json["type"] == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
            ]
            await fake.wait_until(every(deferred, "followups"), timeout=300, what="answers")
            for inter in inters:
                slowest = max(slowest, inter.callbacks[0].t - inter.sent_at)
                failures += inter.callbacks[0].status >= 300 or any(f.status >= 300 for f in inter.followups)
            votes = []
            for n, inter in enumerate(deferred, answered):
                body = inter.followups[0].json
                ids = [c["custom_id"] for row in body.get("components", []) for c in row["components"]]
                up = next((i for i in ids if i.endswith(":up")), None)
                if n % 10 == 0 and up is not None:  # a 👍 on every tenth answer
                    votes.append(await fake.click(up, user_id=next(people)))
            answered += len(deferred)
            refused += batch - len(deferred)
            await fake.wait_until(every(votes, "callbacks"), timeout=60, what="votes")
            clicks += len(votes)
            done += batch
            fake.clear_records()  # what the fake keeps is the test server's memory, not the bot's
            if done in CHECKPOINTS or done == args.queries:
                report(f"{done // 1000}k" if done % 1000 == 0 else str(done), done, bot_sizes(bot, fake), started)
    store.close()
    print(
        f"{answered:,} answered, {refused:,} refused by the cooldown or as invalid, {clicks:,} votes, "
        f"{failures} failed; slowest acknowledgement {slowest:.2f} s"
    )


def soak_search(args: argparse.Namespace, embedder: Embedder) -> None:
    live = LiveIndex(args.index, embedder)
    started = time.monotonic()

    def sizes() -> dict[str, int]:
        return {"gc objects": len(gc.get_objects()), "threads": threading.active_count()}

    report("before", 0, sizes(), started)
    for done, question in enumerate(itertools.islice(itertools.cycle(QUESTIONS), args.queries), 1):
        live.searcher.search_page(question, k=3, offset=(done % 3) * 3, min_score=0.3)
        if done % 500 == 0:
            live.refresh()
        if done in CHECKPOINTS or done == args.queries:
            report(f"{done // 1000}k" if done % 1000 == 0 else str(done), done, sizes(), started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="a published index directory")
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--mode", choices=["bot", "search", "burst"], default="bot")
    parser.add_argument("--users", type=int, default=2_000, help="distinct users asking (bot mode)")
    parser.add_argument("--backend", choices=["torch", "onnx", "onnx-int8"], help="default: EMBEDDING_BACKEND")
    parser.add_argument("--concurrency", type=int, default=10, help="questions dispatched at once (bot mode)")
    args = parser.parse_args(argv)
    rss, _ = rss_mb()
    print(f"RSS at start (interpreter and imports): {rss:.1f} MB")
    embedder = load_embedder(Settings(), backend=args.backend)  # EMBEDDING_BACKEND etc., as the bot loads it
    print(f"embedder: {embedder.model_id} ({embedder.backend})")
    if args.mode == "search":
        soak_search(args, embedder)
    elif args.mode == "burst":
        with tempfile.TemporaryDirectory() as work:
            seconds = asyncio.run(burst(args.index, embedder, Path(work), count=args.concurrency))
        spread = f"p50 {p50(seconds):.2f} s, p95 {p95(seconds):.2f} s"
        print(f"{args.concurrency} /ask at once: interaction -> follow-up {spread}")
    else:
        with tempfile.TemporaryDirectory() as work:
            asyncio.run(soak_bot(args, embedder, Path(work)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
