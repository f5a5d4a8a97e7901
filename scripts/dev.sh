#!/usr/bin/env bash
# The two commands of the README, for a fresh machine with only Python 3.11+:
#   scripts/dev.sh demo   create .venv, build the demo index from samples/, start the bot (console without a token)
#   scripts/dev.sh test   create .venv if needed, run the test suite
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv

setup() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv "$VENV"
    fi
    # One stamp per pyproject.toml content: re-install only when dependencies change.
    stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        "$VENV/bin/pip" install --quiet --upgrade pip
        # torch first, as a CPU build. Where the package index serves CUDA builds (PyPI on Linux does), set
        # TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu, or this pulls several GB of CUDA wheels.
        "$VENV/bin/pip" install --quiet ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "torch==2.13.0"
        "$VENV/bin/pip" install --quiet -e ".[dev]"
        rm -f "$VENV"/.installed-*
        touch "$stamp"
    fi
}

case "${1:-}" in
    demo)
        setup
        export INDEX_DIR=${INDEX_DIR:-data/demo-index}
        "$VENV/bin/python" scripts/build_index.py --feed samples/feed.xml --out "$INDEX_DIR"
        exec "$VENV/bin/python" -m bot
        ;;
    test)
        setup
        shift
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    *)
        echo "usage: scripts/dev.sh demo | test [pytest args]" >&2
        exit 2
        ;;
esac
