"""Peers timed on the same file in the same process as our whole pipeline
(``throughput.py --peers``): basic-pitch 0.4 (notes only: its own CQT and ONNX Runtime),
librosa's pYIN (f0 only), essentia's RhythmExtractor2013 (beats only, multifeature). The
peers are benchmark-only dependencies (``../shared/PEERS.md``); a missing one is a row
saying so. Each peer gets one untimed warm-up call on 10 s of the file (librosa compiles
with numba on its first call), then one timed call on the whole file.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from workstation.core import constants as C


def _ours(path: Path):
    from workstation.analysis.base import TrackInfo, registry
    from workstation.analysis.pipeline import file_chunks, run_pipeline
    from workstation.core.audio import expected_samples, probe
    from workstation.inference.frontend import FrontEnd

    fe = FrontEnd("cpu")
    info = probe(str(path))
    n = expected_samples(info, C.SAMPLE_RATE)
    track = TrackInfo(str(path), C.SAMPLE_RATE, n, C.n_frames_for(n), device="cpu")

    def run(_x):
        out = run_pipeline(lambda: file_chunks(str(path), fe, n_samples=n, info=info), track,
                           [cls() for cls in registry().values()])
        assert not out.errors, out.errors
    return run


def _basic_pitch():
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import Model, predict
    model = Model(ICASSP_2022_MODEL_PATH)

    def run(x):
        import soundfile as sf
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            sf.write(f.name, x, C.SAMPLE_RATE)
            predict(f.name, model)
    return run


def _pyin():
    import librosa

    def run(x):
        librosa.pyin(x, fmin=65.0, fmax=2093.0, sr=C.SAMPLE_RATE, frame_length=2048,
                     hop_length=C.HOP_LENGTH)
    return run


def _rhythm():
    import essentia.standard as es
    extractor = es.RhythmExtractor2013(method="multifeature")

    def run(x):
        from workstation.core.audio import resample
        extractor(resample(x, orig_sr=C.SAMPLE_RATE, sr=44100).astype(np.float32))
    return run


def bench_peers(path: Path) -> list[tuple]:
    """Rows (what, analyses, seconds, realtime factor) for ours and each peer on ``path``."""
    import soundfile as sf

    from workstation.core.audio import load
    x = load(str(path), sr=C.SAMPLE_RATE)
    dur = len(x) / C.SAMPLE_RATE
    rows = []
    for label, what, make in (
            ("ours, every analyzer, preset default", "f0, salience, notes, key, beats, tags, "
             "embedding", lambda: _ours(path)),
            ("basic-pitch 0.4 (ONNX Runtime)", "notes", _basic_pitch),
            ("librosa 0.11 pyin", "f0", _pyin),
            ("essentia RhythmExtractor2013 (multifeature)", "beats, tempo", _rhythm)):
        try:
            run = make()
        except ImportError as exc:
            rows.append((label, what, "-", f"not installed ({exc.name})"))
            continue
        with tempfile.TemporaryDirectory() as d:      # warm-up on 10 s (numba, ONNX sessions)
            short = Path(d) / "short.wav"
            sf.write(short, x[:10 * C.SAMPLE_RATE], C.SAMPLE_RATE)
            (_ours(short) if label.startswith("ours") else run)(x[:10 * C.SAMPLE_RATE])
        t0 = time.perf_counter()
        run(x)
        s = time.perf_counter() - t0
        rows.append((label, what, f"{s:.1f}", f"{dur / s:.0f}x"))
    return rows
