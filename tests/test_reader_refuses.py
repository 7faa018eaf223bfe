"""The annotation reader refuses, with the file and the reason, what it used to crash on or
let through: JSON nested too deeply, garbage in a .jamz, a 5000-digit number, a 2 MB CSV
field, MIDI with 0 ticks per beat or a tempo of 0, NaN / infinite / negative times, notes
that end before they start, beats out of order, a table with a header and no rows; and
Compare says it cannot compare an empty f0 instead of crashing."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from workstation.analysis.compare import compare_results
from workstation.core.errors import AnnotationError
from workstation.core.types import PitchTrack
from workstation.export import read_annotation_file

NOTES_HEAD = "onset_s,offset_s,pitch_midi,velocity,confidence,note_name\n"


def _midi(division: int, tempo_us: int) -> bytes:
    trk = (b"\x00\xff\x51\x03" + tempo_us.to_bytes(3, "big") + b"\x00\x90\x3c\x40\x60\x80\x3c\x40"
           + b"\x00\xff\x2f\x00")
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, division) + b"MTrk" + struct.pack(">I", len(trk)) + trk


CASES = {
    "nested.jams": ("[" * 100000 + "]" * 100000, "JSON nested too deeply"),
    "garbage.jamz": (b"\x1f\x8b\x08\x00 garbage that is not gzip", "not a text (JSON) file"),
    "bignum.jams": ('{"annotations": [{"namespace": "beat", "data": [{"time": ' + "9" * 5000
                    + ', "duration": 0, "value": 1, "confidence": 1}]}]}', "digits"),
    "bigfield.csv": ("1.0," + "x" * 2_000_000 + "\n2.0,y\n", "not an annotation table: field larger"),
    "div0.mid": (_midi(0, 500000), "0 ticks per beat"),
    "tempo0.mid": (_midi(480, 0), "a tempo of 0"),
    "nan_onset.csv": (NOTES_HEAD + "nan,1.0,60,80,1,C4\n", "note 1: time nan is not a time"),
    "inf_offset.csv": (NOTES_HEAD + "0.5,inf,60,80,1,C4\n", "note 1: time inf is not a time"),
    "negative.csv": (NOTES_HEAD + "-1.0,0.5,60,80,1,C4\n", "time -1 is not a time"),
    "backwards.csv": (NOTES_HEAD + "2.0,1.0,60,80,1,C4\n", "note 1 ends (1 s) before it starts (2 s)"),
    "beats_order.csv": ("time_s,position,tempo_bpm\n1.0,1,120\n0.5,2,120\n", "beat 2 (0.5 s) comes before"),
    "f0_header_only.csv": ("time_s,frequency_hz,voiced,confidence\n", "a header but no data rows"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_refused_with_the_reason(tmp_path, name):
    content, says = CASES[name]
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(AnnotationError) as info:
        read_annotation_file(p)
    assert name in str(info.value) and says in str(info.value), str(info.value)


def test_compare_with_an_empty_f0_says_so_instead_of_crashing(caplog):
    t = np.arange(100) * 0.01
    est = PitchTrack(times_s=t, freqs_hz=np.full(100, 220.0, np.float32), voiced=np.ones(100, bool),
                     confidence=np.ones(100, np.float32))
    empty = PitchTrack(times_s=np.zeros(0), freqs_hz=np.zeros(0, np.float32), voiced=np.zeros(0, bool),
                       confidence=np.zeros(0, np.float32))
    assert compare_results({"pitch.f0": est}, {"pitch.f0": empty}) == {}
    assert "no f0 frames" in caplog.text
