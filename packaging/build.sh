#!/usr/bin/env bash
# Builds the Workstation's desktop bundle with PyInstaller (packaging/workstation.spec):
#   dist/workstation/                            the one-folder bundle (run dist/workstation/workstation)
#   dist/workstation-VERSION-linux-ARCH.tar.gz   the bundle + install.sh (installs into ~/.local)
#   dist/build.log                               PyInstaller's log and the build time
# Uses the project's .venv (set up by `make setup` if missing) with PyInstaller added (6.22.3
# unless $PYINSTALLER says otherwise). Takes about 5 minutes on 2 cores and about 2 GB of disk;
# not part of `make test`.
#   packaging/build.sh [--no-tarball]
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
DIST=${DIST:-dist}
WORK=${WORK:-build/pyinstaller}
TARBALL=1
for arg in "$@"; do
  case "$arg" in
    --no-tarball) TARBALL=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

if [ ! -f "$VENV/.installed" ]; then
  echo "setting up $VENV first (make setup)"
  bash packaging/bootstrap.sh
fi
PY="$VENV/bin/python"
PYINSTALLER=${PYINSTALLER:-pyinstaller==6.22.3}   # the version the figures in README were measured with
if ! "$PY" -m PyInstaller --version >/dev/null 2>&1; then
  "$PY" -m pip install -q -c constraints.txt "$PYINSTALLER"
fi
VERSION=$("$PY" -c 'import workstation; print(workstation.__version__)')
ARCH=$(uname -m)
NAME="workstation-$VERSION-linux-$ARCH"
mkdir -p "$DIST"
LOG="$DIST/build.log"

[ -f resources/workstation.png ] || "$PY" packaging/icon.py

start=$(date +%s.%N)
{
  echo "building the Workstation $VERSION bundle: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores"
  echo "PyInstaller $("$PY" -m PyInstaller --version), $("$PY" -c 'import torch; print("torch", torch.__version__)')"
} >"$LOG"
if ! "$PY" -m PyInstaller packaging/workstation.spec --noconfirm --clean \
     --distpath "$DIST" --workpath "$WORK" >>"$LOG" 2>&1; then
  tail -40 "$LOG" >&2
  echo "error: PyInstaller failed; the whole log is in $LOG" >&2
  exit 1
fi
built=$(date +%s.%N)
BUNDLE="$DIST/workstation"
# The warnings worth a look (missing modules the product imports), for the log's reader.
grep -E "^[0-9]+ (WARNING|ERROR)" "$LOG" | grep -v -E "Library not found|hidden import" | tail -20 || true

if [ "$TARBALL" = 1 ]; then
  stage="$DIST/$NAME"
  rm -rf "$stage"
  mkdir -p "$stage"
  cp -al "$BUNDLE" "$stage/workstation"           # hard links: no second copy of 1-2 GB
  cp packaging/install.sh "$stage/install.sh"
  chmod +x "$stage/install.sh"
  cat >"$stage/README.txt" <<EOF
The Workstation $VERSION for Linux ($ARCH), a desktop application for musicologists.

  ./install.sh              install into ~/.local (menu entry, icon, ~/.local/bin/workstation)
  ./install.sh --uninstall  remove it again
  ./workstation/workstation gui        or run it from here without installing

Everything runs offline; your library and settings live in ~/.local/share/workstation and
~/.config/workstation. Licences: workstation/_internal/licences/THIRD_PARTY.txt.
EOF
  tar -C "$DIST" -czf "$DIST/$NAME.tar.gz" "$NAME"
  rm -rf "$stage"
fi
end=$(date +%s.%N)

size=$(du -sm "$BUNDLE" | cut -f1)
{
  echo "bundle size: ${size} MB ($BUNDLE)"
  [ "$TARBALL" = 1 ] && echo "tarball: $DIST/$NAME.tar.gz ($(du -m "$DIST/$NAME.tar.gz" | cut -f1) MB)"
  awk -v a="$start" -v b="$built" -v c="$end" \
    'BEGIN { printf "pyinstaller seconds: %.0f\nbuild seconds: %.0f\n", b - a, c - a }'
} | tee -a "$LOG"
