"""``workstation layer``: layers corrected by hand, kept apart from the analysis.

    workstation layer set TRACK FILE --layer notes|beats|f0|key   store FILE's layer (a MIDI
                                       file corrected in MuseScore, a CSV, JAMS, ...) as the
                                       track's edited layer; every export then writes it
    workstation layer revert TRACK --layer L                     drop it (back to the analysis)
    workstation layer list [TRACK]                               the edited layers
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from workstation.core.errors import WorkstationError

from .common import _open_library, _resolve_track

#: Layer names on the command line -> analyzer ids.
LAYER_NAMES = {"notes": "notes", "beats": "beats", "f0": "pitch.f0", "key": "key"}


def _layer(args) -> str:
    if not args.layer:
        raise WorkstationError(f"layer {args.action} needs --layer ({'|'.join(LAYER_NAMES)})")
    return LAYER_NAMES[args.layer]


def _based_on(lib, track, layer: str) -> str:
    """The provenance text of the track's current analysis of ``layer`` ('' if none)."""
    from workstation.analysis.jobs import specs_for
    from workstation.analysis.results import load_results, provenance

    specs = specs_for([layer])    # with the layers it is made from, named in its provenance
    if layer not in load_results(lib, track, [s for s in specs if s.id == layer]):
        return ""
    return provenance(specs)[layer]["text"]


def _set(lib, args) -> int:
    from workstation.export import read_annotation_file

    if not args.file:
        raise WorkstationError("layer set needs a TRACK and a FILE")
    layer = _layer(args)
    track = _resolve_track(lib, args.track)
    read = read_annotation_file(args.file)
    if layer not in read:
        have = ", ".join(k for k in read) or "no layer"
        raise WorkstationError(f"{args.file}: has no {args.layer} layer (it has: {have})")
    revision = lib.set_edit(track.id, layer, read[layer], based_on=_based_on(lib, track, layer),
                            source=str(Path(args.file).expanduser().resolve()))
    if not args.quiet:
        print(f"{track.path}: {args.layer} set from {args.file} (revision {revision}); "
              "exports now write it")
    return 0


def _revert(lib, args) -> int:
    layer = _layer(args)
    track = _resolve_track(lib, args.track)
    if not lib.revert_edit(track.id, layer):
        raise WorkstationError(f"{track.path}: its {args.layer} layer was not edited")
    if not args.quiet:
        print(f"{track.path}: {args.layer} reverted to the analysis")
    return 0


def _list(lib, args) -> int:
    names = {v: k for k, v in LAYER_NAMES.items()}
    tracks = [_resolve_track(lib, args.track)] if args.track else [
        lib.track(tid) for tid in lib.edited_layers()]
    rows = 0
    for t in tracks:
        for layer, e in lib.edits(t.id).items():
            when = dt.datetime.fromtimestamp(e.edited_at).strftime("%Y-%m-%d %H:%M")
            print(f"{t.path}\t{names.get(layer, layer)}\trevision {e.revision}\t{when}\t"
                  f"{e.source or '-'}")
            rows += 1
    if not rows and not args.quiet:
        print("no edited layers" + (f" on {tracks[0].path}" if args.track else ""))
    return 0


def cmd_layer(args) -> int:
    with _open_library(args) as lib:
        if args.action == "list":
            return _list(lib, args)
        if not args.track:
            raise WorkstationError(f"layer {args.action} needs a TRACK (path or id)")
        return _set(lib, args) if args.action == "set" else _revert(lib, args)


def add_parser(sub) -> None:
    """The ``layer`` sub-command's arguments."""
    lp = sub.add_parser("layer", help="layers corrected by hand: set from a file, revert, list")
    lp.add_argument("action", choices=("set", "revert", "list"))
    lp.add_argument("track", nargs="?", help="a track path or id")
    lp.add_argument("file", nargs="?", help="set: the annotation file holding the corrected layer")
    lp.add_argument("--layer", choices=tuple(LAYER_NAMES), help="which layer")
    lp.add_argument("--quiet", action="store_true")
