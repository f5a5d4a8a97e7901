"""Bytes to text, refusing what is not text before any parser sees it."""

from __future__ import annotations

import codecs
import re

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


def decode(data: bytes | str, source: str) -> str:
    """Text with `\\n` line ends and no BOM; TranscriptError for oversized, binary or empty input."""
    if len(data) > MAX_INPUT_BYTES:
        raise TranscriptError(source, f"input is larger than {MAX_INPUT_BYTES // 2**20} MB")
    text = data if isinstance(data, str) else _decode_bytes(data, source)
    if "\x00" in text:
        raise TranscriptError(source, "binary data (NUL bytes), not a transcript")
    sample = text[:_SAMPLE_CHARS]
    if len(_CONTROL.findall(sample)) > len(sample) // 100:
        raise TranscriptError(source, "binary data (control characters), not a transcript")
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if text.count("\n") >= MAX_LINES:
        raise TranscriptError(source, f"more than {MAX_LINES:,} lines")
    if not text.strip():
        raise TranscriptError(source, "empty transcript")
    return text


def _decode_bytes(data: bytes, source: str) -> str:
    """A BOM decides; then UTF-8; then cp1252, since old Windows exports are the one legacy encoding seen."""
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
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise TranscriptError(source, "binary data: neither UTF-8 nor cp1252 text") from exc


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
