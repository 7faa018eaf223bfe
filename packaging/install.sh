#!/usr/bin/env bash
# Installs the Workstation from this unpacked tarball into ~/.local (no root needed):
#   ~/.local/lib/workstation/                          the bundle (replaced on an update)
#   ~/.local/bin/workstation                           a link to its program
#   ~/.local/share/applications/workstation.desktop    the menu entry (audio files open with it)
#   ~/.local/share/icons/hicolor/{scalable,256x256}/apps/workstation.{svg,png}
# Your library and settings (~/.local/share/workstation, ~/.config/workstation) are never
# touched, not even by --uninstall.
#   ./install.sh [--prefix DIR] [--uninstall]
set -euo pipefail

PREFIX="$HOME/.local"
ACTION=install
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --prefix=*) PREFIX="${1#--prefix=}"; shift ;;
    --uninstall) ACTION=uninstall; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
APPDIR="$PREFIX/lib/workstation"
BIN="$PREFIX/bin/workstation"
APPS="$PREFIX/share/applications"
ICONS="$PREFIX/share/icons/hicolor"
DESKTOP="$APPS/workstation.desktop"

refresh_caches() {
  if command -v update-desktop-database >/dev/null; then
    update-desktop-database -q "$APPS" 2>/dev/null || true
  fi
  if command -v gtk-update-icon-cache >/dev/null && [ -f "$ICONS/index.theme" ]; then
    gtk-update-icon-cache -q -t "$ICONS" 2>/dev/null || true
  fi
}

if [ "$ACTION" = uninstall ]; then
  rm -rf "$APPDIR"
  rm -f "$DESKTOP" "$ICONS/scalable/apps/workstation.svg" "$ICONS/256x256/apps/workstation.png"
  if [ -L "$BIN" ]; then rm -f "$BIN"; fi
  refresh_caches
  echo "removed the Workstation from $PREFIX (your library and settings stay)"
  exit 0
fi

SRC="$HERE/workstation"
RES="$SRC/_internal/resources"
if [ ! -x "$SRC/workstation" ] || [ ! -f "$RES/workstation.desktop" ]; then
  echo "error: run install.sh from the unpacked tarball (no bundle at $SRC)" >&2
  exit 1
fi
if [ -e "$BIN" ] && [ ! -L "$BIN" ]; then
  echo "error: $BIN exists and is not a link made by this script; move it away first" >&2
  exit 1
fi

mkdir -p "$PREFIX/lib" "$PREFIX/bin" "$APPS" "$ICONS/scalable/apps" "$ICONS/256x256/apps"
tmp="$APPDIR.new.$$"
rm -rf "$tmp"
cp -a "$SRC" "$tmp"
rm -rf "$APPDIR"
mv "$tmp" "$APPDIR"
ln -sfn "$APPDIR/workstation" "$BIN"

# The menu entry runs the installed program by its full path (~/.local/bin need not be on
# the desktop session's PATH).
exec_path=$(printf '%s' "$APPDIR/workstation" | sed -e 's/[\\"`$]/\\\\&/g')
sed -e "s|^Exec=workstation |Exec=\"$exec_path\" |" \
    -e "s|^TryExec=workstation\$|TryExec=$APPDIR/workstation|" \
    "$RES/workstation.desktop" >"$DESKTOP.tmp"
mv "$DESKTOP.tmp" "$DESKTOP"
cp "$RES/workstation.svg" "$ICONS/scalable/apps/workstation.svg"
cp "$RES/workstation.png" "$ICONS/256x256/apps/workstation.png"
refresh_caches

echo "installed the Workstation $("$BIN" --version | cut -d' ' -f2) into $APPDIR"
echo "  menu entry: $DESKTOP"
echo "  command:    $BIN (workstation gui, workstation analyze ...)"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "  note: $PREFIX/bin is not on your PATH; add it to run 'workstation' in a terminal" ;;
esac
