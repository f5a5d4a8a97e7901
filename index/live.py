"""The index a long-running process serves, swapped for a newly published build between queries.

A query holds its own reference to the Searcher it started with, so a swap never disturbs an answer in
flight; the old build is released when its last query finishes.

Whatever goes wrong with a newly published build (damaged files, another model, a pointer to nothing, the
whole directory deleted), the build being served keeps serving and the log says why, once per failure rather
than at every poll. A process that starts while the published build is damaged serves the newest earlier
build that loads, and says so.
"""

from __future__ import annotations

import contextlib
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
        self._failure: str | None = None  # the last reason a published build was refused (logged once)
        self._refused: Path | None = None  # that build: not retried by the poller, only by an explicit reload
        self._searcher = self._open_first(index_dir)

    @property
    def searcher(self) -> Searcher:
        return self._searcher

    def refresh(self, *, raise_errors: bool = False) -> bool:
        """Load the published build if it is not the one served; True when a new build was swapped in.

        A build that cannot be loaded is logged and the current one keeps serving; with `raise_errors` (an
        operator asked for the reload and should hear why) the error is raised too, and a build refused before
        is tried again.
        """
        with self._lock:
            build: Path | None = None
            try:
                build = self.layout.current()
                if build == self._searcher.build_dir:
                    self._failure = self._refused = None
                    return False
                if build == self._refused and not raise_errors:
                    return False  # damaged builds do not heal: wait for a new one (or an explicit reload)
                fresh = self._load(build)
            except Exception as exc:  # anything at all: the build being served must keep serving
                self._refuse(build, exc)
                if raise_errors:
                    raise
                return False
            old, self._searcher = self._searcher, fresh
            self._failure = self._refused = None
        log.info("now serving build %s (was %s)", fresh.build_id, old.build_id)
        return True

    @property
    def build_id(self) -> str:
        return self._searcher.build_id

    def _load(self, build: Path) -> Searcher:
        """A Searcher for `build`, its speaker list already counted: the bot's suggestions read it first, on the
        event loop, and counting is a GROUP BY over every sentence (a second on a million)."""
        searcher = Searcher(build, self._embedder, link_template=self._link_template)
        try:
            searcher.store.speakers()
        except BaseException:
            searcher.close()
            raise
        return searcher

    def _refuse(self, build: Path | None, exc: Exception) -> None:
        expected = isinstance(exc, PodcastIndexError)
        reason = str(exc) if expected else f"{type(exc).__name__}: {exc}"
        if reason != self._failure:
            log.warning(
                "keeping build %s: the published index cannot be loaded: %s",
                self.build_id,
                reason,
                exc_info=None if expected else exc,
            )
        self._failure = reason
        self._refused = build if expected else None  # a damaged build stays damaged; anything else may pass

    def _open_first(self, index_dir: Path) -> Searcher:
        """The published build; if it cannot be loaded, the newest build before it that can (logged)."""
        try:
            return Searcher.open(index_dir, self._embedder, link_template=self._link_template)
        except PodcastIndexError as exc:
            published = None
            with contextlib.suppress(PodcastIndexError):
                published = self.layout.current()
            builds = [b for b in self.layout.published_builds() if b != published]
            if published is not None:  # the one before it first: a newer one was never published (killed build)
                builds.sort(key=lambda b: (b.name < published.name, b.name), reverse=True)
            for build in builds:
                try:
                    searcher = self._load(build)
                except Exception:  # an earlier build may be damaged too: try the next one
                    continue
                log.warning(
                    "the published index cannot be loaded (%s); serving the earlier build %s until a good one"
                    " is published",
                    exc,
                    searcher.build_id,
                )
                self._failure, self._refused = str(exc), published
                return searcher
            raise
