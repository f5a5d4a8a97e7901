"""Bytes to text, refusing what is not text before any parser sees it.

A byte-order mark decides, then UTF-16 without one, then UTF-8. Anything else is a legacy encoding, which
charset-normalizer names; we take its answer only when no other encoding reads the bytes as different but
equally plausible text, because a wrong guess would index mojibake without anyone noticing.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from index.errors import TranscriptError

# A four-hour episode is at most a few MB even as word-level JSON; far larger input is a mistake or an
# attack, and both caps bound the segments (and memory) any parser can be made to produce.
MAX_INPUT_BYTES = 20 * 1024 * 1024
MAX_LINES = 1_000_000
# UTF-32's BOMs first: the little-endian one starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 controls other than tab, newlines and form feed: common in binary data, rare in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_SAMPLE_CHARS = 65536
_SAMPLE_BYTES = 65536
# Candidates whose mess score is this close to the best one's are as plausible as it is.
_PLAUSIBLE_CHAOS = 0.02
# Windows' Western code page: what old transcript exports from Windows tools are in. When it reads the bytes as
# well as any other candidate it wins the tie, so curly quotes and accents come out as their authors typed them.
_WINDOWS_WESTERN = "cp1252"
_SAVE_AS_UTF8 = "save it as UTF-8"
# Non-ASCII characters per invalid byte above which bytes are damaged UTF-8 rather than another encoding.
_DAMAGED_UTF8 = 9


def decode(data: bytes | str, source: str) -> str:
    """Text with `\\n` line ends and no BOM; TranscriptError for oversized, binary, empty or undecidable input."""
    if len(data) > MAX_INPUT_BYTES:
        raise TranscriptError(source, f"input is larger than {MAX_INPUT_BYTES // 2**20} MB")
    text = data if isinstance(data, str) else _decode_bytes(data, source)
    _refuse_binary(text, source)
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if text.count("\n") >= MAX_LINES:
        raise TranscriptError(source, f"more than {MAX_LINES:,} lines")
    if not text.strip():
        raise TranscriptError(source, "empty transcript")
    return text


def _refuse_binary(text: str, source: str) -> None:
    if "\x00" in text:
        raise TranscriptError(source, "binary data (NUL bytes), not a transcript")
    sample = text[:_SAMPLE_CHARS]
    if len(_CONTROL.findall(sample)) > len(sample) // 100:
        raise TranscriptError(source, "binary data (control characters), not a transcript")


def _decode_bytes(data: bytes, source: str) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise TranscriptError(source, f"not valid {codec} text despite its byte-order mark") from exc
    codec = _utf16_without_bom(data)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError as exc:
            raise TranscriptError(
                source, f"looks like {codec.upper()} text without a byte-order mark, but is not"
            ) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8")  # a download cut mid-character: only the last one is lost
        # Every legacy encoding keeps ASCII's control bytes, so binary data shows before any detection.
        _refuse_binary(data[:_SAMPLE_CHARS].decode("latin-1"), source)
        return _legacy(data, source, exc.start)


def _legacy(data: bytes, source: str, bad_byte: int) -> str:
    """The text in the one legacy encoding that reads `data` plausibly (cp1252 winning ties), or a refusal."""
    line = data.count(10, 0, bad_byte) + 1
    where = f"not UTF-8 (line {line})"
    as_utf8 = data.decode("utf-8", "replace")
    bad = as_utf8.count("\ufffd")
    non_ascii = len(as_utf8) - len(as_utf8.encode("ascii", "ignore"))
    if non_ascii - bad >= _DAMAGED_UTF8 * bad:
        # Legacy text hardly ever forms valid UTF-8 sequences; these bytes nearly all do, so any other reading
        # of them is mojibake: the file is UTF-8 with a few bytes broken.
        reason = (
            f"cannot tell the text encoding: UTF-8 but for {bad} bad byte{'s' * (bad > 1)}, the first on line {line}"
        )
        raise TranscriptError(source, f"{reason}; {_SAVE_AS_UTF8}")
    matches = from_bytes(data, enable_fallback=False)
    best = matches.best()
    if best is None:
        reason = f"cannot tell the text encoding: {where}, and no legacy encoding fits; {_SAVE_AS_UTF8}"
        raise TranscriptError(source, reason)
    plausible = [match for match in matches if match.chaos <= best.chaos + _PLAUSIBLE_CHAOS]
    names = " or ".join(match.encoding for match in plausible[:3])
    if any(_WINDOWS_WESTERN in match.could_be_from_charset for match in plausible):
        encoding = _WINDOWS_WESTERN
    else:
        # Encodings that agree on the text from the first non-UTF-8 line on are one reading (charset-normalizer
        # merges them itself, but not in inputs over 10 MB); differing readings are a guess we do not take.
        sample = data[data.rfind(b"\n", 0, bad_byte) + 1 :][:_SAMPLE_BYTES]
        if len({sample.decode(match.encoding, "replace")[:-2] for match in plausible}) > 1:
            raise TranscriptError(
                source, f"cannot tell the text encoding: {where}, and it reads as {names}; {_SAVE_AS_UTF8}"
            )
        encoding = best.encoding
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:  # charset-normalizer samples large inputs; a byte it skipped is no text
        reason = f"cannot tell the text encoding: {where}, and not all of it reads as {encoding}; {_SAVE_AS_UTF8}"
        raise TranscriptError(source, reason) from exc


def _utf16_without_bom(data: bytes) -> str | None:
    """The UTF-16 codec the NUL bytes point to, if any: Latin text in UTF-16 has a NUL in every other byte (the
    high byte), always on the same side; binary data has them on both sides."""
    sample = data[:4096]
    low, high = sample[0::2].count(0), sample[1::2].count(0)
    if len(sample) < 8:
        return None
    if high > len(sample) // 4 and low == 0:
        return "utf-16-le"
    if low > len(sample) // 4 and high == 0:
        return "utf-16-be"
    return None
