"""Open the Workstation's exports in the tools users have and check what they read.

    .venv/bin/python scripts/interop_check.py EXPORT_FOLDER [--mscore mscore3]

For every ``*.mid`` in the folder: read it with mido, pretty_midi and music21; convert it with
MuseScore 3 headless (``mscore3 -o out.musicxml in.mid`` under offscreen Qt, when installed)
and read the MusicXML back with music21: parts (staves), tempo marks, time signatures, key,
notes. For every ``*.jams``: ``jams.load(validate=True)`` and ``jams.eval.tempo`` of the tempo
annotation against itself. Prints one table row per file and exits 1 if a check fails:

- MIDI: one instrument (a piano's two staves are one); every tempo between 30 and 300 BPM; at
  most one tempo mark per 4 bars on average; MuseScore shows at least 80 % of the MIDI's
  notes as onsets (its import quantises, so notes closer than its grid merge; ties are not
  counted twice);
- JAMS: validates against its schema; at least two tempo observations (``jams.eval.tempo``
  needs two).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def check_midi(path: Path, mscore: str | None) -> tuple[dict, list[str]]:
    """Facts about one MIDI file as the tools read it, and the failed checks."""
    import mido
    import pretty_midi

    facts, bad = {}, []
    mf = mido.MidiFile(path)
    tempos = [60e6 / m.tempo for tr in mf.tracks for m in tr if m.type == "set_tempo"]
    pm = pretty_midi.PrettyMIDI(str(path))
    n_notes = sum(len(i.notes) for i in pm.instruments if not i.is_drum)
    facts.update(mido_tempi=len(tempos), bpm=f"{min(tempos):.0f}-{max(tempos):.0f}" if tempos else "-",
                 pm_tracks=len(pm.instruments), notes=n_notes,
                 key=[pretty_midi.key_number_to_key_name(k.key_number) for k in pm.key_signature_changes][:1])
    if tempos and not all(30.0 <= t <= 300.0 for t in tempos):
        bad.append(f"tempo outside 30-300 BPM ({facts['bpm']})")
    if len(pm.instruments) != 1:
        bad.append(f"{len(pm.instruments)} instruments")
    try:
        import music21
        score = music21.converter.parse(str(path))
        facts["m21_parts"] = len(score.parts)
    except ImportError:
        pass
    if mscore:
        facts.update(_musescore(path, mscore, n_notes, bad))
    return facts, bad


def _musescore(path: Path, mscore: str, n_notes: int, bad: list[str]) -> dict:
    """Convert with MuseScore and read the MusicXML with music21."""
    import music21

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.musicxml"
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        r = subprocess.run([mscore, "-o", str(out), str(path)], capture_output=True, text=True,
                           timeout=300, env=env)
        if not out.exists():
            bad.append(f"MuseScore wrote nothing (rc {r.returncode}): {r.stderr[-300:]}")
            return {}
        score = music21.converter.parse(str(out))
    parts = score.parts
    marks = list(score.flatten().getElementsByClass(music21.tempo.MetronomeMark))
    sigs = [f"{t.numerator}/{t.denominator}" for t in parts[0].flatten().getElementsByClass(music21.meter.TimeSignature)]
    keys = [k.sharps for k in parts[0].flatten().getElementsByClass(music21.key.KeySignature)]
    onsets = sum(1 for p in parts for n in p.flatten().notes
                 for _ in (n.notes if n.isChord else [n])
                 if n.tie is None or n.tie.type == "start")
    bars = len(parts[0].getElementsByClass(music21.stream.Measure))
    instruments = {p.partName for p in parts}     # a piano's grand staff is two staves, one part
    facts = {"ms_instruments": len(instruments), "ms_staves": len(parts), "ms_tempo_marks": len(marks),
             "ms_bpm": f"{min(m.number for m in marks):.0f}-{max(m.number for m in marks):.0f}" if marks else "-",
             "ms_time_sigs": sigs[:3], "ms_key_sharps": keys[:1], "ms_bars": bars, "ms_onsets": onsets}
    if len(instruments) != 1 or len(parts) > 2:
        bad.append(f"MuseScore made {len(instruments)} instruments on {len(parts)} staves")
    if marks and not all(30 <= m.number <= 300 for m in marks):
        bad.append(f"MuseScore tempo marks {facts['ms_bpm']}")
    if bars and len(marks) > max(2, bars / 4):
        bad.append(f"{len(marks)} tempo marks in {bars} bars")
    if onsets < 0.8 * n_notes:   # its import quantises: notes closer than its grid merge
        bad.append(f"MuseScore shows {onsets} note onsets for {n_notes} MIDI notes")
    return facts


def check_jams(path: Path) -> tuple[dict, list[str]]:
    import jams

    bad = []
    jam = jams.load(str(path), validate=True)
    tempo = jam.search(namespace="tempo")
    n_obs = len(tempo[0].data) if tempo else 0
    facts = {"annotations": len(jam.annotations), "tempo_observations": n_obs}
    if tempo:
        try:
            jams.eval.tempo(tempo[0], tempo[0])
        except Exception as e:   # jams raises plain exceptions here
            bad.append(f"jams.eval.tempo fails: {e}")
    return facts, bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--mscore", default=None, help="MuseScore 3 command (default: mscore3 if on PATH)")
    args = ap.parse_args(argv)
    mscore = args.mscore or shutil.which("mscore3") or shutil.which("musescore3")
    if not mscore:
        print("MuseScore 3 not found (Debian: apt install musescore3): its checks are skipped")
    failed = 0
    files = sorted(args.folder.glob("*.mid")) + sorted(args.folder.glob("*.jams"))
    if not files:
        print(f"no .mid or .jams files in {args.folder}")
        return 1
    for f in files:
        facts, bad = check_midi(f, mscore) if f.suffix == ".mid" else check_jams(f)
        failed += bool(bad)
        print(f"{'FAIL' if bad else 'ok  '} {f.name}: {facts}" + (f"\n     {'; '.join(bad)}" if bad else ""))
    print(f"{len(files) - failed} of {len(files)} files pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
