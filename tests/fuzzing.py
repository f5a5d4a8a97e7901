"""What the fuzz tests share: how many examples to try, and real documents damaged the way files get damaged.

`FUZZ_EXAMPLES=50000 pytest --timeout=0 tests/test_fuzz_feeds.py tests/test_parsing_errors.py` runs a longer
campaign than the suite's default 300 per test (docs/reliability.md); the per-test timeout would cut it short.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def mutated(
    draw: st.DrawFn, documents: Sequence[bytes], inserts: Sequence[bytes], *, trim_head: int = 0, copy: int = 200
) -> bytes:
    """One of `documents`, cut short (and up to `trim_head` bytes off its start), with bytes replaced, deleted,
    duplicated (up to `copy` bytes) or with one of `inserts` put in."""
    data = bytearray(draw(st.sampled_from(documents)))
    data = data[draw(st.integers(0, trim_head)) : len(data) - draw(st.integers(0, len(data) - 1))]
    for _ in range(draw(st.integers(0, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["replace", "delete", "duplicate", "insert"]))
        if action == "replace":
            data[at] = draw(st.integers(0, 255))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 50))]
        elif action == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, copy))]
        else:
            data[at:at] = draw(st.sampled_from(inserts))
    return bytes(data)
