"""``workstation`` entry point: ``workstation gui [PATH]`` opens the desktop application,
every other command is the headless CLI (which never imports the GUI)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "gui":
        from workstation.gui.app import main as gui_main
        return gui_main(argv[1:])
    from workstation.cli.main import main as cli_main
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
