"""What listeners ask, from the bot's database, as one self-contained HTML page or as JSON.

    python scripts/insights.py --db data/bot.sqlite --out report.html           the last 30 days, every server
    python scripts/insights.py --db data/bot.sqlite --days 7 --guild 1234 --out week.html
    python scripts/insights.py --db data/bot.sqlite --json                      the same numbers on stdout

The same numbers as /insights overview and the review queue of /insights feedback, with the charts embedded in the
page. The database is opened read-only and the index is not needed: the bot stored every question's vector.
Who asked is never shown, and nothing older than the bot's retention period (90 days) is read.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bot.charts import groups_png, questions_per_day_png
from bot.insights import load_insights, load_reviews
from bot.insights_html import render_html
from bot.settings import Settings
from index.sqlite_util import connect, has_column
from index.wording import plural


def parse_args(argv: list[str] | None, default_db: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=default_db, help=f"the bot's database (BOT_DB, {default_db})")
    parser.add_argument("--days", type=int, default=30, help="how many days back, at most 90 (default 30)")
    parser.add_argument("--guild", type=int, help="only this server's questions (default: every server)")
    parser.add_argument("--out", type=Path, help="write the HTML page here")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    if not args.out and not args.json:
        parser.error("say where the report goes: --out report.html, or --json")
    if args.days < 1:
        parser.error("--days must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, Settings().bot_db)
    if not args.db.is_file():
        print(
            f"error: {args.db}: no such database (the bot creates it at BOT_DB when it first runs on Discord;"
            " the console writes none)",
            file=sys.stderr,
        )
        return 1
    try:
        conn = connect(args.db, readonly=True)
    except sqlite3.Error as exc:
        print(f"error: {args.db}: cannot open it ({exc})", file=sys.stderr)
        return 1
    try:
        if not has_column(conn, "questions", "vector"):
            print(f"error: {args.db}: written by an older bot; start the bot once to upgrade it", file=sys.stderr)
            return 1

        def read(sql: str, params: object) -> list[sqlite3.Row]:
            return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

        now = time.time()
        insights = load_insights(read, days=args.days, now=now, guild_id=args.guild)
        reviews = load_reviews(read, days=args.days, now=now, guild_id=args.guild)
    except sqlite3.DatabaseError as exc:
        print(f"error: {args.db}: not a bot database ({exc})", file=sys.stderr)
        return 1
    finally:
        conn.close()
    if args.json:
        print(json.dumps({**insights.to_json(), "reviews": [asdict(r) for r in reviews]}, ensure_ascii=False, indent=2))
    if args.out:
        charts = []
        if insights.questions:
            period = f"last {plural(insights.days, 'day')}"
            charts.append(
                (
                    f"Questions per day, {period}",
                    questions_per_day_png(insights.per_day, title=f"Questions per day, {period}"),
                )
            )
        if insights.top:
            top = [(g.question, g.size) for g in insights.top]
            charts.append(
                ("The most asked questions", groups_png(top, title="The most asked questions, grouped by meaning"))
            )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(render_html(insights, reviews, charts, source=str(args.db), now=now), encoding="utf-8")
        if not args.json:
            print(f"{args.out}: {plural(insights.questions, 'question')}, {plural(len(reviews), '👎', '👎')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
