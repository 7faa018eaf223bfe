"""Audio decoding: probe/stream/load on good and bad files, resampling lengths, bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from badfiles import GOOD, GOOD_DURATIONS_S, REASONS, make_bad_corpus, make_long_file, tone
from workstation.core import constants as C
from workstation.core.audio import expected_samples, load, probe, stream
from workstation.core.errors import AudioError

SR = C.SAMPLE_RATE


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("badcorpus")
    return d, make_bad_corpus(d)


def _bad(corpus):
    d, kinds = corpus
    return [(d / name, kind) for name, kind in sorted(kinds.items()) if kind != GOOD]


def test_corpus_has_every_kind(corpus):
    _, kinds = corpus
    assert set(REASONS) <= set(kinds.values())
    assert sum(k == GOOD for k in kinds.values()) >= 5


def test_bad_files_raise_one_clear_error(corpus):
    for path, kind in _bad(corpus):
        with pytest.raises(AudioError) as ei:
            load(path)
        msg = str(ei.value)
        assert path.name in msg, msg
        assert REASONS[kind] in msg, (path.name, msg)
        assert ei.value.path == str(path)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="does not exist") as ei:
        probe(tmp_path / "nope.wav")
    assert "nope.wav" in str(ei.value)
    with pytest.raises(AudioError, match="not a regular file"):
        probe(tmp_path)


def test_random_bytes_named_mp3(tmp_path):
    p = tmp_path / "noise_bytes.mp3"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioError, match="not an audio file soundfile can read") as ei:
        load(p)
    assert "noise_bytes.mp3" in str(ei.value)


def test_header_only_wav_has_no_frames(tmp_path):
    p = tmp_path / "header_only.wav"
    sf.write(p, np.zeros(0, dtype=np.float32), 44100)
    with pytest.raises(AudioError, match="no audio frames"):
        probe(p)


@pytest.mark.parametrize("sr", [1, 7, 999, 768_001, 4_000_000, 1_000_000_000])
def test_implausible_sample_rate_in_the_header_is_refused(tmp_path, sr):
    """A header saying 1 Hz made an 8 KB file an hour of work; 1e9 Hz made it 4 microseconds."""
    import struct
    data = (np.random.default_rng(0).standard_normal(4000) * 1000).astype("<i2").tobytes()
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, sr, (2 * sr) & 0xFFFFFFFF, 2, 16)
    p = tmp_path / f"rate_{sr}.wav"
    p.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + fmt + b"data"
                  + struct.pack("<I", len(data)) + data)
    with pytest.raises(AudioError, match=rf"implausible sample rate of {sr} Hz"):
        probe(p)


def test_absurd_sample_values_are_refused(tmp_path):
    """Finite but absurd float samples (1e30) made NaN salience and embeddings, reported ok."""
    x = tone(1.0, 22050)
    x[5000] = 1e30
    p = tmp_path / "huge.wav"
    sf.write(p, x, 22050, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"samples of magnitude 1e\+30 \(first at 0\.227 s\)"):
        load(p)


@pytest.mark.parametrize("fmt, subtype, sr", [("WAV", "PCM_16", 44100), ("WAV", "FLOAT", 44100),
                                              ("AIFF", "PCM_16", 44100), ("OGG", "VORBIS", 44100),
                                              ("OGG", "OPUS", 48000)])
@pytest.mark.parametrize("keep", [30000, 0.9])
def test_container_cut_short_is_reported(tmp_path, fmt, subtype, sr, keep):
    """libsndfile sizes WAV/AIFF by the bytes present and decodes a cut Ogg up to the cut: a
    30-s WAV cut at 30 kB used to be analysed as a 0.34-s track, 'done'."""
    p = tmp_path / f"x.{fmt.lower()}"
    sf.write(p, tone(30.0, sr), sr, format=fmt, subtype=subtype)
    assert probe(p).duration_s == pytest.approx(30.0, abs=0.1)       # whole: fine
    data = p.read_bytes()
    p.write_bytes(data[: keep if isinstance(keep, int) else int(len(data) * keep)])
    with pytest.raises(AudioError, match="is truncated or corrupt: its (data chunk|SSND chunk|last Ogg page)"):
        probe(p)


def test_flac_without_its_length_gets_the_true_reason(tmp_path):
    """A FLAC whose STREAMINFO says 0 samples (length unknown) was 'truncated ... of
    209146758205323 s'; the reason now says what the file is."""
    p = tmp_path / "live.flac"
    sf.write(p, tone(2.0, 44100), 44100)
    d = bytearray(p.read_bytes())
    v = int.from_bytes(d[18:26], "big") & ~((1 << 36) - 1)   # total samples: 36 low bits
    d[18:26] = v.to_bytes(8, "big")
    p.write_bytes(bytes(d))
    with pytest.raises(AudioError, match="does not state its length"):
        probe(p)


def test_truncated_mp3_is_reported(tmp_path):
    full = tmp_path / "full.mp3"
    sf.write(full, tone(4.0, 44100), 44100, format="MP3", subtype="MPEG_LAYER_III")
    cut = tmp_path / "cut.mp3"
    data = full.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(AudioError, match="is truncated or corrupt") as ei:
        load(cut)
    assert "cut.mp3" in str(ei.value)
    assert len(load(full)) == pytest.approx(4.0 * SR, abs=0.05 * SR)


def test_infinite_sample_is_reported(tmp_path):
    x = tone(0.5, 16000)
    x[-3] = np.inf
    p = tmp_path / "inf.wav"
    sf.write(p, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or infinite"):
        load(p)


def test_good_files_decode_to_the_right_duration(corpus):
    d, kinds = corpus
    for name, kind in kinds.items():
        if kind != GOOD:
            continue
        info = probe(d / name)
        y = load(d / name)
        assert y.dtype == np.float32 and y.ndim == 1
        assert np.isfinite(y).all()
        dur = GOOD_DURATIONS_S[name]
        assert info.duration_s == pytest.approx(dur, abs=0.08), name  # MP3 keeps encoder padding
        assert len(y) == pytest.approx(dur * SR, abs=0.08 * SR), name
        if info.format in ("WAV", "AIFF"):
            assert len(y) == expected_samples(info, SR) == round(dur * SR), name
        assert np.max(np.abs(y)) > 0.05, name


def test_hires_multichannel_probe_and_mixdown(corpus):
    d, _ = corpus
    info = probe(d / "hires_192k_8ch.wav")
    assert (info.sr, info.channels, info.n_frames) == (192000, 8, 3 * 192000)
    assert info.format == "WAV" and info.subtype == "PCM_24"
    y = load(d / "hires_192k_8ch.wav")
    # Mean of 8 channels with tones 110..880 Hz: each contributes amplitude 0.3 / 8.
    spec = np.abs(np.fft.rfft(y[SR // 2: SR // 2 + SR]))  # 1 s -> 1 Hz bins
    peaks = sorted(np.argsort(spec)[-8:])
    assert peaks == [110 * (c + 1) for c in range(8)]


@pytest.mark.parametrize("sr_in", [8000, 11025, 44100, 48000, 96000])
def test_resampling_preserves_a_sine(tmp_path, sr_in):
    f0 = 441.0
    x = 0.5 * np.sin(2 * np.pi * f0 * np.arange(int(1.5 * sr_in)) / sr_in)
    p = tmp_path / f"sine_{sr_in}.wav"
    sf.write(p, x, sr_in, subtype="FLOAT")
    info = probe(p)
    y = load(p)
    assert len(y) == expected_samples(info, SR)
    t = np.arange(len(y)) / SR
    ref = 0.5 * np.sin(2 * np.pi * f0 * t)
    mid = slice(SR // 4, len(y) - SR // 4)  # away from the filter's edges
    assert np.max(np.abs(y[mid] - ref[mid])) < 1e-3


def test_block_size_does_not_change_the_signal(tmp_path):
    p = tmp_path / "s.wav"
    sf.write(p, tone(3.0, 44100, (300.0, 1234.0)), 44100, subtype="FLOAT")
    a = np.concatenate(list(stream(p, block_s=0.37)))
    b = np.concatenate(list(stream(p, block_s=30.0)))
    assert len(a) == len(b) == expected_samples(probe(p), SR)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_stereo_is_mean_of_channels(tmp_path):
    sr = SR
    left = tone(1.0, sr, (300.0,))
    right = tone(1.0, sr, (500.0,), seed=3)
    p = tmp_path / "st.wav"
    sf.write(p, np.stack([left, right], axis=1), sr, subtype="FLOAT")
    np.testing.assert_allclose(load(p), (left + right) / 2, atol=1e-7)


def test_ten_minute_file_streams_in_bounded_memory(tmp_path):
    p = tmp_path / "long.wav"
    n = make_long_file(p, 10.0, sr=44100)
    info = probe(p)
    whole_bytes = expected_samples(info, SR) * 4  # the whole decoded file as float32: ~53 MB
    tracemalloc.start()
    try:
        total = 0
        biggest = 0
        for block in stream(p, block_s=10.0):
            total += len(block)
            biggest = max(biggest, block.nbytes)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.n_frames == n
    assert total == expected_samples(info, SR)
    assert biggest <= 10.5 * SR * 4  # soxr may hand a little more than one block at a time
    print(f"stream peak traced memory {peak / 1e6:.1f} MB, whole file {whole_bytes / 1e6:.0f} MB")
    assert peak < whole_bytes / 4, f"peak {peak / 1e6:.1f} MB for a {whole_bytes / 1e6:.0f} MB file"
