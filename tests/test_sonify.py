"""Note sonification (workstation.export.sonify): known pitches, bends, lengths, silence
outside the notes, click-free envelopes, peak limiting, and the notes + audio WAV mix."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from workstation.core import constants as C
from workstation.core.errors import AudioError
from workstation.core.types import Notes
from workstation.export import sonify
from workstation.export.sonify import synthesize_notes, write_notes_mix

SR = C.SAMPLE_RATE
REL_N = int(round(sonify.RELEASE_S * SR))


def _notes(*triples, velocity=100, bends=None) -> Notes:
    on, off, pitch = (np.array(v, dtype=float) for v in zip(*triples))
    kw = {}
    if bends:
        bn, bt, bc = (np.array(v) for v in zip(*bends))
        kw = dict(bend_note=bn.astype(np.int64), bend_times_s=bt.astype(float),
                  bend_cents=bc.astype(float))
    return Notes(onsets_s=on, offsets_s=off, pitch_midi=pitch.astype(np.int64),
                 velocity=np.full(len(on), velocity, dtype=np.int64), **kw)


def _peak_hz(x: np.ndarray, *, lo: float = 50.0, hi: float = 2000.0) -> float:
    """Frequency of the strongest spectral peak in [lo, hi] Hz (Hann window, zero padding,
    parabolic interpolation)."""
    n_fft = 1 << int(np.ceil(np.log2(len(x) * 16)))
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x)), n_fft))
    freqs = np.fft.rfftfreq(n_fft, 1 / SR)
    band = np.flatnonzero((freqs >= lo) & (freqs <= hi))
    k = band[np.argmax(mag[band])]
    a, b, c = np.log(mag[k - 1:k + 2] + 1e-20)
    return float(freqs[k] + 0.5 * (a - c) / (a - 2 * b + c) * (freqs[1] - freqs[0]))


def test_a4_has_its_pitch_and_silence_outside_its_span():
    y = synthesize_notes(_notes((0.5, 1.5, 69)), n_samples=3 * SR)
    assert y.dtype == np.float32 and y.shape == (3 * SR,)
    on, off = int(0.5 * SR), int(1.5 * SR)
    assert abs(_peak_hz(y[on:off]) - 440.0) < 1.0
    assert np.all(y[:on] == 0)
    assert np.all(y[off + REL_N + 1:] == 0)  # silent after the release tail
    assert np.max(np.abs(y[off:off + REL_N // 2])) > 0.01  # the tail is there
    assert np.max(np.abs(y[on:off])) > 0.05
    # the spectrum is harmonic: the strongest partial above 600 Hz is the second (880 Hz)
    assert abs(_peak_hz(y[on:off], lo=600, hi=5000) - 880.0) < 2.0


@pytest.mark.parametrize("midi", [33, 45, 60, 81, 96])
def test_every_register_sounds_at_its_pitch(midi):
    y = synthesize_notes(_notes((0.0, 1.0, midi)))
    f = 440.0 * 2 ** ((midi - 69) / 12)
    assert abs(_peak_hz(y[:SR], lo=0.7 * f, hi=1.4 * f) - f) < max(0.5, 0.002 * f)


def test_length_default_and_explicit():
    notes = _notes((0.2, 0.7, 60), (0.5, 1.25, 64))
    assert len(synthesize_notes(notes)) == int(round(1.25 * SR)) + REL_N
    assert len(synthesize_notes(notes, n_samples=12345)) == 12345
    assert len(synthesize_notes(notes, n_samples=SR // 2)) == SR // 2  # cut
    empty = Notes(onsets_s=np.zeros(0), offsets_s=np.zeros(0), pitch_midi=np.zeros(0, int),
                  velocity=np.zeros(0, int))
    assert len(synthesize_notes(empty)) == 0
    assert np.all(synthesize_notes(empty, n_samples=100) == 0)


def test_no_clicks_at_attack_and_release():
    y = synthesize_notes(_notes((0.1, 0.6, 45)), gain_db=0.0)  # A2, 110 Hz
    on, off = int(0.1 * SR), int(0.6 * SR)
    peak = np.max(np.abs(y))
    assert peak > 0.3
    assert abs(y[on]) < 1e-3 * peak and abs(y[on + 1]) < 0.02 * peak
    assert abs(y[off + REL_N - 1]) < 1e-3 * peak
    # smooth everywhere: a click would be a jump of the order of the peak
    assert np.max(np.abs(np.diff(y))) < 0.15 * peak


def test_velocity_sets_amplitude():
    loud = synthesize_notes(_notes((0.0, 0.5, 60), velocity=127))
    soft = synthesize_notes(_notes((0.0, 0.5, 60), velocity=64))
    assert np.allclose(soft, loud * (64 / 127) ** 2, atol=1e-6)
    # gain_db: one velocity-127 note peaks at the gain
    assert np.max(np.abs(loud)) == pytest.approx(10 ** (-12 / 20), rel=0.05)


def test_step_bend_changes_the_frequency():
    # A4 for 2 s, bent +200 cents (to B4) from 1.0 s on
    y = synthesize_notes(_notes((0.0, 2.0, 69), bends=[(0, 1.0, 200.0)]))
    assert abs(_peak_hz(y[int(0.2 * SR):int(0.95 * SR)]) - 440.0) < 1.0
    assert abs(_peak_hz(y[int(1.05 * SR):int(1.95 * SR)]) - 493.88) < 1.0


def test_gliding_bend_is_followed():
    # bend points every 10 ms: a glide from 0 to +1200 cents over 2 s (A4 -> A5)
    ts = np.arange(0.0, 2.0, 0.01)
    y = synthesize_notes(_notes((0.0, 2.0, 69), bends=[(0, t, 600.0 * t) for t in ts]))
    for t in (0.3, 0.8, 1.3, 1.8):
        seg = y[int((t - 0.04) * SR):int((t + 0.04) * SR)]
        expect = 440.0 * 2 ** ((600.0 * t) / 1200)
        assert abs(_peak_hz(seg, lo=0.8 * expect, hi=1.25 * expect) - expect) < 0.01 * expect
    # the phase stays continuous through 200 steps: no jump larger than a smooth wave allows
    peak = np.max(np.abs(y))
    assert np.max(np.abs(np.diff(y[200:-REL_N - 1]))) < 0.9 * peak


def test_crossing_a_block_border_changes_nothing():
    # rendering goes in 30-s blocks: a note across the border equals the same note elsewhere
    notes = _notes((29.9, 30.3, 57), (1.0, 1.4, 57))
    y = synthesize_notes(notes, n_samples=31 * SR)
    a, b = int(round(29.9 * SR)), int(round(1.0 * SR))
    n = int(0.4 * SR) + REL_N
    np.testing.assert_allclose(y[a:a + n], y[b:b + n], atol=1e-6)


def test_dense_chords_never_exceed_full_scale():
    # 12-note clusters at full velocity and 0 dB: the raw sum would reach about 12
    triples = [(t, t + 0.8, 48 + k) for t in (0.0, 0.5, 1.3) for k in range(12)]
    y = synthesize_notes(_notes(*triples, velocity=127), gain_db=0.0)
    assert np.max(np.abs(y)) <= 1.0
    assert np.max(np.abs(y)) <= sonify.CEILING + 1e-6
    assert np.max(np.abs(y)) > 0.9  # limited, not attenuated wholesale
    # ...and a quiet rendering is left exactly as it is (the limiter is transparent)
    quiet = synthesize_notes(_notes((0.0, 0.5, 60), (0.0, 0.5, 64)), gain_db=-20.0)
    r = sonify._Renderer(_notes((0.0, 0.5, 60), (0.0, 0.5, 64)), sr=SR, gain=10 ** (-1.0))
    raw = np.zeros(r.n_samples, dtype=np.float32)
    r.render_into(raw, 0)
    assert np.array_equal(quiet, raw)


def test_limiter_streaming_matches_the_ceiling_across_chunks():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(5 * SR) * np.repeat(rng.uniform(0.1, 3.0, 50), SR // 10)
         ).astype(np.float32)
    lim = sonify._PeakLimiter(sr=SR)
    parts = [lim.process(x[a:a + 7919]) for a in range(0, len(x), 7919)] + [lim.flush()]
    y = np.concatenate(parts)
    assert len(y) == len(x)
    assert np.max(np.abs(y)) <= sonify.CEILING + 1e-6
    quiet = np.abs(x) < 0.5 * sonify.CEILING  # gain only reduces, never amplifies
    assert np.all(np.abs(y) <= np.abs(x) + 1e-7)
    assert np.mean(y[quiet] == x[quiet]) > 0.05


def _write_tone(path, seconds: float, *, amp: float = 0.3, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = (amp * np.sin(2 * np.pi * 220.0 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.5 * t))
         ).astype(np.float32)
    sf.write(path, x, sr, subtype="FLOAT")
    return x


def test_mix_is_scaled_audio_plus_note_rendering(tmp_path):
    src = tmp_path / "tone.wav"
    x = _write_tone(src, 32.0)  # longer than one 30-s decoding block
    notes = _notes((0.5, 1.5, 69), (29.8, 30.4, 76), (31.7, 33.0, 60))  # the last runs past the end
    seen = []
    out = write_notes_mix(tmp_path / "mix.wav", src, notes, progress=seen.append)
    assert out == tmp_path / "mix.wav"
    y, sr = sf.read(out, dtype="float32")
    info = sf.info(out)
    assert sr == SR and info.subtype == "PCM_16" and info.channels == 1
    assert len(y) == len(x)
    diff = y - x * 10 ** (-3 / 20)
    rendering = synthesize_notes(notes, n_samples=len(x), gain_db=-6.0)
    assert np.max(np.abs(diff - rendering)) < 2.5 / 32767  # 16-bit quantisation
    assert np.max(np.abs(rendering)) > 0.1
    assert seen and seen[-1] == 1.0 and all(0 <= p <= 1 for p in seen)
    assert not list(tmp_path.glob(".*tmp"))  # temporary file renamed away

    # a region: same samples as the whole mix, starting at start_s
    part = write_notes_mix(tmp_path / "part.wav", src, notes, start_s=29.5, end_s=30.5)
    z, _ = sf.read(part, dtype="float32")
    a = int(round(29.5 * SR))
    assert len(z) == SR
    np.testing.assert_allclose(z, y[a:a + SR], atol=1.5 / 32767)
    # end beyond the track is clipped to it
    z2, _ = sf.read(write_notes_mix(tmp_path / "tail.wav", src, notes, start_s=31.0, end_s=99),
                    dtype="float32")
    assert len(z2) == len(x) - 31 * SR


def test_mix_of_a_loud_track_is_limited_not_clipped(tmp_path):
    src = tmp_path / "loud.wav"
    _write_tone(src, 3.0, amp=0.76)  # peaks at ~0.99
    chord = _notes(*[(0.2, 2.5, p) for p in (57, 60, 64, 67, 69)], velocity=127)
    y, _ = sf.read(write_notes_mix(tmp_path / "m.wav", src, chord, audio_gain_db=0.0,
                                   notes_gain_db=0.0), dtype="float32")
    assert np.max(np.abs(y)) <= sonify.CEILING + 1 / 32767
    assert np.max(np.abs(y)) > 0.9


def test_resampled_source_keeps_the_time_axis(tmp_path):
    src = tmp_path / "tone44.wav"
    x = _write_tone(src, 2.0, sr=44100)
    y, sr = sf.read(write_notes_mix(tmp_path / "m.wav", src, _notes((0.5, 1.0, 69))),
                    dtype="float32")
    assert sr == SR and len(y) == len(x) // 2


def test_missing_or_undecodable_audio_raises_audio_error(tmp_path):
    notes = _notes((0.0, 1.0, 60))
    missing = tmp_path / "nowhere.flac"
    with pytest.raises(AudioError) as e:
        write_notes_mix(tmp_path / "m.wav", missing, notes)
    assert str(missing) in str(e.value)
    bad = tmp_path / "notes.txt.wav"
    bad.write_text("this is not audio\n" * 20)
    with pytest.raises(AudioError) as e:
        write_notes_mix(tmp_path / "m.wav", bad, notes)
    assert str(bad) in str(e.value)
    assert not (tmp_path / "m.wav").exists()
    assert not list(tmp_path.glob(".*tmp"))


def test_unwritable_output_raises_audio_error_naming_it(tmp_path):
    src = tmp_path / "tone.wav"
    _write_tone(src, 1.0)
    target = tmp_path / "no_such_dir" / "m.wav"
    with pytest.raises(AudioError) as e:
        write_notes_mix(target, src, _notes((0.0, 0.5, 60)))
    assert str(target) in str(e.value)


def test_cancelling_through_progress_leaves_no_file(tmp_path):
    from workstation.core.errors import Cancelled

    src = tmp_path / "tone.wav"
    _write_tone(src, 31.0)

    def cancel(_fraction):
        raise Cancelled("stop")

    with pytest.raises(Cancelled):
        write_notes_mix(tmp_path / "m.wav", src, _notes((0.0, 0.5, 60)), progress=cancel)
    assert not (tmp_path / "m.wav").exists()
    assert not list(tmp_path.glob(".*tmp"))


def test_an_hour_of_dense_notes_renders_in_seconds():
    import time

    rng = np.random.default_rng(0)
    n = 6000  # a dense 20-minute transcription
    on = np.sort(rng.uniform(0, 1200, n))
    notes = Notes(onsets_s=on, offsets_s=on + rng.uniform(0.05, 1.0, n),
                  pitch_midi=rng.integers(36, 96, n), velocity=rng.integers(30, 127, n))
    t0 = time.perf_counter()
    y = synthesize_notes(notes)
    elapsed = time.perf_counter() - t0
    assert len(y) >= 1200 * SR - SR and np.max(np.abs(y)) <= 1.0
    print(f"20 minutes of dense notes rendered in {elapsed:.1f} s")  # speed: not asserted here
