"""The catalogue's SQLite schema and connections: numbered migrations (``PRAGMA
user_version``), WAL mode, foreign keys, a busy timeout."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from workstation.core.errors import LibraryError

log = logging.getLogger(__name__)

#: Schema migrations: MIGRATIONS[i] takes the schema from user_version i to i + 1.
#: Append, never edit a released one.
MIGRATIONS: list[list[str]] = [
    # 1: tracks and analyses
    [
        """CREATE TABLE tracks (
            id           INTEGER PRIMARY KEY,
            path         TEXT NOT NULL UNIQUE,
            content_hash TEXT,
            size         INTEGER,
            mtime        REAL,
            duration_s   REAL,
            sample_rate  INTEGER,
            channels     INTEGER,
            format       TEXT,
            title        TEXT,
            artist       TEXT,
            album        TEXT,
            year         INTEGER,
            genre        TEXT,
            status       TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'missing', 'error')),
            error        TEXT,
            added_at     REAL NOT NULL,
            updated_at   REAL NOT NULL
        )""",
        """CREATE TABLE analyses (
            content_hash TEXT NOT NULL,
            analyzer_id  TEXT NOT NULL,
            version      INTEGER NOT NULL,
            params_hash  TEXT NOT NULL,
            status       TEXT NOT NULL CHECK (status IN
                             ('pending', 'running', 'done', 'failed', 'cancelled')),
            error        TEXT,
            result_path  TEXT,
            progress     REAL NOT NULL DEFAULT 0,
            updated_at   REAL NOT NULL,
            PRIMARY KEY (content_hash, analyzer_id, version, params_hash)
        )""",
    ],
    # 2: run times, and indexes for lookups by hash and by status
    [
        "ALTER TABLE analyses ADD COLUMN elapsed_s REAL",
        "CREATE INDEX tracks_content_hash ON tracks (content_hash)",
        "CREATE INDEX tracks_status ON tracks (status)",
        "CREATE INDEX analyses_status ON analyses (analyzer_id, status)",
    ],
    # 3: tags a user gives tracks by hand (learned on the fly: workstation.analysis.tagging)
    [
        """CREATE TABLE user_tags (
            track_id INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
            tag      TEXT NOT NULL,
            added_at REAL NOT NULL,
            PRIMARY KEY (track_id, tag)
        )""",
        "CREATE INDEX user_tags_tag ON user_tags (tag)",
    ],
    # 4: the reference annotation file a user loaded for a track (the window reloads it)
    [
        """CREATE TABLE track_references (
            track_id INTEGER PRIMARY KEY REFERENCES tracks (id) ON DELETE CASCADE,
            path     TEXT NOT NULL,
            added_at REAL NOT NULL
        )""",
    ],
    # 5: how the user chose to read a reference that fits several formats
    ["ALTER TABLE track_references ADD COLUMN reading TEXT"],
    # 6: layers corrected by hand: the current revision of each edited layer of a track,
    # apart from the analysis (result: the layer as an .npz archive, see library.user_data)
    [
        """CREATE TABLE layer_edits (
            track_id  INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
            layer     TEXT NOT NULL,
            revision  INTEGER NOT NULL,
            result    BLOB NOT NULL,
            based_on  TEXT NOT NULL DEFAULT '',
            source    TEXT NOT NULL DEFAULT '',
            edited_at REAL NOT NULL,
            PRIMARY KEY (track_id, layer)
        )""",
    ],
    # 7: corrections belong to the recording (its content hash), like the analyses: removing
    # a track from the library keeps them, and scanning the file again brings them back
    [
        """CREATE TABLE layer_edits_v7 (
            content_hash TEXT NOT NULL,
            layer        TEXT NOT NULL,
            revision     INTEGER NOT NULL,
            result       BLOB NOT NULL,
            based_on     TEXT NOT NULL DEFAULT '',
            source       TEXT NOT NULL DEFAULT '',
            edited_at    REAL NOT NULL,
            PRIMARY KEY (content_hash, layer)
        )""",
        """INSERT OR REPLACE INTO layer_edits_v7
           SELECT t.content_hash, e.layer, e.revision, e.result, e.based_on, e.source, e.edited_at
           FROM layer_edits e JOIN tracks t ON t.id = e.track_id
           WHERE t.content_hash IS NOT NULL ORDER BY e.edited_at""",
        "DROP TABLE layer_edits",
        "ALTER TABLE layer_edits_v7 RENAME TO layer_edits",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the schema to ``target`` (one transaction per step, safe against a concurrent
    opener: the version is re-read under the write lock). Returns the final version."""
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise LibraryError(f"the library database has schema version {version}, newer "
                                   f"than this program knows ({SCHEMA_VERSION}); update the program")
            if version >= target:
                conn.execute("COMMIT")
                return version
            for stmt in MIGRATIONS[version]:
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
            log.info("library schema migrated to version %d", version + 1)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _wal(conn: sqlite3.Connection, wait_s: float = 30.0) -> str:
    """Switch to WAL; the switch answers 'database is locked' at once, without the busy
    timeout, while another process creates or switches the same new database (two runs
    started together), so it is retried for up to ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def connect(db_path: str | Path) -> sqlite3.Connection:
    """A configured connection: autocommit mode (transactions are explicit), WAL, foreign
    keys, 30 s busy timeout."""
    try:
        conn = sqlite3.connect(str(db_path), timeout=30.0, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        mode = _wal(conn)
        if str(mode).lower() != "wal":
            log.warning("%s: WAL mode unavailable (journal_mode=%s)", db_path, mode)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as e:
        raise LibraryError(f"{db_path}: cannot open the library database: {e}") from None
    return conn
