"""The few domain errors the library raises; scripts and the bot turn them into one-line messages."""

from __future__ import annotations


class PodcastIndexError(Exception):
    """Base class: anything the user can fix (bad input, wrong index, unreachable feed)."""


class TranscriptError(PodcastIndexError):
    """A transcript that cannot be parsed. Names the file and, where it applies, the line."""

    def __init__(self, source: str, reason: str, line: int | None = None) -> None:
        self.source = source
        self.reason = reason
        self.line = line
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")


class AudioError(TranscriptError):
    """Episode audio that cannot be turned into a transcript: not audio, cut short, no speech. Names the file."""


class TruncatedAudio(AudioError):
    """Audio shorter than the feed says: a verdict on the feed as much as on the file, so never cached against
    the file (the feed's duration may be what is wrong, and fixed)."""


class FeedError(PodcastIndexError):
    """An RSS feed that cannot be read or parsed."""


class DownloadError(PodcastIndexError):
    """A transcript or feed download that failed after retries."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        self.url = url
        self.reason = reason
        self.status = status
        code = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{url}{code}: {reason}")


class IndexLoadError(PodcastIndexError):
    """An index directory that is missing, incomplete or corrupted."""


class IndexMismatchError(IndexLoadError):
    """An index built with a different model, backend or format than the one asked for."""


class ChaptersError(PodcastIndexError):
    """A chapters file (or tag) that cannot be used. The episode is indexed without it."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")
