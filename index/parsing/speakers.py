"""Speaker names written into subtitle text: the Podcasting 2.0 SRT style `Sarah: In today's episode...`.

The spec starts a new card when the speaker changes and writes the name once, followed by a colon, so a
name holds for every following cue until another appears. Because one false name would then label the
rest of the episode, a prefix counts only when it looks like a name and the file names speakers at least
twice (prefixes and `<v>` voices together):

- 1 to 4 words, each starting with a capital letter ("Sarah", "Mary-Jane O'Brien", "GIL DIPERSON"),
  optionally ending in a number ("Speaker 2"), at most 40 characters, at the very start of a cue, then a
  colon and a space or the line end; YouTube's `>>` speaker-change mark may come first;
- not a label that introduces text rather than a person: "Note:", "Warning:", "Step 1:", "Update:"...;
- a time ("10:30") never matches: it does not start with a letter.
"""

from __future__ import annotations

import re

_WORD = r"[^\W\d_][\w'’.-]*"  # a letter, then letters, digits, apostrophes, dots, hyphens
_PREFIX = re.compile(rf"[ \t]*(?:>>[ \t]*)?({_WORD}(?: {_WORD}){{0,3}}(?: \d{{1,3}})?)[ \t]*:(?:[ \t]+|\n|$)")
_MARK = re.compile(r"^[ \t]*>>")  # broadcast captions' "another person speaks", with or without a name
_MAX_NAME_CHARS = 40
_HEAD_CHARS = 80  # where a prefix must end; matching only this much keeps a huge cue cheap
_MIN_NAMED_CUES = 2
# Words that open a labelled sentence in captions and show notes, never a person.
_LABELS = frozenset(
    """note notes nb warning caution important tip hint step chapter part section question answer update edit
    example disclaimer correction source reminder spoiler translation transcript summary bonus sponsor ps fyi
    fact quote today tomorrow yesterday breaking lesson rule topic news""".split()
)


def name_prefix(text: str) -> tuple[str, str] | None:
    """(name, the rest of the text) when `text` opens with a speaker name and a colon."""
    head = text[:_HEAD_CHARS]
    match = _PREFIX.match(head)
    if match is None or (match.end() == len(head) < len(text)):  # `$` matched where only the head ends
        return None
    name = match[1]
    words = name.split()
    if len(name) > _MAX_NAME_CHARS or words[0].rstrip(".").lower() in _LABELS:
        return None
    if not all(word[0].isupper() for word in words if not word.isdigit()):
        return None
    return name, text[match.end() :]


def named_speakers(cues: list[tuple[str, str | None, bool]]) -> list[tuple[str, str | None]]:
    """(text, speaker) per cue from (plain text, `<v>` voice, continues the previous cue) per cue: names
    and voices hold until the next one; prefixes count only in a file that names speakers twice or more."""
    prefixes = [None if voice or continued else name_prefix(text) for text, voice, continued in cues]
    named = sum(1 for _, voice, _ in cues if voice) + sum(1 for prefix in prefixes if prefix)
    use_prefixes = named >= _MIN_NAMED_CUES
    speaker: str | None = None
    out = []
    for (text, voice, _), prefix in zip(cues, prefixes, strict=True):
        if voice:
            speaker = voice
        elif prefix and use_prefixes:
            speaker, text = prefix
        out.append((_MARK.sub("", text, count=1), speaker))
    return out
