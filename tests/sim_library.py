"""A small synthetic library analysed with the real pipeline, shared by the similarity tests.

Seven synthesised tracks in two families (harmonic tone melodies, drum-like noise bursts),
one track that is tones for 8 s then drums for 8 s (two segments) (region queries), and a byte-identical
copy of one track in a sub-folder (a duplicate: same content hash). Analysed in-process with
the key, beats and embedding analyzers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from synth_tones import drum_bursts, tone_pattern
from workstation.core import constants as C

SR = C.SAMPLE_RATE
TONES = ("tones_a", "tones_b", "tones_c")
DRUMS = ("drums_a", "drums_b", "drums_c")
#: The melody of the library's tone tracks (its own, so its vectors stay as measured).
STEPS = (0, 4, 7, 12, 7, 4, 0, 7)


def write_collection(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sig = {
        "tones_a": tone_pattern(8.0, root=57, bpm=100, steps=STEPS),
        "tones_b": tone_pattern(8.0, root=62, bpm=104, seed=2, steps=STEPS),
        "tones_c": tone_pattern(8.0, root=60, bpm=96, noise=0.002, steps=STEPS),
        "drums_a": drum_bursts(8.0, bpm=128),
        "drums_b": drum_bursts(8.0, bpm=132, seed=3),
        "drums_c": drum_bursts(8.0, bpm=124, seed=4),
        "mixed": np.concatenate([tone_pattern(8.0, root=59, bpm=100, seed=5, steps=STEPS),
                                 drum_bursts(8.0, bpm=128, seed=6)]),
    }
    paths = {}
    for name, x in sig.items():
        paths[name] = folder / f"{name}.wav"
        sf.write(paths[name], x, SR, subtype="FLOAT")
    (folder / "copies").mkdir(exist_ok=True)
    paths["dup"] = folder / "copies" / "tones_a_copy.wav"
    shutil.copyfile(paths["tones_a"], paths["dup"])
    return paths


def analyse(lib, analyzers=("key", "beats", "embedding")) -> None:
    from workstation.analysis.jobs import Job, specs_for
    from workstation.analysis.worker import process_job
    from workstation.inference.frontend import FrontEnd

    specs = tuple(specs_for(list(analyzers)))
    fe = FrontEnd("cpu")
    for t in lib.tracks("ok"):
        process_job(Job(t.id, t.path, t.content_hash, specs), lib, fe, lambda e: None)


@pytest.fixture(scope="session")
def sim_collection(tmp_path_factory):
    """(library root, {name: path}) of the analysed synthetic collection (read-only: tests
    that change it copy it first)."""
    from workstation.library import Library

    root = tmp_path_factory.mktemp("simlib")
    paths = write_collection(root / "music")
    with Library.open(root / "lib") as lib:
        lib.scan(root / "music")
        analyse(lib)
    return root / "lib", paths
