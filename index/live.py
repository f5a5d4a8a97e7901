"""The index a long-running process serves, swapped for a newly published build between queries.

A query holds its own reference to the Searcher it started with, so a swap never disturbs an answer in
flight; the old build is released when its last query finishes.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from index.embedding import Embedder
from index.errors import PodcastIndexError
from index.layout import IndexLayout
from index.search import Searcher

log = logging.getLogger(__name__)


class LiveIndex:
    def __init__(self, index_dir: Path, embedder: Embedder, *, link_template: str | None = None) -> None:
        self.layout = IndexLayout(index_dir)
        self._embedder = embedder
        self._link_template = link_template
        self._lock = threading.Lock()
        self._searcher = Searcher.open(index_dir, embedder, link_template=link_template)

    @property
    def searcher(self) -> Searcher:
        return self._searcher

    def refresh(self, *, raise_errors: bool = False) -> bool:
        """Load the published build if it is not the one served; True when a new build was swapped in.

        A build that cannot be loaded is logged and the current one keeps serving; with `raise_errors` (an
        operator asked for the reload and should hear why) the PodcastIndexError is raised too.
        """
        with self._lock:
            try:
                build = self.layout.current()
                if build == self._searcher.build_dir:
                    return False
                fresh = Searcher(build, self._embedder, link_template=self._link_template)
            except PodcastIndexError as exc:
                log.warning("keeping build %s: the published index cannot be loaded: %s", self.build_id, exc)
                if raise_errors:
                    raise
                return False
            old, self._searcher = self._searcher, fresh
        log.info("now serving build %s (was %s)", fresh.build_id, old.build_id)
        return True

    @property
    def build_id(self) -> str:
        return self._searcher.build_id
