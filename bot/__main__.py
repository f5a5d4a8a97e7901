"""Entry point: `python -m bot` runs the Discord bot, or the local console when no token is set.

Settings, the embedding model and the index are built here, once, and handed down (nothing below reads the
environment).
"""

from __future__ import annotations

import logging
import sys

from bot.settings import Settings
from index.embedding import load_embedder
from index.errors import PodcastIndexError
from index.live import LiveIndex


def main() -> int:
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        embedder = load_embedder(settings)
        live = LiveIndex(settings.index_dir, embedder, link_template=settings.link_template)
    except PodcastIndexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if settings.discord_token is None:
        from bot.console import run_console

        run_console(live, settings)
        return 0
    from bot.client import run_bot

    run_bot(live, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
