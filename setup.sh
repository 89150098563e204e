#!/usr/bin/env bash
# Installs everything synth needs on a fresh Debian machine with Python 3.11 (idempotent).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
# torch and torchaudio are pinned to the same minor version in pyproject.toml (torchaudio's
# wheels load only against the matching torch build).
"$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e '.[dev,recipes]'
# Build the fused generation kernel now (with the machine's C compiler) rather than on the first
# request; without a compiler synth falls back to its PyTorch path and says so.
"$PYTHON" -c "from synth import kernels; print('generation kernel:', 'built' if kernels.load('wavenet_cpu') else 'not built (PyTorch fallback)')"
