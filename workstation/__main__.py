"""``workstation`` entry point: ``workstation gui [PATH]`` opens the desktop application,
every other command is the headless CLI (which never imports the GUI)."""

from __future__ import annotations

import sys


def _gui_args(argv: list[str]) -> list[str] | None:
    """The window's arguments when the command is ``gui``, the CLI's global options
    (``--library DIR``, ``-v``) before it included (``workstation --library D gui``); None
    for any other command."""
    i, lead = 0, []
    while i < len(argv):
        a = argv[i]
        if a in ("-v", "--verbose") or a.startswith("--library="):
            lead.append(a)
            i += 1
        elif a == "--library" and i + 1 < len(argv):
            lead += argv[i:i + 2]
            i += 2
        else:
            break
    return lead + argv[i + 1:] if i < len(argv) and argv[i] == "gui" else None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    gui_args = _gui_args(argv)
    if gui_args is not None:
        from workstation.gui.app import main as gui_main
        return gui_main(gui_args)
    from workstation.cli.main import main as cli_main
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
