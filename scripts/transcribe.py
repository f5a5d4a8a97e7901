"""Transcribe episode audio into WebVTT and Podcasting 2.0 JSON files, to publish in a feed.

    python scripts/transcribe.py episode-12.mp3 https://example.com/audio/13.mp3 --out transcripts/

Each input gives DIR/<name>.vtt and DIR/<name>.json (one segment per word); link them from the feed with
`<podcast:transcript url="..." type="text/vtt"/>` and `type="application/json"`. Transcripts are cached under
CACHE_DIR (INDEX_DIR/cache): shared with build_index.py --transcribe when its --out is INDEX_DIR (its default) or
CACHE_DIR is set, so nothing is transcribed twice. The model
is WHISPER_MODEL (the bundled tiny.en by default) at WHISPER_COMPUTE_TYPE. Exit status: 0 when every input was
transcribed, 1 when any failed (each is named), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

from index.audio.formats import podcast_json, webvtt
from index.audio.pipeline import AudioTranscripts, file_identity
from index.audio.recognize import Word
from index.errors import PodcastIndexError
from index.fetch import Fetcher, Validators
from index.settings import IndexSettings
from index.sources import is_url


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", metavar="AUDIO_OR_URL", help="audio files or URLs")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="where to write the transcripts")
    args = parser.parse_args(argv)
    names = [output_name(item) for item in args.inputs]
    if len(set(names)) != len(names):
        parser.error("two inputs have the same file name; their transcripts would overwrite each other")
    for item in args.inputs:
        if not is_url(item) and not Path(item).is_file():
            parser.error(f"{item}: no such file")
    return args


def output_name(item: str) -> str:
    """`https://host/ep/13.mp3?x=1` -> `13`; `talk.ogg` -> `talk`."""
    path = unquote(urlsplit(item).path) if is_url(item) else item
    return Path(path).stem or "transcript"


def words_of(item: str, audio: AudioTranscripts, fetcher: Fetcher, max_bytes: int) -> tuple[list[Word], bool]:
    """The words of one input and whether they came from the cache; raises PodcastIndexError."""
    path = audio.partial_download()
    try:
        if is_url(item):
            downloaded = fetcher.download_to(item, path, validators=Validators(), max_bytes=max_bytes)
            assert downloaded is not None  # an unconditional request is never answered 304
        else:
            downloaded = file_identity(Path(item))
        cached = audio.cache.transcript(downloaded.sha256)
        if cached is not None and cached.body is not None:
            return cached.words(), True
        transcript = audio.of_file(downloaded.path, item)
        audio.store(item if is_url(item) else None, downloaded, transcript)
        return list(transcript.words), False
    finally:
        path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    settings = IndexSettings()
    args = parse_args(argv)
    cache_dir = settings.resolved_cache_dir
    failed = 0
    try:
        audio = AudioTranscripts.open(
            cache_dir, model=settings.whisper_model, compute_type=settings.whisper_compute_type
        )
    except PodcastIndexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with audio, Fetcher(cache_dir / "http", store=False) as fetcher:
        for item in args.inputs:
            try:
                words, cached = words_of(item, audio, fetcher, settings.enclosure_max_mb * 1024 * 1024)
            except PodcastIndexError as exc:
                print(f"failed: {exc}", file=sys.stderr)
                failed += 1
                continue
            name = output_name(item)
            (args.out / f"{name}.vtt").write_text(webvtt(words), encoding="utf-8")
            (args.out / f"{name}.json").write_bytes(podcast_json(words))
            origin = "from the transcript cache" if cached else f"transcribed with {audio.recognizer.model.model_id}"
            print(f"{item}: {len(words)} words, {origin} -> {args.out / name}.vtt, {args.out / name}.json")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
