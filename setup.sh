#!/usr/bin/env bash
# Installs everything synth needs on a fresh Debian machine with Python 3.11 (idempotent).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
# torch and torchaudio are pinned to the same minor version in pyproject.toml (torchaudio's
# wheels load only against the matching torch build).
"$PYTHON" -m pip install --quiet --disable-pip-version-check -e '.[dev,recipes]'
