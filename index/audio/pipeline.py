"""Download and transcribe a run's audio-only episodes, then hand their transcripts to the build.

Before the index is built, every episode whose feed item has audio but no transcript is revalidated (a 304
when it has not changed), downloaded to a file when new or changed, decoded and transcribed, and its transcript
cached. One episode failing never stops the others; each failure is kept for the report and for the build's
list of skipped episodes. The build then reads machine transcripts from the cache like any transcript file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from index.audio.cache import Cached, TranscriptCache
from index.audio.decode import SAMPLE_RATE, decode
from index.audio.formats import podcast_json
from index.audio.model import find_model
from index.audio.recognize import MachineTranscript, Recognizer
from index.chapters import chapters_json, parse_chapters_json, read_id3_chapters
from index.errors import AudioError, ChaptersError, DownloadError, TruncatedAudio
from index.fetch import Downloaded, Fetcher, Validators
from index.links import format_clock
from index.models import Chapter, Episode
from index.sources import is_url
from index.wording import plural

# Real-time factor of the bundled tiny.en (int8) on this project's 2-core machines (docs/transcription.md), for
# estimates until the cache has measured this machine's own.
DEFAULT_SPEED = 12.0
STALE_DOWNLOAD_SECONDS = 6 * 3600  # a partial download this old belongs to a killed run


@dataclass(frozen=True, slots=True)
class Finished:
    title: str
    duration: float
    seconds: float
    words: int

    def line(self) -> str:
        speed = self.duration / self.seconds if self.seconds > 0 else float("inf")
        return (
            f"transcribed {self.title}: {format_clock(self.duration)} of audio in {self.seconds:.1f} s"
            f" ({speed:.1f}x real time), {self.words} words"
        )


@dataclass
class TranscriptionReport:
    transcribed: list[Finished] = field(default_factory=list)
    unchanged: int = 0  # transcripts from the cache: the audio had not changed, or was transcribed before
    failed: dict[str, str] = field(default_factory=dict)  # audio URL -> reason
    stale: dict[str, str] = field(default_factory=dict)  # audio URL -> why the earlier transcript was used

    def summary(self) -> str:
        audio = sum(f.duration for f in self.transcribed)
        work = sum(f.seconds for f in self.transcribed)
        speed = f", {audio / work:.1f}x real time" if work > 0 else ""
        lines = [
            f"Transcription: {plural(len(self.transcribed), 'episode')} transcribed ({format_clock(audio)} of audio in"
            f" {work:.0f} s{speed}), {self.unchanged} from the transcript cache, {len(self.failed)} failed"
        ]
        lines += [f"  {url}: {reason} (used the transcript of an earlier run)" for url, reason in self.stale.items()]
        lines += [f"  {url}: {reason}" for url, reason in self.failed.items()]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Estimate:
    episodes: int
    seconds: float  # of audio, where the feed gave a duration
    unknown: int  # episodes without <itunes:duration>
    speed: float
    measured: bool  # the speed was measured by earlier runs here, not assumed

    def describe(self) -> str:
        unknown = f" and {self.unknown} of unknown length" if self.unknown else ""
        basis = "measured here" if self.measured else "the bundled model on 2 cores"
        work = self.seconds / self.speed
        about = f"{work / 60:.0f} min" if work >= 90 else f"{work:.0f} s"
        return (
            f"{plural(self.episodes, 'episode')} {'has' if self.episodes == 1 else 'have'} audio only"
            f" ({format_clock(self.seconds)} of audio{unknown}); transcribing"
            f" takes about {about} at {self.speed:.0f}x real time ({basis})"
        )


class AudioTranscripts:
    """The machine transcripts of a run: made (`transcribe_episodes`), estimated, and read back by the build."""

    def __init__(self, cache: TranscriptCache, recognizer: Recognizer, download_dir: Path) -> None:
        self.cache = cache
        self.recognizer = recognizer
        self.download_dir = download_dir
        self.failed: dict[str, str] = {}

    @classmethod
    def open(cls, cache_dir: Path, *, model: str, compute_type: str, dry_run: bool = False) -> AudioTranscripts:
        """The transcripts under `cache_dir` made with `model` (WHISPER_MODEL) at `compute_type`; a dry run with no
        cache yet reads an empty one in memory rather than create it.

        Raises WhisperModelError for a missing or changed model; the model itself loads on first transcription.
        """
        recognizer = Recognizer(find_model(model), compute_type=compute_type)
        path = cache_dir / "transcripts.sqlite"
        cache = TranscriptCache(":memory:" if dry_run and not path.exists() else path, recognizer.settings)
        return cls(cache, recognizer, cache_dir / "audio")

    def close(self) -> None:
        self.cache.close()

    def __enter__(self) -> AudioTranscripts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ready(self, episodes: Sequence[Episode]) -> list[Episode]:
        """The machine-transcript episodes whose transcript is cached: what the build can index."""
        cached = [(e, self.cache.for_url(e.transcript, any_settings=True)) for e in episodes]
        return [e for e, c in cached if c is not None and c.body is not None]

    def pending(self, episodes: Sequence[Episode]) -> list[Episode]:
        """The machine-transcript episodes with no transcript cached for their audio URL yet (with the current
        settings: after a change of model, --transcribe makes them again)."""
        return [e for e in episodes if e.origin == "machine" and self.cache.for_url(e.transcript) is None]

    def estimate(self, episodes: Sequence[Episode]) -> Estimate:
        """How long transcribing the pending ones of `episodes` would take (those served by a transcript made with
        other settings are not waiting: they are indexed)."""
        served = {e.episode_id for e in self.ready(episodes)}
        waiting = [e for e in self.pending(episodes) if e.episode_id not in served]
        measured = self.cache.speed()
        return Estimate(
            episodes=len(waiting),
            seconds=sum(e.audio_duration or 0 for e in waiting),
            unknown=sum(e.audio_duration is None for e in waiting),
            speed=measured or DEFAULT_SPEED,
            measured=measured is not None,
        )

    def read(self, episode: Episode) -> bytes:
        """The machine transcript of `episode` (Podcasting 2.0 JSON), for `build_index`'s reader.

        Raises AudioError naming the audio when there is none: its download or transcription failed, or it was
        never transcribed (runs without --transcribe).
        """
        url = episode.transcript
        cached = self.cache.for_url(url, any_settings=True)
        if cached is not None and cached.body is not None:
            return cached.body
        reason = self.failed.get(url) or (cached.reason if cached is not None else None)
        raise AudioError(url, reason or "audio only: not transcribed yet (run with --transcribe to index it)")

    def chapters(self, episode: Episode) -> list[Chapter]:
        """The ID3 chapters of the audio `episode`'s machine transcript was made from (none when its tag has
        none). Raises ChaptersError when the tag's chapters could not be read."""
        cached = self.cache.for_url(episode.transcript, any_settings=True)
        if cached is None or cached.body is None:
            return []
        if cached.chapters_reason:
            raise ChaptersError(episode.transcript, cached.chapters_reason)
        return parse_chapters_json(cached.chapters.encode(), episode.transcript) if cached.chapters else []

    def transcribe_episodes(
        self,
        episodes: Sequence[Episode],
        fetcher: Fetcher,
        *,
        max_bytes: int,
        progress: bool = False,
        say: Callable[[str], None] = print,
    ) -> TranscriptionReport:
        """Make sure every machine-transcript episode of `episodes` has a transcript of its current audio.

        Shows one progress bar over the minutes of audio to transcribe (real-time factor, ETA) and says one line
        per finished episode.
        """
        self._remove_stale_downloads()
        report = TranscriptionReport()
        todo = [e for e in episodes if e.origin == "machine"]
        pending = self.pending(todo)
        expected = sum(e.audio_duration or 0 for e in pending)
        with _AudioBar(expected, enabled=progress and bool(pending)) as bar:
            for episode in todo:
                try:
                    finished = self._episode(episode, fetcher, max_bytes, bar, report)
                except (AudioError, DownloadError) as exc:
                    reason = exc.reason
                    self.failed[episode.transcript] = reason
                    report.failed[episode.transcript] = reason
                    bar.write(f"failed {episode.title}: {reason}", say)
                    continue
                if finished is None:
                    report.unchanged += 1
                else:
                    report.transcribed.append(finished)
                    bar.write(finished.line(), say)
        return report

    def of_file(
        self, path: Path, source: str, *, expected: float | None = None, progress: Callable[[float], None] | None = None
    ) -> MachineTranscript:
        """Decode and transcribe one audio file (not cached: the caller stores it with what identifies it)."""
        samples = decode(path, source, expected=expected)
        return self.recognizer.transcribe(samples, source, progress=progress)

    def _episode(
        self, episode: Episode, fetcher: Fetcher, max_bytes: int, bar: _AudioBar, report: TranscriptionReport
    ) -> Finished | None:
        """Transcribe one episode's audio when it is new or changed; None when the cached transcript stands."""
        url = episode.transcript
        current = self.cache.for_url(url)
        earlier = self.cache.for_url(url, any_settings=True)  # what serves if this run fails
        if not is_url(url):  # beside a feed read from disk, as its transcripts may be
            try:
                local = file_identity(Path(url))
            except OSError as exc:
                raise AudioError(url, f"cannot read the audio ({exc.strerror or exc})") from exc
            return self._from_bytes(episode, local, earlier, bar, report)
        validators = self.cache.validators(url) if current is not None else None  # else: transcribe it again
        path = self.partial_download()
        try:
            try:
                downloaded = fetcher.download_to(
                    url,
                    path,
                    validators=validators or Validators(),
                    max_bytes=max_bytes,
                    fallback=earlier is not None and earlier.body is not None,
                )
            except DownloadError as exc:
                if earlier is None or earlier.body is None:
                    raise
                report.stale[url] = exc.reason
                return None
            if downloaded is None:  # 304: the audio of the cached transcript is still what the feed offers
                if current is not None and current.body is None and earlier is not None and earlier.body is not None:
                    report.stale[url] = current.reason or "could not be transcribed"  # with these settings
                    return None
                return _check(current, url)
            return self._from_bytes(episode, downloaded, earlier, bar, report)
        finally:
            path.unlink(missing_ok=True)

    def _from_bytes(
        self,
        episode: Episode,
        downloaded: Downloaded,
        earlier: Cached | None,
        bar: _AudioBar,
        report: TranscriptionReport,
    ) -> Finished | None:
        """The transcript of the audio the episode's URL serves now: cached for these bytes, or made."""
        url = episode.transcript
        usable = earlier is not None and earlier.body is not None
        known = self.cache.transcript(downloaded.sha256)
        if known is not None and known.body is None and usable:  # the bad bytes of an earlier run, again
            report.stale[url] = known.reason or "could not be transcribed"
            return None
        if known is not None:  # the same bytes were transcribed before (new validators, or another URL)
            self.cache.remember(url, downloaded)
            return _check(known, url)
        try:
            return self._transcribe(episode, downloaded, bar, url_serves_it=not usable)
        except AudioError as exc:
            # What the URL serves today is no audio (a CDN's error page with status 200, a file cut short):
            # the transcript of what it served before keeps standing, as it does for a failed download.
            if not usable:
                raise
            report.stale[url] = exc.reason
            return None

    def _transcribe(self, episode: Episode, downloaded: Downloaded, bar: _AudioBar, *, url_serves_it: bool) -> Finished:
        """Transcribe and cache the downloaded audio; a failure is cached against its bytes, and against the URL
        only when `url_serves_it` (no earlier transcript of the URL to keep)."""
        url = episode.transcript
        # Once per run, before the clock starts (the real-time factor is the work's), and outside the try below:
        # a model that cannot load is this run's trouble, not the audio's, and must not be cached against it.
        self.recognizer.load()
        try:
            samples = decode(downloaded.path, url, expected=episode.audio_duration)
            bar.expect(episode.audio_duration or 0, samples.size / SAMPLE_RATE)
            transcript = self.recognizer.transcribe(samples, url, progress=bar.tracker())
        except AudioError as exc:
            if not isinstance(exc, TruncatedAudio):  # that one depends on the feed: tried again next run
                self.cache.put_failure(url if url_serves_it else None, downloaded, exc.reason)
            raise
        finally:
            bar.finish_episode()
        self.store(url, downloaded, transcript)
        return Finished(episode.title, transcript.duration, transcript.seconds, len(transcript.words))

    def store(self, url: str | None, downloaded: Downloaded, transcript: MachineTranscript) -> None:
        """Cache the transcript of these bytes with the audio's own ID3 chapters (and, given `url`, as what it
        serves): a build that meets the same bytes later reads both from here."""
        chapters = _id3_chapters(downloaded.path, url or str(downloaded.path))
        self.cache.put(url, downloaded, transcript, podcast_json(transcript.words), chapters)

    def partial_download(self) -> Path:
        """A new empty file to download audio into; the caller removes it. One that a killed run left behind is
        removed by a later run once STALE_DOWNLOAD_SECONDS old."""
        self.download_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.download_dir, prefix="audio-", suffix=".part")
        os.close(fd)
        return Path(name)

    def _remove_stale_downloads(self) -> None:
        if not self.download_dir.is_dir():
            return
        for path in self.download_dir.glob("audio-*.part"):
            try:
                if time.time() - path.stat().st_mtime > STALE_DOWNLOAD_SECONDS:
                    path.unlink()
            except OSError:
                continue


def _id3_chapters(path: Path, source: str) -> tuple[str | None, str | None]:
    """The audio file's ID3 chapters as JSON, or why they could not be read, for the transcript cache."""
    try:
        chapters = read_id3_chapters(path, source)
    except ChaptersError as exc:
        return None, exc.reason
    return (chapters_json(chapters) if chapters else None), None


def file_identity(path: Path) -> Downloaded:
    """A local audio file described like a download, so its transcript is cached by content hash too."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return Downloaded(path, path.stat().st_size, digest.hexdigest(), None, Validators(), str(path))


def _check(cached: Cached | None, url: str) -> None:
    """A cached verdict that this audio has no usable speech stands: raise it again rather than retry."""
    if cached is not None and cached.body is None:
        raise AudioError(url, cached.reason or "could not be transcribed")


class _AudioBar:
    """One bar over the run's minutes of audio, with the real-time factor; the total grows as lengths are known."""

    def __init__(self, expected_seconds: float, *, enabled: bool) -> None:
        self._bar = tqdm(
            total=round(expected_seconds / 60, 1),
            unit="min",
            desc="transcribing",
            disable=not enabled,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} audio min"
            " [{elapsed}<{remaining}{postfix}]",
        )
        self._base = 0.0  # audio minutes of the episodes finished so far
        self._audio = 0.0  # seconds of audio transcribed, and the work it took, for the real-time factor
        self._work = 0.0
        self._started = 0.0
        self._episode_audio = 0.0

    def __enter__(self) -> _AudioBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()

    def expect(self, feed_seconds: float, real_seconds: float) -> None:
        """The episode about to be transcribed is `real_seconds` long (the total assumed `feed_seconds`)."""
        self._bar.total = round(max(self._bar.total + (real_seconds - feed_seconds) / 60, self._base), 1)
        self._bar.refresh()
        self._started = time.perf_counter()
        self._episode_audio = 0.0

    def tracker(self) -> Callable[[float], None]:
        def advance(seconds: float) -> None:
            self._episode_audio = seconds
            self._bar.n = round(self._base + seconds / 60, 2)
            work = self._work + time.perf_counter() - self._started
            if work > 0:
                self._bar.set_postfix_str(f"{(self._audio + seconds) / work:.1f}x real time", refresh=False)
            self._bar.refresh()

        return advance

    def finish_episode(self) -> None:
        if self._started:
            self._work += time.perf_counter() - self._started
            self._audio += self._episode_audio
            self._base += self._episode_audio / 60
            self._started = 0.0

    def write(self, line: str, say: Callable[[str], None]) -> None:
        if self._bar.disable:
            say(line)
        else:
            self._bar.write(line)
