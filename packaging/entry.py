"""The desktop bundle's entry point (packaging/workstation.spec): ``workstation ...`` as in a
source install. ``multiprocessing.freeze_support()`` comes first: the analysis worker is a
spawned process, and in the bundle ``sys.executable`` is this program, started again with
``--multiprocessing-fork`` (PyInstaller's multiprocessing hook makes ``freeze_support`` run
the worker and exit here on every platform), and likewise for multiprocessing's resource
tracker; nothing else is imported before it."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from workstation.__main__ import main
    sys.exit(main())
