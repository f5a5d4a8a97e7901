"""The episode a question names: "in the james webb episode, what happens if …", "on django chat, …".

Listeners name the episode they half remember. Those words match every passage of that episode alike (its
title is embedded with each one), so they say nothing about which moment is meant; search finds the episode
with them and the moment with the rest (index.search, docs/retrieval.md). A show's name up front is matched
exactly and searched as a filter (split_show).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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
# "On the other hand, …", "in other words, …": openers shaped like a reference that name nothing. And "the
# last/latest/first episode" names one by its date, which the episode's words cannot find: the whole question
# is searched instead of the wrong episode being favoured.
_NOT_A_NAME = re.compile(
    r"(?:other|one|flip|bright|plus) (?:hand|side)|other (?:words|news)|(?:long|short) (?:run|term)|first place"
    r"|same (?:vein|token|way)|mean ?time|real world|big picture|(?:my|your|our) (?:experience|opinion|view)"
    r"|(?:this|that|any|my|some|most) cases?"
    r"|(?:very )?(?:last|latest|newest|previous|recent|most recent|first|next|new|other|same|this)(?: one)?",
    re.IGNORECASE,
)


def split_reference(question: str) -> tuple[str | None, str]:
    """("james webb", "what happens if …") for "in the james webb episode, what happens if …"; (None, question)
    when the question names no episode or show up front."""
    question = " ".join(question.split())
    for pattern in _REFERENCE:
        if (match := pattern.match(question)) and len(match["rest"].split()) >= _MIN_WORDS:
            if _NOT_A_NAME.fullmatch(match["reference"].strip()):
                return None, question
            return match["reference"], match["rest"]
    return None, question


def show_key(title: str) -> str:
    """A show's name as a listener says it: lower case, without "the" in front or "(selected episodes)" after."""
    title = re.sub(r"\([^)]*\)|[^\w\s']", " ", title.lower())
    return " ".join(re.sub(r"^the\s+", "", " ".join(title.split())).split())


def split_show(reference: str, shows: Iterable[str]) -> tuple[str | None, str]:
    """("Django Chat", "djangocon recap") for "django chat's djangocon recap", ("Django Chat", "") for "django
    chat", (None, reference) when the reference does not start with a show's name.

    A show named is a filter the listener asked for, not a guess: on a network's server "on django chat, …" must
    not be answered from another show's episode about Django.
    """
    said = show_key(reference)
    for show in sorted(set(shows), key=lambda title: len(show_key(title)), reverse=True):
        key = show_key(show)
        if key and (said == key or said.startswith(key + " ") or said.startswith(key + "'s ")):
            rest = said[len(key) :].removeprefix("'s").strip()
            return show, re.sub(r"^(?:episode|ep|one|show)\b\s*", "", rest)
    return None, reference
