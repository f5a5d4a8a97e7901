"""How counts read in reports and in the bot's messages: "1 episode", "2 episodes", "1,234 passages"."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`count` and `noun`, the noun in the plural unless the count is one; `many` for irregular plurals."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"
