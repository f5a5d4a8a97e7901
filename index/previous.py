"""What changed since the published build: new, updated and removed episodes, and those kept on purpose.

Every build is written from scratch, so an episode the sources no longer list simply drops out. This module
reads the episodes of the live build so a run can say so, keep them when asked (`--keep-missing`, archives
whose feed drops old items) or when a source cannot be trusted to list everything, and preview it all in a
dry run. It opens the build's SQLite read-only with its own small query, independent of the search store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from index.build import STORE_FILE
from index.errors import IndexLoadError
from index.layout import MANIFEST, IndexLayout
from index.models import Episode
from index.sources import Collected
from index.sqlite_util import connect, has_column

# What a build stores of an episode besides its id; only these can tell an update (Episode may grow fields).
_DETAILS = ("podcast", "title", "transcript", "link", "guid", "number", "published", "transcript_type", "link_template")


@dataclass
class Changes:
    episodes: list[Episode]  # what the new build indexes: the sources' episodes plus the kept ones
    added: list[Episode] = field(default_factory=list)
    updated: list[Episode] = field(default_factory=list)  # same id, other transcript URL or details
    removed: list[Episode] = field(default_factory=list)
    kept: list[tuple[Episode, str]] = field(default_factory=list)  # no longer listed, kept, and why

    def published(self, ids: set[str]) -> Changes:
        """These changes as the build published them: an episode it had to skip (listed in its report, with why)
        is neither new nor updated."""
        return replace(
            self,
            added=[e for e in self.added if e.episode_id in ids],
            updated=[e for e in self.updated if e.episode_id in ids],
        )

    def summary(self) -> str:
        lines = [
            f"Changes since the previous build: {len(self.added)} new, {len(self.updated)} updated,"
            f" {len(self.removed)} removed, {len(self.kept)} kept though no longer listed"
        ]
        lines += listed("new", [f"{e.title} ({e.transcript})" for e in self.added])
        lines += listed("updated", [f"{e.title} ({e.transcript})" for e in self.updated])
        lines += listed("removed", [f"{e.title} ({e.episode_id})" for e in self.removed])
        lines += listed("kept", [f"{e.title} ({reason})" for e, reason in self.kept])
        return "\n".join(lines)


def listed(label: str, items: list[str], limit: int = 20) -> list[str]:
    """One line per item; a first run over a large feed names the first few rather than hundreds."""
    lines = [f"  {label}: {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"  {label}: ... and {len(items) - limit} more")
    return lines


def previous_episodes(out: Path) -> list[Episode]:
    """The episodes of the build published in `out`; none when nothing was published yet.

    Raises IndexLoadError when a build is published but cannot be read.
    """
    layout = IndexLayout(out)
    if layout.current_id() is None and not (layout.root / MANIFEST).is_file():
        return []
    path = layout.current() / STORE_FILE
    try:
        conn = connect(path, readonly=True)
        try:
            # A build of an older format (before transcripts had an origin) is still read, to tell what changed.
            origin = ", origin" if has_column(conn, "episodes", "origin") else ""
            rows = conn.execute(f"SELECT key, {', '.join(_DETAILS)}{origin} FROM episodes ORDER BY id").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise IndexLoadError(f"{path}: cannot read the episodes of the published build ({exc})") from exc
    return [
        Episode(
            episode_id=row["key"],
            **{name: row[name] for name in _DETAILS},
            origin="machine" if origin and row["origin"] == "machine" else "published",
        )
        for row in rows
    ]


def compare(found: Collected, previous: Sequence[Episode], *, keep_missing: bool = False) -> Changes:
    """The next build's episodes and how they differ from `previous`.

    An episode no longer listed is removed only when every source was read and its podcast's source was read
    in full, or when its source is gone from the command line and every source was read in full; otherwise (or
    with `keep_missing`) it is kept. A feed that could not be read at all keeps every missing episode: its
    title is unknown, and may be another feed's.
    """
    before = {e.episode_id: e for e in previous}
    listed = {e.episode_id for e in found.episodes}
    changes = Changes(episodes=list(found.episodes))
    for episode in found.episodes:
        old = before.get(episode.episode_id)
        if old is None:
            changes.added.append(episode)
        elif any(getattr(old, name) != getattr(episode, name) for name in _DETAILS):
            changes.updated.append(episode)
    for episode in previous:
        if episode.episode_id in listed:
            continue
        reason = _reason_to_keep(episode, found, keep_missing)
        if reason is None:
            changes.removed.append(episode)
        else:
            changes.kept.append((episode, reason))
            changes.episodes.append(episode)
    return changes


def _reason_to_keep(episode: Episode, found: Collected, keep_missing: bool) -> str | None:
    if keep_missing:
        return "--keep-missing"
    if episode.podcast in found.incomplete:
        return found.incomplete[episode.podcast]
    if found.unread:  # an unread feed may be where it came from, even when another feed of that title was read
        return "; ".join(f"could not read {location}" for location in found.unread)
    if episode.podcast in found.complete:
        return None
    # Of a podcast no source listed in full: gone from the command line, unless a source that could not be read
    # (or not in full, perhaps under a new title) is where it came from.
    doubts = [*found.incomplete.values(), *(f"could not read {location}" for location in found.unread)]
    return "; ".join(doubts) or None
