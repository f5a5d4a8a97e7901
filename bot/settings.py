"""The one settings object of the bot process: the library's settings plus the Discord ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from index.settings import IndexSettings


class Settings(IndexSettings):
    """Read once at start-up (`Settings()`); tests build `Settings(_env_file=None, ...)`."""

    discord_token: SecretStr | None = Field(None, description="Bot token; without one, `python -m bot` is a console.")
    dev_guild_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="Comma-separated guild ids: sync commands there at once (development)."
    )
    allowed_channel_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="Comma-separated channel ids where the bot answers; empty = everywhere."
    )
    ephemeral_answers: bool = Field(False, description="Answer /ask only to the person who asked.")
    results_per_page: int = Field(3, ge=1, le=10, description="Answers shown per page (More shows the next page).")
    score_floor: float = Field(
        0.4,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="Below this score a passage is not shown: 'no confident match'.",
    )
    cooldown_questions: int = Field(4, ge=1, description="Questions a user may ask per cooldown window.")
    cooldown_seconds: float = Field(60.0, ge=0, description="Length of the cooldown window; 0 disables it.")
    max_question_chars: int = Field(300, ge=10, le=4000, description="Longer questions are refused with a hint.")
    message_content_intent: bool = Field(
        False,
        description="Ask Discord for the privileged Message Content intent (enable it in the Developer Portal too): "
        "needed for forum auto-answers and thread follow-ups; mentions and commands work without it.",
    )
    shard_count: int | None = Field(None, ge=1, description="Run this many shards (one AutoShardedClient); unset = 1.")
    bot_db: Path = Field(Path("data/bot.sqlite"), description="SQLite file for asked questions and feedback.")
    store_questions: bool = Field(
        True, description="Record asked questions (hashed askers) for buttons and /insights; false = record none."
    )
    index_poll_seconds: float = Field(30.0, ge=0, description="How often to look for a newly published index.")
    log_level: str = Field("INFO", description="Python logging level.")

    @field_validator("dev_guild_ids", "allowed_channel_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(" ", "").split(",") if part]
        return value
