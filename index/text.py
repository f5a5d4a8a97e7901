"""Words that carry meaning: shared by keyword search and quote selection."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9][a-z0-9'+#.-]*[a-z0-9+#]|[a-z0-9]")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just like me more most my myself no nor not now
    of off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves anyone anybody someone
    say said says talk talked talking mention mentioned episode podcast guy guys thing things stuff really actually
    get got kind sort lot think know yeah okay oh um uh lol""".split()
)


def words(text: str) -> list[str]:
    """Lower-cased word tokens, keeping `c++`, `c#`, `node.js` and `don't` whole."""
    return _WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    """Words that carry meaning, crudely stemmed so 'benchmarks' meets 'benchmark'."""
    return {stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1}


def stem(word: str) -> str:
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word
