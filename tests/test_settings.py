"""Every setting is documented where a newcomer looks: .env.example and the README's table."""

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def env_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def test_env_example_documents_every_setting_and_nothing_else():
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_]+)=", text, re.MULTILINE))
    assert documented == env_names()


def test_readme_configuration_table_names_every_setting():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in env_names() if f"`{name}`" not in readme]
    assert not missing


def test_env_example_loads_as_valid_settings():
    settings = Settings(_env_file=ROOT / ".env.example")
    assert settings.discord_token is None and settings.dev_guild_ids == []


def test_lists_come_comma_separated_and_the_token_stays_secret(monkeypatch):
    monkeypatch.setenv("DEV_GUILD_IDS", "123, 456")
    monkeypatch.setenv("DISCORD_TOKEN", "abc.def.ghi")
    settings = Settings(_env_file=None)
    assert settings.dev_guild_ids == [123, 456]
    assert "abc.def.ghi" not in repr(settings) and "abc.def.ghi" not in str(settings.model_dump())


@pytest.mark.parametrize(
    "bad",
    [
        {"chunk_words": 50, "chunk_overlap_words": 50},
        {"link_template": "{url}"},
        {"results_per_page": 11},
        {"score_floor": 40},  # a percentage: no answer would ever pass (scores are cosines, at most 1)
        {"score_floor": -3},
        {"score_floor": float("nan")},
    ],
)
def test_invalid_settings_are_refused(bad):
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, **bad)
    blamed = {str(part) for error in refused.value.errors() for part in error["loc"]} | {refused.value.title}
    text = str(refused.value)
    assert any(name in blamed or name in text for name in bad), text  # the setting at fault is named
