"""Configuration of the indexing and search library, read once from the environment or `.env`.

The bot extends this class with its Discord settings (`bot.settings.Settings`), so one object configures a
process and every variable lives in one documented place (`.env.example`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.links import check_template

DEFAULT_MODEL = "all-MiniLM-L6-v2"

Backend = Literal["torch", "onnx", "onnx-int8"]
# CTranslate2 compute types that run on a CPU; int8 is the fastest there (docs/transcription.md).
ComputeType = Literal["int8", "int8_float32", "int16", "float32"]


class IndexSettings(BaseSettings):
    """Where the index lives, which model embeds it, and how transcripts are cut into passages."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    index_dir: Path = Field(Path("data/index"), description="Directory holding the published index.")
    cache_dir: Path | None = Field(None, description="Embedding and download caches; defaults to INDEX_DIR/cache.")
    embedding_model: str = Field(
        DEFAULT_MODEL,
        description="Sentence-transformers model: the bundled all-MiniLM-L6-v2, or a local model directory.",
    )
    embedding_backend: Backend = Field(
        "onnx", description="torch, onnx (torch's vectors to a cosine of 0.9999, faster) or onnx-int8 (fastest)."
    )
    embedding_batch_size: int = Field(32, ge=1, le=1024)
    approximate_above: int = Field(
        100_000,
        ge=0,
        description="Above this many passages the index is an HNSW graph (approximate) instead of an exact scan.",
    )
    chunk_words: int = Field(120, ge=20, le=1000, description="Target passage length in words.")
    chunk_overlap_words: int = Field(60, ge=0, le=500, description="Words shared by consecutive passages.")
    link_template: str = Field(
        "{link}#t={seconds}",
        description="Deep link to a moment; placeholders {link}, {seconds}, {hms}. YouTube links get a t= parameter.",
    )

    whisper_model: str = Field(
        "tiny.en",
        description="Speech recognition: the bundled Whisper tiny.en, or a CTranslate2 Whisper model directory.",
    )
    whisper_compute_type: ComputeType = Field("int8", description="CTranslate2 compute type for speech recognition.")
    enclosure_max_mb: int = Field(500, ge=1, le=100_000, description="Largest episode audio file downloaded, in MB.")

    @field_validator("link_template")
    @classmethod
    def _valid_template(cls, value: str) -> str:
        return check_template(value)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> IndexSettings:
        if self.chunk_overlap_words >= self.chunk_words:
            raise ValueError("CHUNK_OVERLAP_WORDS must be smaller than CHUNK_WORDS")
        return self

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.index_dir / "cache"
