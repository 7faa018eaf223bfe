"""The peers measured beside us in ``benchmarks/accuracy.py`` (benchmark-only dependencies,
see ../shared/PEERS.md): each is a callable on a mono float32 array at ``C.SAMPLE_RATE``, or
None where the package is not installed (the table then says so)."""

from __future__ import annotations

import importlib

import numpy as np

from workstation.core import constants as C


def peer(name):
    """The module ``name``, or None where it is not installed (or fails to import)."""
    try:
        return importlib.import_module(name)
    except Exception:
        return None


def f0_peers(methods) -> dict:
    """label -> callable(x) -> (times_s, f0_hz, voiced) for the peers named in ``methods``
    (any of ``librosa``, ``pesto-pitch``, ``torchcrepe-tiny``, ``torchcrepe-full``, ``melodia``,
    ``melodia-guess``)."""
    out = {}
    if "librosa" in methods:
        librosa = peer("librosa")

        def lr(x):
            f, v, _ = librosa.pyin(x, fmin=65.0, fmax=2093.0, sr=C.SAMPLE_RATE,
                                   frame_length=2048, hop_length=C.HOP_LENGTH)
            return np.arange(len(f)) * C.HOP_LENGTH / C.SAMPLE_RATE, np.nan_to_num(f), v
        out["librosa.pyin (peer)"] = lr if librosa is not None else None
    if "pesto-pitch" in methods:
        out["pesto-pitch mir-1k_g7 (peer; trained on MIR-1K)"] = (
            pesto_pretrained if peer("pesto") is not None else None)
    for cap in ("tiny", "full"):
        if f"torchcrepe-{cap}" in methods:
            out[f"torchcrepe {cap} (peer, weighted argmax, 10 ms)"] = (
                _torchcrepe(cap) if peer("torchcrepe") is not None else None)
    for name, guess in (("melodia", False), ("melodia-guess", True)):
        if name in methods:
            out["essentia Melodia (peer, PredominantPitchMelodia, defaults"
                + (", guessUnvoiced=True)" if guess else ")")] = (
                _melodia(guess) if peer("essentia.standard") is not None else None)
    return out


def _melodia(guess_unvoiced=False):
    """essentia's Melodia (Salamon & Gomez 2012; essentia 2.1b6, AGPL, benchmark only):
    resampled to 44.1 kHz (EqualLoudness wants 44.1/48 kHz), EqualLoudness, then
    PredominantPitchMelodia with its defaults (frameSize 2048, hopSize 128, i.e. 2.9 ms, 80 Hz to
    20 kHz, voicingTolerance 0.2). Its FrameCutter runs with startFromZero=False, so frame i is
    centred on i * 128 / 44100 s. Unvoiced frames have pitch 0. With ``guess_unvoiced`` it also
    gives a pitch (positive) for frames it calls unvoiced, flagged by a negative confidence: those
    are returned as unvoiced with their pitch, which the harness passes to mir_eval as a negative
    estimate (credited by RPA/RCA, not by voicing or OA)."""
    import essentia.standard as es
    hop, sr = 128, 44100
    loud = es.EqualLoudness(sampleRate=sr)
    melodia = es.PredominantPitchMelodia(sampleRate=sr, frameSize=2048, hopSize=hop,
                                         guessUnvoiced=guess_unvoiced)

    def f(x):
        from workstation.core.audio import resample
        pitch, conf = melodia(loud(resample(x, orig_sr=C.SAMPLE_RATE, sr=sr)))
        pitch, conf = np.asarray(pitch, float), np.asarray(conf, float)
        return np.arange(len(pitch)) * hop / sr, pitch, (pitch > 0) & (conf >= 0)
    return f


def pesto_pretrained(x):
    """Pretrained PESTO (pesto-pitch, checkpoint mir-1k_g7) at our hop: (times_s, f0_hz, voiced)."""
    import pesto
    import torch
    step_ms = 1000.0 * C.HOP_LENGTH / C.SAMPLE_RATE
    t_ms, f, conf, _ = pesto.predict(torch.from_numpy(x), C.SAMPLE_RATE, step_size=step_ms,
                                     model_name="mir-1k_g7")
    f = f.numpy().astype(float)
    return np.arange(len(f)) * step_ms / 1000.0, f, conf.numpy() > 0.5


def _torchcrepe(capacity):
    """torchcrepe 0.0.24: 10-ms hop, its weighted-argmax decoder, periodicity >= 0.5 voiced (the
    voicing threshold does not change RPA/RCA). Its Viterbi decoder is broken with librosa 0.11
    (``librosa.sequence.viterbi`` gets the probabilities transposed: ~2 kHz on every frame of
    real singing), so it is not measured."""
    def f(x):
        import torch
        import torchcrepe
        hop = C.SAMPLE_RATE // 100
        pitch, per = torchcrepe.predict(torch.from_numpy(x)[None], C.SAMPLE_RATE, hop_length=hop,
                                        model=capacity, decoder=torchcrepe.decode.weighted_argmax,
                                        return_periodicity=True, batch_size=1024, device="cpu")
        pitch, per = pitch[0].numpy().astype(float), per[0].numpy()
        return np.arange(len(pitch)) * hop / C.SAMPLE_RATE, pitch, per >= 0.5
    return f


_BP_MODEL = None


def basic_pitch_notes(x):
    """basic-pitch 0.4 (ONNX) on a mono array at C.SAMPLE_RATE: (onsets, offsets, pitch_midi)."""
    import tempfile

    import soundfile as sf
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import Model, predict

    global _BP_MODEL
    if _BP_MODEL is None:
        _BP_MODEL = Model(ICASSP_2022_MODEL_PATH)
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        sf.write(f.name, x, C.SAMPLE_RATE)
        _, _, events = predict(f.name, _BP_MODEL)
    ev = sorted(events, key=lambda e: e[0])
    return (np.asarray([e[0] for e in ev], float), np.asarray([e[1] for e in ev], float),
            np.asarray([e[2] for e in ev], float))
