"""Writers and readers: MIDI (pretty_midi), JAMS, CSV, M3U. Imports only ``core`` (+ jams,
pretty_midi).

- ``write_jams`` / ``read_jams``: every layer in one schema-valid JAMS file.
- ``write_midi`` / ``read_midi`` / ``read_midi_beats``: notes with bends and a tempo map.
- ``write_csv`` / ``read_csv_layer``: one CSV per layer; ``read_annotation_file`` reads any
  annotation file (.jams, .mid, .csv, .lab, .txt, dataset formats); ``guess_layer``
  recognises headerless tables and refuses ambiguous ones.
- ``write_m3u`` / ``read_m3u``: extended M3U playlists.
"""

from .csv_io import read_annotation_file, read_csv_layer, write_csv
from .guess import guess_layer
from .jams_io import validate_document, write_jams
from .jams_read import read_jams
from .m3u import PlaylistEntry, read_m3u, write_m3u
from .midi import read_midi, read_midi_beats, write_midi

__all__ = [
    "PlaylistEntry", "guess_layer", "read_annotation_file", "read_csv_layer", "read_jams",
    "read_m3u", "read_midi", "read_midi_beats", "validate_document", "write_csv", "write_jams",
    "write_m3u", "write_midi",
]
