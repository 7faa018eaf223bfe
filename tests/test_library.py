"""The library: catalogue (scan, rescan, edit, move, delete, errors), migrations, analyses
state, threads, and the atomic result store."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import threading
import time

import mutagen
import numpy as np
import pytest
import soundfile as sf
from mutagen.id3 import TALB, TDRC, TIT2, TPE1

from badfiles import GOOD, make_bad_corpus, tone
from workstation.core.errors import LibraryError
from workstation.core.types import Key, Notes, PitchTrack, Salience
from workstation.library import (SCHEMA_VERSION, Library, ResultStore, content_hash, migrate,
                                 read_tags)
from workstation.library.store import TEMP_PREFIX


def set_done(lib, content_hash, analyzer_id, version, params_hash):
    """A 'done' analysis with a real (small) result file behind it, as the worker leaves it."""
    p = lib.store.save(content_hash, analyzer_id, version, params_hash, _notes())
    lib.set_analysis(content_hash, analyzer_id, version, params_hash, status="done", result_path=str(p))


def write_wav(path, seconds=1.0, sr=22050, freq=440.0, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds, sr, (freq,), seed=seed), sr, subtype="PCM_16")
    return path


@pytest.fixture
def lib(tmp_path):
    with Library.open(tmp_path / "lib") as lib:
        yield lib


@pytest.fixture
def music(tmp_path):
    d = tmp_path / "music"
    write_wav(d / "a.wav", 1.0, freq=440)
    write_wav(d / "sub" / "b.wav", 2.0, freq=330)
    write_wav(d / "sub" / "c.wav", 0.5, freq=220, sr=44100)
    (d / "notes.txt").write_text("not scanned: wrong extension")
    (d / ".hidden.wav").write_bytes(b"")
    return d


# -- catalogue ---------------------------------------------------------------------------------

def test_open_creates_wal_database(tmp_path):
    with Library.open(tmp_path / "L") as lib:
        assert (tmp_path / "L" / "library.sqlite").is_file()
        assert (tmp_path / "L" / "results").is_dir()
        c = lib._conn()
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert lib.schema_version() == SCHEMA_VERSION
    with pytest.raises(LibraryError, match="closed"):
        lib.tracks()


def test_scan_adds_files_with_metadata(lib, music):
    seen = []
    rep = lib.scan(music, progress=lambda i, n, p: seen.append((i, n)))
    assert len(rep.added) == 3 and not rep.failed and not rep.removed
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    tracks = {os.path.basename(t.path): t for t in lib.tracks()}
    assert set(tracks) == {"a.wav", "b.wav", "c.wav"}
    b = tracks["b.wav"]
    assert b.status == "ok" and b.title == "b" and b.format == "WAV"
    assert b.duration_s == pytest.approx(2.0) and b.sample_rate == 22050 and b.channels == 1
    assert b.content_hash == content_hash(music / "sub" / "b.wav") and len(b.content_hash) == 32
    assert b.size == (music / "sub" / "b.wav").stat().st_size
    assert lib.track(b.id) == b and lib.track_by_path(music / "sub" / "b.wav") == b
    assert tracks["c.wav"].sample_rate == 44100
    with pytest.raises(LibraryError, match="no track with id"):
        lib.track(9999)


def test_rescan_of_unchanged_folder_hashes_nothing(lib, music):
    lib.scan(music)
    rep = lib.scan(music)
    assert rep.n_hashed == 0
    assert len(rep.unchanged) == 3 and not (rep.added or rep.changed or rep.moved or rep.removed)


def test_touched_file_is_rehashed_but_unchanged(lib, music):
    lib.scan(music)
    a = lib.track_by_path(music / "a.wav")
    st = (music / "a.wav").stat()
    os.utime(music / "a.wav", (st.st_atime, st.st_mtime + 10))
    rep = lib.scan(music)
    assert rep.n_hashed == 1 and not rep.changed and len(rep.unchanged) == 3
    a2 = lib.track_by_path(music / "a.wav")
    assert a2.id == a.id and a2.content_hash == a.content_hash and a2.mtime == st.st_mtime + 10


def test_edited_file_is_changed(lib, music):
    lib.scan(music)
    a = lib.track_by_path(music / "a.wav")
    write_wav(music / "a.wav", 3.0, freq=550, seed=5)
    st = (music / "a.wav").stat()
    os.utime(music / "a.wav", (st.st_atime, st.st_mtime + 5))  # make sure mtime differs
    rep = lib.scan(music)
    assert rep.changed == [str((music / "a.wav").resolve())] and rep.n_hashed == 1
    a2 = lib.track_by_path(music / "a.wav")
    assert a2.id == a.id and a2.content_hash != a.content_hash
    assert a2.duration_s == pytest.approx(3.0)


def test_moved_file_keeps_id_and_results(lib, music):
    lib.scan(music)
    b = lib.track_by_path(music / "sub" / "b.wav")
    set_done(lib, b.content_hash, "key", 1, "p0")
    (music / "elsewhere").mkdir()
    os.replace(music / "sub" / "b.wav", music / "elsewhere" / "b_renamed.wav")
    rep = lib.scan(music)
    new = str((music / "elsewhere" / "b_renamed.wav").resolve())
    assert rep.moved == [(b.path, new)] and not rep.added and not rep.removed
    moved = lib.track(b.id)
    assert moved.path == new and moved.status == "ok" and moved.content_hash == b.content_hash
    assert lib.track_by_path(music / "sub" / "b.wav") is None
    assert len(lib.tracks()) == 3
    assert lib.pending([b.id], [("key", 1, "p0")]) == []


def test_deleted_file_is_missing_then_restored(lib, music):
    lib.scan(music)
    c = lib.track_by_path(music / "sub" / "c.wav")
    data = (music / "sub" / "c.wav").read_bytes()
    (music / "sub" / "c.wav").unlink()
    rep = lib.scan(music)
    assert rep.removed == [c.path]
    assert lib.track(c.id).status == "missing"
    assert [t.id for t in lib.tracks("missing")] == [c.id]
    rep = lib.scan(music)  # reported once
    assert not rep.removed and lib.track(c.id).status == "missing"
    assert lib.pending(None, [("key", 1, "p")]) and c.id not in [t.id for t, _ in lib.pending(None, [("key", 1, "p")])]
    (music / "sub" / "c.wav").write_bytes(data)
    rep = lib.scan(music)
    assert rep.changed == [c.path]
    assert lib.track(c.id).status == "ok"


def test_missing_file_found_at_a_new_path_in_a_later_scan(lib, music, tmp_path):
    lib.scan(music)
    a = lib.track_by_path(music / "a.wav")
    shutil.move(music / "a.wav", tmp_path / "a_away.wav")
    assert lib.scan(music).removed == [a.path]
    shutil.move(tmp_path / "a_away.wav", music / "sub" / "a_back.wav")
    rep = lib.scan(music)
    assert rep.moved == [(a.path, str((music / "sub" / "a_back.wav").resolve()))]
    assert lib.track(a.id).status == "ok"


def test_duplicate_file_shares_results(lib, music):
    lib.scan(music)
    shutil.copy2(music / "a.wav", music / "a_copy.wav")
    rep = lib.scan(music)
    assert rep.added == [str((music / "a_copy.wav").resolve())]
    a, dup = lib.track_by_path(music / "a.wav"), lib.track_by_path(music / "a_copy.wav")
    assert a.id != dup.id and a.content_hash == dup.content_hash
    todo = lib.pending(None, [("key", 1, "p")])
    assert len(todo) == 3 and a.id in [t.id for t, _ in todo]  # one entry per content
    assert len(lib.pending(None, [("key", 1, "p")], unique_content=False)) == 4
    set_done(lib, a.content_hash, "key", 1, "p")
    assert dup.id not in [t.id for t, _ in lib.pending(None, [("key", 1, "p")], unique_content=False)]


def test_unreadable_files_are_reported_and_the_scan_goes_on(lib, tmp_path):
    d = tmp_path / "corpus"
    kinds = make_bad_corpus(d)
    rep = lib.scan(d)
    failed = {os.path.basename(p): reason for p, reason in rep.failed}
    # header-level problems fail at scan; decoding problems (truncated, NaN, silence) are
    # found by the analysis
    assert set(failed) == {"zero_bytes.wav", "text_as.wav"}
    assert failed["zero_bytes.wav"] == "is empty (0 bytes)"
    assert failed["text_as.wav"].startswith("is not an audio file soundfile can read")
    goods = {n for n, k in kinds.items() if k == GOOD}
    added = {os.path.basename(p) for p in rep.added}
    assert goods <= added
    z = lib.track_by_path(d / "zero_bytes.wav")
    assert z.status == "error" and z.error == "is empty (0 bytes)" and z.title == "zero_bytes"
    assert z.id not in [t.id for t, _ in lib.pending(None, [("key", 1, "p")])]
    hires = lib.track_by_path(d / "hires_192k_8ch.wav")
    assert (hires.sample_rate, hires.channels) == (192000, 8)
    # rescanning reports them again without re-reading them
    rep2 = lib.scan(d)
    assert rep2.n_hashed == 0 and {os.path.basename(p) for p, _ in rep2.failed} == set(failed)
    # fixing the file brings it back
    write_wav(d / "zero_bytes.wav", 1.0)
    rep3 = lib.scan(d)
    assert [os.path.basename(p) for p in rep3.changed] == ["zero_bytes.wav"]
    assert lib.track(z.id).status == "ok" and lib.track(z.id).error is None


def test_tags_are_read(lib, tmp_path):
    d = tmp_path / "tagged"
    d.mkdir()
    sf.write(d / "t.flac", tone(1.0, 22050), 22050, format="FLAC")
    f = mutagen.File(d / "t.flac")
    f["title"], f["artist"], f["album"], f["date"], f["genre"] = "Aria", "Bach", "Goldberg", "1741-01-01", "Baroque"
    f.save()
    write_wav(d / "w.wav")
    w = mutagen.File(d / "w.wav")
    w.add_tags()
    for frame in (TIT2(encoding=3, text="Wave Song"), TPE1(encoding=3, text="Someone"),
                  TALB(encoding=3, text="Record"), TDRC(encoding=3, text="1999")):
        w.tags.add(frame)
    w.save()
    assert read_tags(d / "t.flac") == {"title": "Aria", "artist": "Bach", "album": "Goldberg",
                                       "year": 1741, "genre": "Baroque"}
    t = lib.add_file(d / "t.flac")
    assert (t.title, t.artist, t.year, t.genre) == ("Aria", "Bach", 1741, "Baroque")
    t2 = lib.add_file(d / "w.wav")
    assert (t2.title, t2.artist, t2.album, t2.year) == ("Wave Song", "Someone", "Record", 1999)
    assert lib.add_file(d / "w.wav").id == t2.id  # idempotent
    edited = lib.set_tags(t2.id, title="Corrected", year=2000)
    assert (edited.title, edited.year, edited.artist) == ("Corrected", 2000, "Someone")
    with pytest.raises(LibraryError, match="not editable"):
        lib.set_tags(t2.id, path="/x")


def test_scan_of_a_missing_folder(lib, tmp_path):
    with pytest.raises(LibraryError, match="not a folder"):
        lib.scan(tmp_path / "nope")


# -- migrations --------------------------------------------------------------------------------

def test_old_database_is_migrated(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    conn = sqlite3.connect(root / "library.sqlite", isolation_level=None)
    assert migrate(conn, target=1) == 1
    conn.execute("INSERT INTO tracks (path, content_hash, status, added_at, updated_at) "
                 "VALUES ('/music/x.wav', 'ab12', 'ok', 1.0, 1.0)")
    conn.execute("INSERT INTO analyses (content_hash, analyzer_id, version, params_hash, status, "
                 "updated_at) VALUES ('ab12', 'key', 1, 'p', 'done', 1.0)")
    cols = [r[1] for r in conn.execute("PRAGMA table_info(analyses)")]
    assert "elapsed_s" not in cols
    conn.close()
    with Library.open(root) as lib:
        assert lib.schema_version() == SCHEMA_VERSION >= 2
        cols = [r[1] for r in lib._conn().execute("PRAGMA table_info(analyses)")]
        assert "elapsed_s" in cols
        assert lib.tracks()[0].path == "/music/x.wav"
        rec = lib.get_analysis("ab12", "key", 1, "p")
        assert rec.status == "done" and rec.elapsed_s is None
        lib.set_analysis("ab12", "key", 1, "p", status="done", elapsed_s=2.5)
        assert lib.get_analysis("ab12", "key", 1, "p").elapsed_s == 2.5


def test_newer_database_is_refused(tmp_path):
    root = tmp_path / "new"
    Library.open(root).close()
    conn = sqlite3.connect(root / "library.sqlite")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LibraryError, match="newer than this program"):
        Library.open(root)


def test_corrupt_database_is_a_library_error(tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "library.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(LibraryError, match="library.sqlite"):
        Library.open(root)


# -- analyses ----------------------------------------------------------------------------------

def test_set_and_get_analysis(lib):
    assert lib.get_analysis("aa", "pitch.f0", 1, "p") is None
    r = lib.set_analysis("aa", "pitch.f0", 1, "p", status="running", progress=0.25)
    assert (r.status, r.progress, r.error) == ("running", 0.25, None)
    r = lib.set_analysis("aa", "pitch.f0", 1, "p", status="running")
    assert r.progress == 0.25  # kept
    r = lib.set_analysis("aa", "pitch.f0", 1, "p", status="failed", error="boom", elapsed_s=1.5)
    assert (r.status, r.error, r.elapsed_s) == ("failed", "boom", 1.5)
    r = lib.set_analysis("aa", "pitch.f0", 1, "p", status="done", result_path="r.npz")
    assert (r.status, r.error, r.progress, r.result_path, r.elapsed_s) == ("done", None, 1.0, "r.npz", 1.5)
    assert lib.get_analysis("aa", "pitch.f0", 2, "p") is None  # other version: other key
    assert [a.key for a in lib.analyses_for("aa")] == [("aa", "pitch.f0", 1, "p")]
    with pytest.raises(LibraryError, match="invalid analysis status"):
        lib.set_analysis("aa", "pitch.f0", 1, "p", status="finished")


def test_pending_status_summary_and_reset_running(lib, music):
    lib.scan(music)
    tracks = lib.tracks()
    an = [("pitch.f0", 1, "p1"), ("key", 2, "p2")]
    todo = lib.pending(None, an)
    assert [t.id for t, _ in todo] == [t.id for t in tracks]
    assert all(ids == ["pitch.f0", "key"] for _, ids in todo)
    t0, t1, t2 = tracks
    set_done(lib, t0.content_hash, "pitch.f0", 1, "p1")
    set_done(lib, t0.content_hash, "key", 2, "p2")
    lib.set_analysis(t1.content_hash, "pitch.f0", 1, "p1", status="running", progress=0.5)
    lib.set_analysis(t2.content_hash, "key", 2, "p2", status="failed", error="x")
    set_done(lib, t1.content_hash, "key", 1, "p2")  # old version: not counted
    todo = dict((t.id, ids) for t, ids in lib.pending(None, an))
    assert todo == {t1.id: ["pitch.f0", "key"], t2.id: ["pitch.f0", "key"]}
    assert dict((t.id, ids) for t, ids in lib.pending(None, an, include_failed=False)) == {
        t1.id: ["pitch.f0", "key"], t2.id: ["pitch.f0"]}
    assert dict((t.id, ids) for t, ids in lib.pending([t1.id, t0.id], an)) == {t1.id: ["pitch.f0", "key"]}
    s = lib.status_summary()
    assert s["tracks"] == {"ok": 3, "missing": 0, "error": 0}
    assert s["analyses"]["pitch.f0"]["done"] == 1 and s["analyses"]["pitch.f0"]["running"] == 1
    assert s["analyses"]["key"]["done"] == 2 and s["analyses"]["key"]["failed"] == 1
    # a crash leaves 'running' behind; resume turns it back into 'pending'
    assert lib.reset_running() == 1
    r = lib.get_analysis(t1.content_hash, "pitch.f0", 1, "p1")
    assert r.status == "pending" and r.progress == 0.0
    assert lib.status_summary()["analyses"]["pitch.f0"]["running"] == 0


def test_threads_write_through_their_own_connections(tmp_path):
    lib = Library.open(tmp_path / "T")
    conns, errors = [], []

    def work(tag):
        try:
            conns.append(id(lib._conn()))
            for i in range(100):
                h = f"{tag}{i:04x}"
                lib.set_analysis(h, "beats", 1, "p", status="running", progress=0.5)
                lib.set_analysis(h, "beats", 1, "p", status="done", elapsed_s=0.01)
        except Exception as e:  # noqa: BLE001 - reported to the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(tag,)) for tag in ("aa", "bb")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(set(conns)) == 2 and id(lib._conn()) not in conns
    assert lib.status_summary()["analyses"]["beats"]["done"] == 200
    lib.close()
    # a second Library on the same folder (as the worker process has) sees everything
    with Library.open(tmp_path / "T") as other:
        assert other.get_analysis("bb0063", "beats", 1, "p").status == "done"


# -- result store ------------------------------------------------------------------------------

HASH = "0123456789abcdef0123456789abcdef"


def _notes():
    return Notes(onsets_s=np.array([0.0, 0.5]), offsets_s=np.array([0.4, 1.0]),
                 pitch_midi=np.array([60, 64]), velocity=np.array([80, 90]),
                 confidence=np.array([0.9, 0.7]))


def test_store_round_trip(tmp_path):
    store = ResultStore(tmp_path / "results")
    sal = Salience(times_s=np.arange(5) * 0.01, freqs_hz=np.array([100.0, 200.0]),
                   values=np.random.default_rng(0).random((2, 5)).astype(np.float16))
    key = Key(tonic_pc=7, mode="minor", confidence=0.8, local_start_s=np.array([0.0, 10.0]),
              local_end_s=np.array([10.0, 20.0]), local_tonic_pc=np.array([7, 2]),
              local_mode=["minor", "major"], local_confidence=np.array([0.7, 0.6]))
    for aid, res in (("notes", _notes()), ("pitch.salience", sal), ("key", key)):
        p = store.save(HASH, aid, 3, "abc123", res)
        assert p == tmp_path / "results" / "01" / HASH / f"{aid}-v3-abc123.npz"
        assert p == store.path_for(HASH, aid, 3, "abc123") and store.exists(HASH, aid, 3, "abc123")
        back = store.load(HASH, aid, 3, "abc123")
        assert type(back) is type(res)
        for k, v in res.to_arrays().items():
            np.testing.assert_array_equal(back.to_arrays()[k], v)
    back = store.load(HASH, "pitch.salience", 3, "abc123")
    assert back.values.dtype == np.float16
    assert store.load(HASH, "key", 3, "abc123").local_mode == ["minor", "major"]
    assert store.load(HASH, "key", 4, "abc123") is None
    assert not list((tmp_path / "results").rglob(f"{TEMP_PREFIX}*"))


def test_store_overwrite_is_atomic_replacement(tmp_path):
    store = ResultStore(tmp_path)
    store.save(HASH, "notes", 1, "p", _notes())
    pt = PitchTrack(times_s=np.arange(3.0), freqs_hz=np.array([440.0, 0, 441]),
                    voiced=np.array([True, False, True]), confidence=np.array([1, 0, 0.5]))
    store.save(HASH, "notes", 1, "p", pt)
    assert isinstance(store.load(HASH, "notes", 1, "p"), PitchTrack)
    assert len(list(store.path_for(HASH, "notes", 1, "p").parent.iterdir())) == 1


def test_killed_write_is_never_read_as_good_data(tmp_path, caplog):
    store = ResultStore(tmp_path)
    good = store.save(HASH, "notes", 1, "p", _notes())
    data = good.read_bytes()
    # 1. a writer killed before the rename leaves a temp file: ignored, the old result stands
    tmp = good.parent / f"{TEMP_PREFIX}killed.npz"
    tmp.write_bytes(data[:len(data) // 2])
    assert isinstance(store.load(HASH, "notes", 1, "p"), Notes)
    # 2. a truncated file at the final path (e.g. written by a non-atomic tool): missing
    other = store.path_for(HASH, "notes", 2, "p")
    other.write_bytes(data[:len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="workstation.library.store"):
        assert store.load(HASH, "notes", 2, "p") is None
    assert "unreadable" in caplog.text and other.name in caplog.text
    # 3. a flipped byte inside the array data (CRC mismatch) and plain garbage: missing
    corrupt = bytearray(data)
    i = data.find(np.array([0.4, 1.0]).tobytes())  # the offsets_s values
    assert i > 0
    corrupt[i + 9] ^= 0x01
    store.path_for(HASH, "notes", 3, "p").write_bytes(bytes(corrupt))
    assert store.load(HASH, "notes", 3, "p") is None
    store.path_for(HASH, "notes", 4, "p").write_bytes(b"garbage")
    assert store.load(HASH, "notes", 4, "p") is None
    # 4. an archive missing required fields: missing
    np.savez(store.path_for(HASH, "notes", 5, "p"), __kind__=np.asarray("notes"),
             onsets_s=np.zeros(1))
    assert store.load(HASH, "notes", 5, "p") is None
    # stale temp files are cleaned, fresh ones (a writer may be running) are not
    assert store.remove_stale_temp(max_age_s=3600) == 0 and tmp.exists()
    old = time.time() - 7200
    os.utime(tmp, (old, old))
    assert store.remove_stale_temp(max_age_s=3600) == 1 and not tmp.exists()


def test_store_rejects_unsafe_keys(tmp_path):
    store = ResultStore(tmp_path)
    for bad in (("../etc", "notes", 1, "p"), (HASH, "a/b", 1, "p"), (HASH, "notes", 1, "../p"),
                (HASH, ".hidden", 1, "p")):
        with pytest.raises(LibraryError):
            store.path_for(*bad)


def test_library_exposes_its_store(lib):
    assert lib.store.root == lib.root / "results"
    p = lib.store.save(HASH, "notes", 1, "p", _notes())
    lib.set_analysis(HASH, "notes", 1, "p", status="done", result_path=str(p))
    rec = lib.get_analysis(HASH, "notes", 1, "p")
    assert isinstance(lib.store.load_path(rec.result_path), Notes)


def test_writer_killed_mid_save_leaves_no_partial_result(tmp_path):
    """A real process SIGKILLed while saving a large result: the final path holds either
    nothing or a complete result, never a partial one."""
    import signal
    import subprocess
    import sys
    code = (
        "import sys, numpy as np\n"
        "from workstation.core.types import Salience\n"
        "from workstation.library.store import ResultStore\n"
        "s = ResultStore(sys.argv[1])\n"
        "r = Salience(times_s=np.arange(40000) * 0.01, freqs_hz=np.arange(360.0),\n"
        "             values=np.ones((360, 40000), np.float32))\n"
        f"s.save('{HASH}', 'pitch.salience', 1, 'p', r)\n"
        "print('saved', flush=True)\n"
        "for v in range(2, 1000):\n"
        f"    s.save('{HASH}', 'pitch.salience', v, 'p', r)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"saved"
        time.sleep(0.1)  # most likely in the middle of a later save
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    store = ResultStore(tmp_path)
    folder = store.path_for(HASH, "pitch.salience", 1, "p").parent
    finals = [p for p in folder.iterdir() if not p.name.startswith(TEMP_PREFIX)]
    assert len(finals) >= 1
    for p in finals:
        v = int(p.name.split("-v")[1].split("-")[0])
        r = store.load(HASH, "pitch.salience", v, "p")
        assert r is not None and r.values.shape == (360, 40000) and float(r.values.min()) == 1.0
