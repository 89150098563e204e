#!/usr/bin/env bash
# Installs everything synth needs on a fresh Debian machine with Python 3.11 (idempotent).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
# Debian packages: FluidSynth's library and a sampled piano sound font (MIDI rendering), and the
# headless Chromium for the browser tests, ffmpeg (Gradio streams audio through it), cairo (PNG
# handwriting), espeak-ng (the text-to-speech baseline the judges compare with). Installed only
# where missing, and only as root.
DEBIAN_PACKAGES="libfluidsynth3 fluid-soundfont-gm musescore-general-soundfont chromium ffmpeg libcairo2 espeak-ng"
missing=$(for p in $DEBIAN_PACKAGES; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"; done)
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "note: Debian packages missing ($missing); MIDI rendering with FluidSynth will be unavailable" >&2
    fi
fi
# torch and torchaudio are pinned to the same minor version in pyproject.toml (torchaudio's
# wheels load only against the matching torch build).
"$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e '.[dev,recipes,judges,ocr]'
# basic-pitch (the piano judge) without its declared dependencies: on Linux with Python 3.11 its wheel
# requires TensorFlow 2.15, which would pull numpy 1.26 and a second TensorBoard, yet the ONNX model it
# carries runs on onnxruntime alone; what it does import is in the 'judges' extra above.
"$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps 'basic-pitch==0.4.0'
# Build the fused generation kernel now (with the machine's C compiler) rather than on the first
# request; without a compiler synth falls back to its PyTorch path and says so.
"$PYTHON" -c "from synth import kernels; print('generation kernel:', 'built' if kernels.load('wavenet_cpu') else 'not built (PyTorch fallback)')"
