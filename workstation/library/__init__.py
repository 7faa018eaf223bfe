"""The collection: SQLite catalogue of tracks and analyses, result store on disk, scanning.

Imports core, sqlite3, mutagen (tags) and faiss (similarity index) only.
"""

from .catalog import ANALYSIS_STATUSES, TRACK_STATUSES, AnalysisRecord, Library, Track
from .schema import MIGRATIONS, SCHEMA_VERSION, migrate
from .user_data import EDITABLE_LAYERS, LayerEdit
from .scan import DEFAULT_EXTENSIONS, ScanReport, content_hash, read_tags, scan_folder
from .store import ResultStore

__all__ = [
    "ANALYSIS_STATUSES", "AnalysisRecord", "DEFAULT_EXTENSIONS", "EDITABLE_LAYERS", "LayerEdit",
    "Library", "MIGRATIONS",
    "ResultStore", "SCHEMA_VERSION", "ScanReport", "TRACK_STATUSES", "Track", "content_hash",
    "migrate", "read_tags", "scan_folder",
]
