"""The episode a question names: "in the james webb episode, what happens if …", "on django chat, …".

Listeners name the episode they half remember. Those words match every passage of that episode alike (its
title is embedded with each one), so they say nothing about which moment is meant; search finds the episode
with them and the moment with the rest (index.search, docs/retrieval.md).
"""

from __future__ import annotations

import re

_IN = r"(?:on|in|from|during)\s+(?:the\s+|that\s+)?(?!(?:the|that|a|an|one)\b)"
_EPISODE = r"\s+(?:episode|ep|one|show|interview|podcast)\b"
_REFERENCE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"^{_IN}(?P<reference>[^,?]{{2,60}}){_EPISODE}\s*[,:-]\s*(?P<rest>.+)$",  # "in the go time game show ep, …"
        rf"^{_IN}(?P<reference>[^,?]{{2,60}}?){_EPISODE}\s+(?P<rest>.+)$",  # "in the docker episode what …"
        rf"^{_IN}(?P<reference>[^,?\s]+\s[^,?]{{1,40}}),\s*(?P<rest>.+)$",  # "on django chat, …" (two words or more)
    )
]
_MIN_WORDS = 2  # what is left must still ask something


def split_reference(question: str) -> tuple[str | None, str]:
    """("james webb", "what happens if …") for "in the james webb episode, what happens if …"; (None, question)
    when the question names no episode or show up front."""
    question = " ".join(question.split())
    for pattern in _REFERENCE:
        if (match := pattern.match(question)) and len(match["rest"].split()) >= _MIN_WORDS:
            return match["reference"], match["rest"]
    return None, question
